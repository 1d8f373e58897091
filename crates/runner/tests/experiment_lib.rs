//! Experiment files through the library, no subprocess: `extends` merging (mappings merge,
//! everything else replaces), overlays, `--set`, validation, and the typed run record.
use iw_run::Experiment;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn extends_overlays_and_set_merge_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.yaml",
        "training:\n  epochs: 7\n  patch: [16, 16, 16]\n  lr_milestones: [3, 5]\nloss:\n  name: dl\n",
    );
    let child =
        write(dir.path(), "child.yaml", "extends: base.yaml\ntraining:\n  lr_milestones: [4]\nloss:\n  name: iwdl\n");
    let overlay = write(dir.path(), "overlay.yaml", "training:\n  epochs: 9\n");
    let e = Experiment::load_with(&child, &[overlay], &["training.batch=4".into(), "model.width=0.5".into()]).unwrap();
    assert_eq!(e.training.epochs, 9, "the overlay wins over the chain");
    assert_eq!(e.training.patch, [16, 16, 16], "mappings merge: the parent's other keys stay");
    assert_eq!(e.training.lr_milestones, vec![4], "lists replace, not merge");
    assert_eq!((e.loss.name.as_str(), e.training.batch, e.model.width), ("iwdl", 4, 0.5));
    assert_eq!(e.method(), "iwdl");
    assert_eq!(e.extends, None, "resolved away");
    // Every unset key keeps the paper's default.
    assert_eq!((e.training.iterations, e.training.seed), (100, 0xBADCAFE));
    // The resolved YAML reads back to the same experiment.
    let again = write(dir.path(), "resolved.yaml", &e.to_yaml());
    assert_eq!(Experiment::load(&again, &[]).unwrap(), e);
}

#[test]
fn validation_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "e.yaml", "loss:\n  name: dl\n");
    let err = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        format!("{:#}", Experiment::load(&f, &sets).unwrap_err())
    };
    assert!(err(&["training.device=cudax"]).contains("device must be auto, cpu, cuda or cuda:N"));
    assert!(err(&["training.patch=[30,48,48]"]).contains("not divisible by 8"));
    assert!(err(&["sampler.lesion_fraction=1.5"]).contains("sampler.lesion_fraction = 1.5: must be in [0, 1]"));
    assert!(err(&["loss.connectivity=7"]).contains("connectivity must be 6, 18 or 26"));
    assert!(err(&["sampler.background=random"]).contains("unknown variant `random`"));
    assert!(err(&["inference.grid=tiles"]).contains("unknown variant `tiles`"));
    assert!(err(&["training"]).contains("expected key.path=value"));
    // A GPU experiment validates on a machine without one (the spelling is checked, not the GPU).
    assert!(Experiment::load(&f, &["training.device=cuda:1".into()]).is_ok());
    let bad = write(dir.path(), "bad.yaml", "training:\n  epocs: 3\n");
    let e = format!("{:#}", Experiment::load(&bad, &[]).unwrap_err());
    assert!(e.contains("bad.yaml") && e.contains("unknown field `epocs`") && e.contains("line 2"), "{e}");
    let cycle = write(dir.path(), "cycle.yaml", "extends: cycle.yaml\n");
    assert!(format!("{:#}", Experiment::load(&cycle, &[]).unwrap_err()).contains("a cycle?"));
}

#[test]
fn a_corrupt_run_record_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    assert!(iw_run::RunRecord::read_in(dir.path()).unwrap().is_none());
    std::fs::write(dir.path().join("run.json"), "{\"stages\": 3}").unwrap();
    let e = format!("{:#}", iw_run::RunRecord::read_in(dir.path()).unwrap_err());
    assert!(e.contains("run.json") && e.contains("not a run record"), "{e}");
}

/// Every committed experiment file validates, alone and under every scale overlay (and the
/// dataset's own adjustments to it), so `iw reproduce --scale gpu` on a GPU machine does not
/// stop at a typo no CPU run exercised.
#[test]
fn every_experiment_validates_under_every_scale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut checked = 0;
    for ds in ["lits", "luna16", "mets", "ablations"] {
        for entry in std::fs::read_dir(root.join(ds)).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".yaml") || name.starts_with("scale-") {
                continue;
            }
            for scale in ["paper", "gpu", "cpu", "smoke"] {
                let mut overlays = Vec::new();
                if scale != "paper" {
                    overlays.push(root.join(format!("scales/{scale}.yaml")));
                    let own = root.join(ds).join(format!("scale-{scale}.yaml"));
                    if own.is_file() {
                        overlays.push(own);
                    }
                }
                Experiment::load_with(&p, &overlays, &[])
                    .unwrap_or_else(|e| panic!("{} at {scale}: {e:#}", p.display()));
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 40, "{checked}");
}

#[test]
fn results_of_each_scale_have_their_own_folder() {
    use iw_runner::reproduce::default_out;
    let w = Path::new("work");
    assert_eq!(default_out("lits", "cpu", false, w), Path::new("results/lits"));
    assert_eq!(default_out("lits", "paper", true, w), Path::new("results/lits"));
    assert_eq!(default_out("luna16", "gpu", false, w), Path::new("results/luna16-gpu"));
    assert_eq!(default_out("mets", "smoke", false, w), Path::new("work/results-smoke/mets"));
    assert_eq!(default_out("lits", "cpu", true, w), Path::new("results/lits-cpu"));
}
