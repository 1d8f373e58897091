//! Issue 27, whole-volume validation end to end on tiny runs of the smoke data: the columns of
//! `validation_log.csv` filled on the configured epochs only, their values equal to scipy's
//! recomputation from `iw predict`'s saved prediction, TensorBoard equal to the CSV, the rows of
//! an interrupted run kept byte for byte by its resume, and a bad `training.validate_every`
//! refused in one line.
use iw_test_support::cli::{ok, Iw};
use iw_test_support::{python, repo_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn iw(args: &[String]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).in_repo().run(args)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const HEADER: &str = "epoch,step,loss,dice,volume_dice,fp_per_case,volume_ratio";

/// The smoke data (two cases: case 1 trains, case 0 tests), with case 0 as the validation case
/// instead.
fn prepared(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    ok(&iw(&strings(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()])));
    let prepared = dir.join("prepared");
    let st = Command::new("cp").arg("-r").arg(work.join("lits-synth-smoke/prepared")).arg(&prepared).status().unwrap();
    assert!(st.success());
    let m = std::fs::read_to_string(prepared.join("manifest.yaml")).unwrap();
    assert!(m.contains("validation: []") && m.contains("test:\n  - 0"), "the smoke split changed:\n{m}");
    case_0_validates(&prepared, true);
    prepared
}

/// Case 0 in the validation part (`true`) or the test part of the split (a case may be in one).
fn case_0_validates(prepared: &Path, validates: bool) {
    let path = prepared.join("manifest.yaml");
    let (v, t) = (("validation: []", "validation:\n  - 0"), ("test:\n  - 0", "test: []"));
    let m = std::fs::read_to_string(&path).unwrap();
    let m = if validates { m.replace(v.0, v.1).replace(t.0, t.1) } else { m.replace(v.1, v.0).replace(t.1, t.0) };
    std::fs::write(&path, m).unwrap();
}

/// `iw <command>` of dl at the smoke scale on `prepared`, into `runs`.
fn stage(command: &str, prepared: &Path, runs: &Path, sets: &[&str]) -> Vec<String> {
    let mut a = strings(&[command, "experiments/lits/dl.yaml", "--overlay", "experiments/scales/smoke.yaml"]);
    let prep = format!("dataset.prepared={}", prepared.display());
    for s in [prep.as_str(), "training.lr_milestones=[3]", "training.threads=1"].iter().chain(sets) {
        a.push("--set".into());
        a.push(s.to_string());
    }
    a.extend(strings(&["--out", runs.to_str().unwrap()]));
    a
}

/// The data rows of a validation log, split into cells.
fn rows(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER), "{text}");
    lines.map(|l| l.split(',').map(String::from).collect()).collect()
}

/// scipy's whole-volume scores of one case: P = prob > 0.5 from the NIfTI `iw predict` wrote,
/// G from the prepared mask (C order, z y x), false positives = 26-connected components of P
/// (scipy.ndimage.label with a 3x3x3 structure) that touch no voxel of G.
const SCORES: &str = r#"
import json, sys
import nibabel as nib, numpy as np
from scipy import ndimage
prob, case = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{case}/case.json"))
shape = tuple(meta["shape_zyx"])
g = np.fromfile(f"{case}/mask.u8", dtype=np.uint8).reshape(shape) > 0
# NIfTI stores x fastest: nibabel's array is [x, y, z].
p = np.asarray(nib.load(prob).dataobj).transpose(2, 1, 0) > 0.5
assert p.shape == g.shape, (p.shape, g.shape)
lab, n = ndimage.label(p, structure=np.ones((3, 3, 3)))
touching = set(np.unique(lab[g & p]).tolist()) - {0}
inter, sp, sg = int((p & g).sum()), int(p.sum()), int(g.sum())
print(json.dumps({"dice": 2.0 * inter / (sp + sg) if sp + sg else 1.0, "fp_per_case": float(n - len(touching)),
                  "volume_ratio": sp / sg if sg else float("nan"), "predicted": sp, "truth": sg, "components": n}))
"#;

#[test]
fn whole_volume_columns_on_the_configured_epochs_equal_scipy_on_the_saved_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = prepared(dir.path());
    let runs = dir.path().join("runs");
    // 4 epochs, every 3: the whole volumes after the third and (the last) the fourth.
    let sets = ["training.epochs=4", "training.iterations=15", "training.validate_every=3"];
    ok(&iw(&stage("train", &prepared, &runs, &sets)));
    let run = runs.join("lits/dl/experiment_0");
    let log = rows(&std::fs::read_to_string(run.join("validation_log.csv")).unwrap());
    assert_eq!(log.len(), 4, "{log:?}");
    for (e, r) in log.iter().enumerate() {
        assert_eq!((r[0].as_str(), r[1].parse::<u64>().unwrap()), (e.to_string().as_str(), 15 * (e as u64 + 1)));
        assert!(r[2].parse::<f64>().is_ok() && r[3].parse::<f64>().is_ok(), "patch cells every epoch: {r:?}");
        let filled: Vec<bool> = r[4..].iter().map(|c| !c.is_empty()).collect();
        assert_eq!(filled, vec![e >= 2; 3], "epoch {e}: whole-volume cells only after epochs 3 and 4: {r:?}");
    }
    // The last row scored the final weights: scipy on the prediction `iw predict` makes with
    // them of the same case.
    case_0_validates(&prepared, false);
    ok(&iw(&stage("predict", &prepared, &runs, &sets)));
    let o = Command::new(python())
        .args(["-c", SCORES])
        .arg(run.join("test_predictions/0_prob.nii.gz"))
        .arg(prepared.join("cases/0"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let last = &log[3];
    for (k, col) in [("dice", 4), ("fp_per_case", 5), ("volume_ratio", 6)] {
        let (got, w) = (last[col].parse::<f64>().unwrap(), want[k].as_f64().unwrap());
        assert!((got - w).abs() <= 1e-12 * w.abs().max(1.0), "{k}: {got} in the log, scipy {w} ({want})");
    }
    assert!(want["truth"].as_u64().unwrap() > 0, "the validation case has a lesion: {want}");
    // TensorBoard holds the same values at the same steps.
    let o = Command::new(python()).current_dir(repo_root()).arg("scripts/report/check_tfevents.py").arg(&run).output();
    let counts: serde_json::Value = serde_json::from_str(ok(&o.unwrap()).trim()).unwrap();
    for tag in ["validation/volume_dice", "validation/fp_per_case", "validation/volume_ratio"] {
        assert_eq!(counts[tag], 2, "{tag}: {counts}");
    }
    assert_eq!(counts["validation/dice"], 4, "{counts}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(record["stages"]["train"]["details"]["volume_validation_cases"], 1, "{record}");

    // validate_every = 0: no whole-volume pass, the columns stay and are empty.
    case_0_validates(&prepared, true);
    let off = dir.path().join("runs-off");
    ok(&iw(&stage(
        "train",
        &prepared,
        &off,
        &["training.epochs=2", "training.iterations=3", "training.validate_every=0"],
    )));
    let log = rows(&std::fs::read_to_string(off.join("lits/dl/experiment_0/validation_log.csv")).unwrap());
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r[4..].iter().all(String::is_empty) && !r[3].is_empty()), "{log:?}");

    // A log that cannot be read is an error naming the file and the line, not rows skipped.
    let bad = dir.path().join("runs-bad");
    let path = bad.join("lits/dl/experiment_0/validation_log.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("{HEADER}\n0,3,0.5,0.5,,,\n1,6,0.5,0.5,0.5,,\n")).unwrap();
    let o = iw(&stage("train", &prepared, &bad, &["training.epochs=2", "training.iterations=3"]));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("validation_log.csv:3: the whole-volume cells are only partly filled"), "{e}");
}

#[test]
fn an_interrupted_run_resumes_with_its_validation_rows_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = prepared(dir.path());
    let sets = ["training.epochs=4", "training.iterations=60", "training.validate_every=1"];
    let (a, b) = (dir.path().join("runs-a"), dir.path().join("runs-b"));
    ok(&iw(&stage("train", &prepared, &a, &sets)));
    let whole = std::fs::read_to_string(a.join("lits/dl/experiment_0/validation_log.csv")).unwrap();
    assert_eq!(rows(&whole).len(), 4);

    // Ctrl-C (SIGINT to the process `iw` became) once the first whole-volume row is written.
    let log = b.join("lits/dl/experiment_0/validation_log.csv");
    let child = Command::new(env!("CARGO_BIN_EXE_iw"))
        .current_dir(repo_root())
        .args(stage("train", &prepared, &b, &sets))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let written = || std::fs::read_to_string(&log).map(|t| t.lines().count() > 1).unwrap_or(false);
    let t0 = Instant::now();
    while !written() && t0.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the PID of our own child, not yet waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "stopped by the interrupt before the end: {err}");
    let at: u64 = err
        .split("checkpoint written at step ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no checkpoint step in: {err}"));
    assert!(at < 240, "{err}");
    let before = std::fs::read_to_string(&log).unwrap();
    let kept = rows(&before);
    assert!(!kept.is_empty() && kept.iter().all(|r| r[1].parse::<u64>().unwrap() <= at), "{before}");
    assert!(kept.iter().all(|r| !r[4].is_empty()), "validate_every = 1: whole volumes every epoch: {before}");

    // A row past the checkpoint (a log written, then killed before its checkpoint) is dropped.
    std::fs::write(&log, format!("{before}3,{},0.5,0.5,0.5,0,1\n", at + 1)).unwrap();
    let s = ok(&iw(&stage("train", &prepared, &b, &sets)));
    assert!(s.contains("resuming from") && s.contains(&format!("at step {at}")), "{s}");
    let after = std::fs::read_to_string(&log).unwrap();
    assert!(after.starts_with(&before), "the rows before the checkpoint, byte for byte:\n{before}\nthen:\n{after}");
    // Resumed exactly (one libtorch thread): the whole log is the uninterrupted run's.
    assert_eq!(after, whole, "the resumed run's log differs from the uninterrupted run's");
}

#[test]
fn a_bad_validate_every_is_one_line_naming_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("bad.yaml");
    std::fs::write(&yaml, "training:\n  validate_every: -2\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (strings(&["train", "experiments/lits/dl.yaml", "--set", "training.validate_every=-1"]), "-1"),
        (strings(&["train", "experiments/lits/dl.yaml", "--set", "training.validate_every=often"]), "often"),
        (
            strings(&["run", "experiments/lits/dl.yaml", "--set", "training.validate_every=2000000"]),
            "training.validate_every = 2000000: must be in [0, 1000000]",
        ),
        (strings(&["train", yaml.to_str().unwrap()]), "bad.yaml"),
    ];
    for (args, names) in cases {
        let o = iw(&args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{args:?}: one line: {e}");
        assert!(e.contains("validate_every") && e.contains(names), "{args:?}: {e}");
    }
}
