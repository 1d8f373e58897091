//! Issue 18, the second half: work that cannot fit is refused with an estimate before anything
//! is allocated (a 512^3 training patch, `iw synth --shape 100000,...`), Ctrl-C stops `iw synth`
//! and `iw prepare` at a case boundary with exit 130 and a rerun finishes the same bytes, a
//! MetaImage output never overwrites an input's data file, `iw synth` never writes into a
//! foreign folder, and a missing folder is said once.
use iw_test_support::cli::{stderr, Iw};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn iw() -> Iw {
    Iw::new(env!("CARGO_BIN_EXE_iw"))
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    iw().run(args)
}

/// The smallest address-space limit (on a coarse grid) under which iw starts and reads a tiny
/// volume, plus `headroom_mib`.
fn limit_kib(headroom_mib: u64) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.nii");
    let v = iw_core::Volume::new(ndarray::Array3::<u8>::zeros((2, 2, 2)), iw_core::Geometry::default());
    iw_io::write_volume(&tiny, &v).unwrap();
    limit_kib_for(&["info", tiny.to_str().unwrap()], headroom_mib)
}

/// The smallest address-space limit (on a coarse grid, 256 MiB at least) under which
/// `iw PROBE...` succeeds, plus `headroom_mib` (`iw` itself needs little; `iw-torch`, which `iw`
/// hands training to, maps libtorch).
fn limit_kib_for(probe: &[&str], headroom_mib: u64) -> u64 {
    iw().smallest_limit_kib(probe).max(256 * 1024) + headroom_mib * 1024
}

fn assert_one_line_exit_2(o: &Output, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit {:?}: {e}", o.status);
    assert_eq!(e.lines().count(), 1, "one line expected: {e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
}

// See: issue 18, "`iw synth lits --shape 100000,100000,100000` (and `2000,2000,1000`) the same".
#[test]
fn r18_synth_shapes_nifti_cannot_store_or_memory_cannot_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = run(&["synth", "lits", "--out", out.to_str().unwrap(), "--shape", "100000,100000,100000"]);
    assert_one_line_exit_2(&o, &["--shape 100000,100000,100000", "32767"]);
    // 2000 x 2000 x 1000 fits NIfTI but not memory: refused with the estimate, under a limit that
    // makes the test independent of this machine's RAM.
    let o = iw().run_limited(
        &["synth", "lits", "--out", out.to_str().unwrap(), "--shape", "2000,2000,1000", "--threads", "1"],
        limit_kib(1024),
    );
    assert_one_line_exit_2(&o, &["--shape 2000,2000,1000", "needs about", "available"]);
    assert!(!out.exists(), "nothing may be written before the refusal");
    // luna16's generator has its own shape.
    let o = run(&["synth", "luna16", "--out", out.to_str().unwrap(), "--shape", "64,64,40000"]);
    assert_one_line_exit_2(&o, &["--shape 64,64,40000", "32767"]);
}

// See: issue 18, "A patch of 512^3 on a small dataset grew to 23.5 GB and was killed by the kernel".
#[test]
fn r18_a_training_patch_that_cannot_fit_is_refused_with_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = iw()
        .command()
        .current_dir(&repo)
        .args(["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let prepared = format!("dataset.prepared={}", work.join("lits-synth-smoke/prepared").display());
    let exp = repo.join("experiments/lits/bce.yaml");
    let overlay = repo.join("experiments/scales/smoke.yaml");
    let out = dir.path().join("runs");
    let args = [
        "train",
        exp.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
        "--set",
        &prepared,
        "--set",
        "training.patch=[512,512,512]",
        "--out",
        out.to_str().unwrap(),
    ];
    // `model summary` loads libtorch in iw-torch, as training does.
    let probe = ["model", "summary", "--width", "0.25", "--depth", "2", "--patch", "8,8,8"];
    let o = iw().run_limited(&args, limit_kib_for(&probe, 2048));
    assert_one_line_exit_2(&o, &["training.patch [512, 512, 512] x training.batch 2", "needs about", "GiB"]);
    let ck: Vec<PathBuf> =
        walk(&out).into_iter().filter(|p| p.extension().is_some_and(|e| e == "safetensors")).collect();
    assert!(ck.is_empty(), "no checkpoint may be written: {ck:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Every file under `dir` (relative path, bytes).
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    walk(dir).into_iter().map(|p| (p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap())).collect()
}

/// Starts `iw ARGS`, waits until `ready` holds (or the process ends), sends SIGINT to its PID
/// and returns its output.
fn interrupt_when<S: AsRef<std::ffi::OsStr>>(args: &[S], ready: impl Fn() -> bool) -> Output {
    let child = iw().command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    while !ready() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on the PID of our own child, not yet waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    child.wait_with_output().unwrap()
}

// See: issue 18, "Ctrl-C ignored by `synth` (prints 'writing a checkpoint after this step', then
// finishes with exit 0)".
#[test]
fn r18_ctrl_c_stops_synth_and_prepare_with_130_and_a_rerun_finishes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let synth = |out: &Path| {
        vec![
            "synth".to_string(),
            "lits".into(),
            "--out".into(),
            out.display().to_string(),
            "--cases".into(),
            "24".into(),
            "--shape".into(),
            "128,128,64".into(),
            "--threads".into(),
            "1".into(),
        ]
    };
    let o = interrupt_when(&synth(&a), || a.join("segmentation-0.nii").exists());
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(e.lines().last().unwrap().starts_with("iw: interrupted: synth lits: "), "{e}");
    assert!(e.contains("of 24 cases written") && e.contains("rerun the same command"), "{e}");
    assert!(!a.join("synthetic.json").exists(), "an interrupted synth must not claim to be complete");
    assert!(run(&synth(&a)).status.success());
    assert!(run(&synth(&b)).status.success());
    assert_eq!(contents(&a), contents(&b), "interrupted + resumed synth differs from an uninterrupted one");

    // prepare: stopped after its first case, resumed, equal to an uninterrupted preparation.
    let (pa, pb) = (dir.path().join("pa"), dir.path().join("pb"));
    let prep = |out: &Path| {
        vec![
            "prepare".to_string(),
            "lits".into(),
            "--raw".into(),
            a.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let o = interrupt_when(&prep(&pa), || pa.join("cases/0/case.json").exists());
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(e.contains("iw: interrupted: ") && e.contains("cases prepared into"), "{e}");
    let out = run(&prep(&pa));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run(&prep(&pb)).status.success());
    let strip = |v: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        // dataset.json records the folders it was prepared from and into.
        v.into_iter().filter(|(p, _)| p.starts_with("cases")).collect()
    };
    let (ca, cb) = (strip(contents(&pa)), strip(contents(&pb)));
    assert!(ca.len() >= 24 * 4, "{} files", ca.len());
    assert_eq!(ca, cb, "interrupted + resumed preparation differs");
    assert!(walk(&pa).iter().all(|p| !p.to_string_lossy().contains(".iwtmp-")), "temporaries left");
}

// See: issue 18, "Writes stay inside their output".
#[test]
fn r18_synth_never_writes_into_a_foreign_folder() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("my-lits");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("volume-0.nii"), b"the user's own scan").unwrap();
    let o = run(&["synth", "lits", "--out", real.to_str().unwrap(), "--cases", "2", "--shape", "32,32,16"]);
    assert_one_line_exit_2(&o, &["my-lits", "not written by `iw synth`"]);
    assert_eq!(std::fs::read(real.join("volume-0.nii")).unwrap(), b"the user's own scan");
    assert!(!real.join("synthetic.json").exists() && !real.join("manifest.yaml").exists());
    // An empty folder, or one of an earlier synth, is fine.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    for _ in 0..2 {
        let o = run(&["synth", "lits", "--out", mine.to_str().unwrap(), "--cases", "2", "--shape", "32,32,16"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // A file where the folder should be.
    let o = run(&["synth", "lits", "--out", real.join("volume-0.nii").to_str().unwrap(), "--cases", "2"]);
    assert_one_line_exit_2(&o, &["not a folder"]);
}

// See: issue 18, the output==input guard "compare canonical paths / file identity everywhere an
// output is written": a MetaImage output writes a second file.
#[test]
fn r18_a_metaimage_output_never_overwrites_an_input_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ndarray::Array3::<u8>::zeros((4, 4, 4));
    m[[1, 1, 1]] = 1;
    iw_io::write_volume(dir.path().join("a.mhd"), &iw_core::Volume::new(m, iw_core::Geometry::default())).unwrap();
    // in.mhd: a.mhd's header, its voxels in b.raw.
    let header = std::fs::read_to_string(dir.path().join("a.mhd")).unwrap().replace("a.raw", "b.raw");
    std::fs::write(dir.path().join("in.mhd"), header).unwrap();
    std::fs::rename(dir.path().join("a.raw"), dir.path().join("b.raw")).unwrap();
    let before = std::fs::read(dir.path().join("b.raw")).unwrap();
    let input = dir.path().join("in.mhd");
    for tool in ["label", "weights"] {
        let o = run(&[tool, input.to_str().unwrap(), dir.path().join("b.mhd").to_str().unwrap()]);
        assert_one_line_exit_2(&o, &["b.mhd", "b.raw", "would overwrite"]);
        assert_eq!(std::fs::read(dir.path().join("b.raw")).unwrap(), before, "{tool} overwrote the input's data");
    }
    let ok = run(&["label", input.to_str().unwrap(), dir.path().join("c.mhd").to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}

// See: issue 18, "'No such file or directory' printed twice" (iw-metrics' and iw-data's errors).
#[test]
fn r18_a_missing_folder_is_said_once() {
    for args in [
        vec!["report", "/nonexistent/r18-runs"],
        vec!["prepare", "lits", "--raw", "/nonexistent/r18", "--out", "/tmp/r18-never"],
    ] {
        let o = run(&args);
        let e = stderr(&o).to_ascii_lowercase();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.matches("no such file").count() <= 1, "{args:?}: said twice: {e}");
    }
}
