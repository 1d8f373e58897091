//! Experiments end to end: YAML errors, `extends` and `--set`, the smoke reproduction (two
//! configurations, two tiny cases), and resuming a killed run to the same final metrics.
use iw_test_support::cli::{ok, Iw};
use iw_test_support::repo_root;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn iw_in(dir: &Path, args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).in_dir(dir).run(args)
}

#[test]
fn yaml_errors_name_key_line_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "loss:\n  name: dl\ntraining:\n  epocs: 3\n").unwrap();
    let o = iw_in(&repo_root(), &["train", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.yaml") && e.contains("unknown field `epocs`") && e.contains("line 4"), "{e}");
    // An error in a parent names the parent.
    std::fs::write(dir.path().join("child.yaml"), "extends: bad.yaml\n").unwrap();
    let o = iw_in(&repo_root(), &["train", dir.path().join("child.yaml").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.yaml"));
    let o = iw_in(&repo_root(), &["train", "experiments/lits/dl.yaml", "--set", "loss.name=xyz"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown base loss 'xyz'"));
    let o = iw_in(&repo_root(), &["train", "experiments/lits/dl.yaml", "--set", "training.patch=[30,48,48]"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not divisible by 8"));
}

#[test]
fn model_summary() {
    let s = ok(&iw_in(&repo_root(), &["model", "summary"]));
    assert!(s.contains("total parameters: 11074306"), "{s}");
    let s = ok(&iw_in(
        &repo_root(),
        &["model", "summary", "experiments/lits/iwdl.yaml", "--width", "0.5", "--patch", "32,32,32"],
    ));
    assert!(s.contains("width 0.5") && s.contains("1 x 32 x 32 x 32"), "{s}");
}

/// The smoke reproduction of two configurations: every output exists and parses.
#[test]
fn smoke_reproduction_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let (work, out) = (dir.path().join("work"), dir.path().join("results"));
    let s = ok(&iw_in(
        &repo_root(),
        &[
            "reproduce",
            "lits",
            "--scale",
            "smoke",
            "--only",
            "dl,iwdl",
            "--work",
            work.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(s.contains("wrote"), "{s}");
    for m in ["dl", "iwdl"] {
        let run = work.join(format!("runs-smoke/lits/{m}/experiment_0"));
        for f in [
            "config.yaml",
            "run.json",
            "train_log.csv",
            "train_curve.png",
            "checkpoints/final.safetensors",
            "test_metrics/dice.json",
            "test_metrics/prc_records.json",
        ] {
            assert!(run.join(f).is_file(), "{m}: {f} missing");
        }
        iw_metrics::read_records(&run.join("test_metrics/prc_records.json")).unwrap();
        let dice: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("test_metrics/dice.json")).unwrap()).unwrap();
        assert!(dice["mean"].is_number());
        let runinfo: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
        for stage in ["train", "predict", "evaluate"] {
            assert!(runinfo["stages"][stage]["wall_s"].is_number(), "{stage}");
        }
        assert!(runinfo["git_revision"].is_string());
        let preds: Vec<_> = std::fs::read_dir(run.join("test_predictions")).unwrap().collect();
        assert_eq!(preds.len(), 3, "probabilities, logits and the binary prediction of the test case");
        let prob = iw_io::read_volume(run.join("test_predictions/0_prob.nii.gz")).unwrap();
        let case = iw_data::prepared::PreparedCase::open(&work.join("lits-synth-smoke/prepared/cases"), "0").unwrap();
        assert_eq!(prob.shape_zyx(), case.meta.shape_zyx, "predictions have the case's grid");
        assert!((prob.geometry().origin_xyz_mm[0] - case.meta.origin_xyz_mm[0]).abs() < 1e-3);
    }
    for f in ["table.md", "table.csv", "froc_lits.png", "froc_lits.svg", "froc_lits_iou.png", "README.md"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("SYNTHETIC") && readme.contains("libtorch"), "the README says the data was synthetic");
    assert!(readme.contains("At the operating points") && readme.contains("paired bootstrap"), "{readme}");
    assert!(readme.contains("## Matching overlap") && readme.contains("## Matching iou:0.1"), "both rules: {readme}");
    // The builds that made the runs, from their run.json (here the two runs of this binary).
    let rev = env!("IW_GIT_REVISION");
    assert!(readme.contains(&format!("(this report: git {rev}, runs made by git {rev} (2 run(s)))")), "{readme}");
    // report.json: under each rule, per configuration and seed, pooled, and iw - base with
    // intervals, and the paper's table.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let rules: Vec<&String> = report["rules"].as_object().unwrap().keys().collect();
    assert_eq!(rules, ["iou:0.1", "overlap"]);
    for rule in rules {
        let r = &report["rules"][rule];
        assert_eq!(&r["match"], rule);
        for m in ["dl", "iwdl"] {
            let p = &r["pooled"][m];
            for k in ["recall_p05", "recall_1fp", "fp_per_case", "object_dice", "volume_ratio", "lesions"] {
                assert!(p["small"].get(k).is_some() && p["large"].get(k).is_some(), "{rule} {m}: {k}");
            }
            assert!(p["voxel_dice"].is_number(), "{m}");
            assert!(p["largest_over_true"].is_number() || p["largest_over_true"].is_null(), "{m}");
            assert!(p["fp_mm3_per_case"].is_number(), "{m}: the records carry the voxel volume");
            assert_eq!(r["per_seed"][m].as_array().unwrap().len(), 1);
        }
        let diffs = r["iw_minus_base"]["iwdl - dl"].as_array().unwrap();
        assert_eq!(diffs.len(), 3 * 5 + 1, "five metrics per stratum and the voxel Dice");
        assert!(diffs.iter().all(|d| d["ci95"].as_array().is_some_and(|c| c.len() == 2)));
        assert_eq!(r["table"].as_array().unwrap().len(), 2);
        assert!(r["table"].as_array().unwrap().iter().all(|row| &row["match"] == rule));
    }
    // The one-to-one rule never finds more lesions than the paper's.
    for m in ["dl", "iwdl"] {
        for s in ["small", "large"] {
            let n = |rule: &str| report["rules"][rule]["pooled"][m][s]["detected"].as_u64().unwrap();
            assert!(n("iou:0.1") <= n("overlap"), "{m} {s}");
        }
    }
    // A second run skips every stage.
    let again = || {
        ok(&iw_in(
            &repo_root(),
            &[
                "run",
                "experiments/lits/dl.yaml",
                "--overlay",
                "experiments/scales/smoke.yaml",
                "--set",
                &format!("dataset.prepared={}", work.join("lits-synth-smoke/prepared").display()),
                "--out",
                work.join("runs-smoke").to_str().unwrap(),
            ],
        ))
    };
    let s = again();
    assert!(s.contains("train: ") && s.contains("skipped") && s.contains("evaluate: "), "{s}");
    assert!(!s.contains("evaluating again"), "{s}");
    // Records written before the component extents (the paper's schema only) are made again
    // from the saved predictions, with the extents, and otherwise equal.
    let rec = work.join("runs-smoke/lits/dl/experiment_0/test_metrics/prc_records.json");
    let full = iw_metrics::read_records(&rec).unwrap();
    let mut old = full.clone();
    old.values_mut().flatten().for_each(|r| r.extent = None);
    iw_metrics::write_records(&rec, &old).unwrap();
    let s = again();
    assert!(s.contains("predates the component extents: evaluating again"), "{s}");
    assert_eq!(iw_metrics::read_records(&rec).unwrap(), full);
}

fn run_args(work: &Path, runs: &Path) -> Vec<String> {
    [
        "run",
        "experiments/lits/iwdl.yaml",
        "--overlay",
        "experiments/scales/smoke.yaml",
        "--set",
        &format!("dataset.prepared={}", work.join("lits-synth-smoke/prepared").display()),
        "--set",
        "training.epochs=4",
        "--set",
        "training.iterations=25",
        "--set",
        "training.lr_milestones=[3]",
        "--set",
        "training.threads=1",
        "--out",
        runs.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Kill a run after its first checkpoint, rerun it: the same final records as a run that was
/// never interrupted.
#[test]
fn killed_run_resumes_to_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(&iw_in(
        &repo_root(),
        &["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()],
    ));
    let (a, b) = (dir.path().join("runs-a"), dir.path().join("runs-b"));
    ok(&iw_in(&repo_root(), &run_args(&work, &a).iter().map(String::as_str).collect::<Vec<_>>()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_iw"))
        .current_dir(repo_root())
        .args(run_args(&work, &b))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ck = b.join("lits/iwdl/experiment_0/checkpoints/last.safetensors");
    let t = Instant::now();
    while !ck.is_file() && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let fin = b.join("lits/iwdl/experiment_0/checkpoints/final.safetensors");
    assert!(ck.is_file() && !fin.is_file(), "killed after the first checkpoint, before the end");
    ok(&iw_in(&repo_root(), &run_args(&work, &b).iter().map(String::as_str).collect::<Vec<_>>()));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("lits/iwdl/experiment_0/run.json")).unwrap()).unwrap();
    assert!(
        info["stages"]["train"]["details"]["resumed_at"].as_u64().unwrap() > 0,
        "the rerun resumed from the checkpoint"
    );
    let ra = iw_metrics::read_records(&a.join("lits/iwdl/experiment_0/test_metrics/prc_records.json")).unwrap();
    let rb = iw_metrics::read_records(&b.join("lits/iwdl/experiment_0/test_metrics/prc_records.json")).unwrap();
    assert_eq!(ra.keys().collect::<Vec<_>>(), rb.keys().collect::<Vec<_>>());
    for (id, x) in &ra {
        let y = &rb[id];
        assert_eq!(x.len(), y.len(), "case {id}: records");
        for (p, q) in x.iter().zip(y) {
            assert_eq!((&p.obj, &p.hit_obj), (&q.obj, &q.hit_obj));
            let close = |a: f64, b: f64, tol: f64| a == b || (a - b).abs() < tol;
            assert!(
                close(p.hit_dice, q.hit_dice, 1e-6)
                    && close(p.self_logit, q.self_logit, 1e-4)
                    && close(p.hit_logit, q.hit_logit, 1e-4),
                "case {id} {}: {p:?} vs {q:?}",
                p.obj
            );
        }
    }
    let la = std::fs::read_to_string(a.join("lits/iwdl/experiment_0/train_log.csv")).unwrap();
    let lb = std::fs::read_to_string(b.join("lits/iwdl/experiment_0/train_log.csv")).unwrap();
    let loss =
        |t: &str| t.lines().skip(1).map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap()).collect::<Vec<_>>();
    let (la, lb) = (loss(&la), loss(&lb));
    assert_eq!(la.len(), lb.len());
    for (s, (x, y)) in la.iter().zip(&lb).enumerate() {
        assert!((x - y).abs() < 1e-5, "step {s}: {x} vs {y}");
    }
}
