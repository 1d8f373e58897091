//! Issue 18 (hostile input, stale results): experiment validation, path-part names, `--set`
//! errors, the resume check against the settings on disk, and stale temporaries.
use iw_run::Experiment;
use iw_run::{check_settings, config_hash, RunDir, Stage};
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load_err(f: &Path, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    format!("{:#}", Experiment::load(f, &sets).expect_err("must be refused"))
}

#[test]
fn r18_numeric_keys_are_validated_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "e.yaml", "loss:\n  name: dl\n");
    for (set, key) in [
        ("dataset.window=[300,-300]", "dataset.window[1]"),
        ("dataset.window=[0,0]", "dataset.window[1]"),
        ("dataset.window=[.nan,300]", "dataset.window[0]"),
        ("training.threads=0", "training.threads"),
        ("training.lr=0", "training.lr"),
        ("training.lr=-0.1", "training.lr"),
        ("training.lr=.inf", "training.lr"),
        ("training.momentum=-0.5", "training.momentum"),
        ("training.momentum=1", "training.momentum"),
        ("training.lr_gamma=0", "training.lr_gamma"),
        ("training.clip_grad_norm=0", "training.clip_grad_norm"),
        ("inference.divisor=0", "inference.divisor"),
        ("inference.stride=[200,144,144]", "inference.stride[0]"),
        ("model.width=0", "model.width"),
        ("model.depth=0", "model.depth"),
        ("loss.w_min=0", "loss.w_min"),
        ("loss.w_max=0.5", "loss.w_max"),
        ("loss.focal_alpha=2", "loss.focal_alpha"),
        ("sampler.workers=0", "sampler.workers"),
        ("sampler.queue=0", "sampler.queue"),
        ("training.batch=0", "training.batch"),
        ("training.epochs=0", "training.epochs"),
        ("evaluation.small_below=-1", "evaluation.small_below"),
    ] {
        let e = load_err(&f, &[set]);
        assert!(e.contains("e.yaml") && e.contains(&format!("{key} = ")) && e.contains("must be"), "{set}: {e}");
    }
    // The table's edges are accepted.
    let fine = ["training.threads=1", "training.momentum=0", "dataset.window=[-1000,-999]", "dataset.window=null"];
    Experiment::load(&f, &fine.map(String::from)).unwrap();
    // A key in a file (not --set) names the key too.
    let g = write(dir.path(), "g.yaml", "training:\n  lr: -1\n");
    assert!(load_err(&g, &[]).contains("training.lr = -1: must be in (0, 10]"));
}

#[test]
fn r18_names_that_become_path_parts_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "e.yaml", "loss:\n  name: dl\n");
    for (set, key) in [
        ("dataset.name=../../escape2", "dataset.name"),
        ("dataset.name=a/b", "dataset.name"),
        ("dataset.name=''", "dataset.name"),
        ("dataset.name=.hidden", "dataset.name"),
        ("dataset.name=..", "dataset.name"),
        ("name=../x", "name"),
        ("name=a\\b", "name"),
    ] {
        let e = load_err(&f, &[set]);
        assert!(e.contains(&format!("{key} = ")) && e.contains("plain folder name"), "{set}: {e}");
    }
    let e = Experiment::load(&f, &["dataset.name=lits-2".into(), "name=iw_dl.v2".into()]).unwrap();
    assert_eq!((e.dataset.name.as_str(), e.method().as_str()), ("lits-2", "iw_dl.v2"));
}

#[test]
fn r18_set_with_a_wrong_type_names_the_key_and_the_type() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "e.yaml", "loss:\n  name: dl\n");
    let e = load_err(&f, &["training.batch=abc"]);
    assert!(e.contains("--set training.batch=abc") && e.contains("expected usize"), "{e}");
    let e = load_err(&f, &["training.epocs=3"]);
    assert!(e.contains("--set training.epocs=3") && e.contains("unknown field `epocs`"), "{e}");
    let e = load_err(&f, &["training.patch=[1,2]"]);
    assert!(e.contains("--set training.patch=[1,2]"), "{e}");
}

fn exp_with(dir: &Path, sets: &[&str]) -> Experiment {
    let f = write(dir, "e.yaml", "loss:\n  name: dl\n");
    Experiment::load(&f, &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn r18_config_hash_ignores_only_speed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let base = config_hash(&exp_with(dir.path(), &[]));
    assert_eq!(base.len(), 64);
    for same in ["training.threads=3", "training.device=cpu", "sampler.workers=7", "sampler.queue=9"] {
        assert_eq!(config_hash(&exp_with(dir.path(), &[same])), base, "{same}");
    }
    for other in ["training.lr=0.5", "training.seed=1", "inference.mirror=true", "dataset.window=null"] {
        assert_ne!(config_hash(&exp_with(dir.path(), &[other])), base, "{other}");
    }
}

#[test]
fn r18_a_stage_refuses_outputs_made_with_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let old = exp_with(dir.path(), &[]);
    // No outputs: anything goes.
    check_settings(&RunDir::new(&run), &exp_with(dir.path(), &["training.lr=0.5"]), Stage::Train).unwrap();
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    std::fs::write(run.join("checkpoints/final.safetensors"), b"x").unwrap();
    std::fs::write(run.join("config.yaml"), old.to_yaml()).unwrap();
    check_settings(&RunDir::new(&run), &exp_with(dir.path(), &["training.threads=2"]), Stage::Evaluate).unwrap();
    let new = exp_with(dir.path(), &["training.lr=0.5", "training.epochs=7"]);
    let e = format!("{:#}", check_settings(&RunDir::new(&run), &new, Stage::Train).unwrap_err());
    assert!(e.contains("training.lr: 0.01 -> 0.5") && e.contains("training.epochs: 100 -> 7"), "{e}");
    assert!(e.contains("--restart"), "{e}");
    // Inference keys: training may be reused, predictions may not.
    let inf = exp_with(dir.path(), &["inference.mirror=true"]);
    check_settings(&RunDir::new(&run), &inf, Stage::Train).unwrap();
    let e = format!("{:#}", check_settings(&RunDir::new(&run), &inf, Stage::Predict).unwrap_err());
    assert!(e.contains("inference.mirror: false -> true"), "{e}");
    // Outputs without a readable config.yaml are not reused either.
    std::fs::remove_file(run.join("config.yaml")).unwrap();
    let e = format!("{:#}", check_settings(&RunDir::new(&run), &old, Stage::Train).unwrap_err());
    assert!(e.contains("config.yaml") && e.contains("--restart"), "{e}");
}

#[test]
fn r18_stale_temporaries_of_dead_writers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    // A process that has exited: its pid names no /proc entry (while it is not reused).
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = write(dir.path(), &format!(".iwtmp-{dead}-0.nii.gz"), "half");
    let mine = write(dir.path(), &format!(".iwtmp-{}-0.json", std::process::id()), "in progress");
    let other = write(dir.path(), "keep.nii.gz", "data");
    if Path::new(&format!("/proc/{dead}")).exists() {
        eprintln!("skipped: pid {dead} was reused at once");
        return;
    }
    assert_eq!(iw_core::remove_stale_temporaries(dir.path()), 1);
    assert!(!stale.exists() && mine.exists() && other.exists());
}

fn iw(args: &[&str]) -> std::process::Output {
    iw_test_support::cli::Iw::new(env!("CARGO_BIN_EXE_iw")).run(args)
}

/// The reproduction: a run, then the same run with other settings, must not skip every
/// stage and rewrite config.yaml; `--restart` starts afresh.
#[test]
fn r18_cli_run_with_changed_settings_exits_2_and_keeps_config() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "e.yaml", "loss:\n  name: dl\ndataset:\n  name: toy\n  prepared: nowhere\n");
    let out = dir.path().join("R");
    let run = out.join("toy/dl/experiment_0");
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    let exp = Experiment::load(&f, &[]).unwrap();
    std::fs::write(run.join("config.yaml"), exp.to_yaml()).unwrap();
    std::fs::write(run.join("checkpoints/final.safetensors"), b"x").unwrap();
    let (fs, os) = (f.to_str().unwrap(), out.to_str().unwrap());
    let o = iw(&["run", fs, "--set", "training.lr=0.5", "--set", "training.epochs=7", "--out", os]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("training.lr: 0.01 -> 0.5") && err.contains("training.epochs: 100 -> 7"), "{err}");
    assert_eq!(std::fs::read_to_string(run.join("config.yaml")).unwrap(), exp.to_yaml(), "config.yaml kept");
    // --restart removes the old outputs (then fails on the missing data, having written the new config).
    let o = iw(&["train", fs, "--set", "training.lr=0.5", "--restart", "--out", os]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!run.join("checkpoints/final.safetensors").exists());
    // An escaping dataset name is refused before anything is written.
    let o = iw(&["train", fs, "--set", "dataset.name=../../escape2", "--out", os]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code() == Some(2) && err.contains("dataset.name"), "{err}");
    assert!(!dir.path().join("escape2").exists() && !dir.path().parent().unwrap().join("escape2").exists());
}

/// `iw records gt.nii p.nii --out gt.nii` and the other spellings of an input (`./`, `d/../`,
/// links) are refused with exit 2, the input untouched.
#[test]
fn r18_cli_outputs_never_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut mask = ndarray::Array3::<u8>::zeros((4, 5, 6));
    mask[[1, 2, 3]] = 1;
    let gt = d.join("gt.nii");
    iw_io::write_volume(&gt, &iw_core::Volume::new(mask, iw_core::Geometry::default())).unwrap();
    let before = std::fs::read(&gt).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::os::unix::fs::symlink(&gt, d.join("link.nii")).unwrap();
    std::fs::hard_link(&gt, d.join("hard.nii")).unwrap();
    let gts = gt.to_str().unwrap();
    for out in ["gt.nii", "./gt.nii", "sub/../gt.nii", "link.nii", "hard.nii"] {
        let o = Command::new(env!("CARGO_BIN_EXE_iw"))
            .current_dir(d)
            .args(["records", "gt.nii", "gt.nii", "--out", out])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.code() == Some(2) && err.contains("the output is the input"), "{out}: {err}");
        for tool in [vec!["label", gts, out], vec!["weights", gts, out]] {
            let o = Command::new(env!("CARGO_BIN_EXE_iw")).current_dir(d).args(&tool).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.code() == Some(2) && err.contains("the output is the input"), "{tool:?}: {err}");
        }
    }
    assert_eq!(std::fs::read(&gt).unwrap(), before, "the ground truth is untouched");
}

fn write_f32(path: &Path, values: &[f32]) {
    let arr = ndarray::Array3::from_shape_vec((2, 2, 2), values.to_vec()).unwrap();
    iw_io::write_volume(path, &iw_core::Volume::new(arr, iw_core::Geometry::default())).unwrap();
}

/// The mask rule: a NaN or infinite voxel in a mask is an error naming the file, for `label`,
/// `weights` and `records` alike (before, `label` called it lesion and `records` background).
#[test]
fn r18_cli_non_finite_mask_voxels_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prob = d.join("p.nii");
    write_f32(&prob, &[0.0; 8]);
    for (name, bad) in [("nan.nii", f32::NAN), ("inf.nii", f32::INFINITY)] {
        let m = d.join(name);
        write_f32(&m, &[0.0, 1.0, 0.0, 0.0, bad, 0.0, 0.0, 0.0]);
        let (ms, ps) = (m.to_str().unwrap(), prob.to_str().unwrap());
        let out = d.join("out.nii.gz");
        let outs = out.to_str().unwrap();
        for args in [
            vec!["label", ms, outs],
            vec!["weights", ms, outs],
            vec!["records", ms, ps, "--out", d.join("r.json").to_str().unwrap()],
        ] {
            let o = iw(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.code() == Some(2) && err.contains(name) && err.contains("non-finite"), "{args:?}: {err}");
            assert!(!out.exists() && !d.join("r.json").exists(), "{args:?}: nothing written");
        }
    }
}

/// An all-NaN image is rejected at preparation naming the input (not written as `null` into
/// case.json, which broke every rerun).
#[test]
fn r18_prepare_rejects_non_finite_intensities_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (img, seg) = (d.join("volume-0.nii"), d.join("segmentation-0.nii"));
    write_f32(&img, &[f32::NAN; 8]);
    write_f32(&seg, &[1.0; 8]);
    let raw = iw_data::lits::RawCase { volume: img.clone(), segmentation: seg.clone() };
    let e = iw_data::lits::prepare_case(&d.join("cases"), "0", &raw).unwrap_err().to_string();
    assert!(e.contains("volume-0.nii") && e.contains("non-finite"), "{e}");
    assert!(!d.join("cases/0").exists());
    write_f32(&img, &[0.0; 8]);
    write_f32(&seg, &[1.0, 2.0, f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let e = iw_data::lits::prepare_case(&d.join("cases"), "0", &raw).unwrap_err().to_string();
    assert!(e.contains("segmentation-0.nii") && e.contains("mask"), "{e}");
}

/// A case.json that cannot be read names itself and says what to do.
#[test]
fn r18_a_corrupt_case_json_names_itself_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("cases/7");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("case.json"), "{\"shape_zyx\": null}").unwrap();
    let e = iw_data::prepared::PreparedCase::open(&dir.path().join("cases"), "7").err().unwrap().to_string();
    assert!(e.contains("case.json") && e.contains("delete") && e.contains("iw prepare"), "{e}");
}
