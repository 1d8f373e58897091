//! iw-train's stages through the library (no `iw` binary in between): a tiny run trained,
//! interrupted and resumed, predicted and evaluated on a prepared dataset written here, checked
//! in its run folder ([`RunDir`]): the log rows, the validation rows, run.json, the records and
//! their metadata; and a corrupt line of train_log.csv stopping the resume with file:line.
use iw_core::{Geometry, Volume};
use iw_data::prepared::{write_case, write_dataset_files, DatasetFiles};
use iw_run::{train_log, validation, Experiment, RunDir, RunRecord};
use ndarray::Array3;
use std::path::Path;
use std::sync::atomic::Ordering;

const SHAPE: (usize, usize, usize) = (16, 16, 16);

/// Four cases of a bright 4^3 lesion in a dim ramp: c0, c1 train, c2 validation, c3 test.
fn prepared(root: &Path) -> std::path::PathBuf {
    let out = root.join("prepared");
    let ids: Vec<String> = ["c0", "c1", "c2", "c3"].map(String::from).to_vec();
    for (k, id) in ids.iter().enumerate() {
        let mut mask = Array3::<u8>::zeros(SHAPE);
        let o = 2 + 3 * k;
        mask.slice_mut(ndarray::s![o..o + 4, 5..9, 6..10]).fill(1);
        let image = Array3::from_shape_fn(SHAPE, |(z, y, x)| (z + y + x) as f32 + 100.0 * mask[[z, y, x]] as f32);
        write_case(&out.join("cases"), id, &Volume::new(image, Geometry::default()), &mask, [0; 3], [16; 3], vec![])
            .unwrap();
    }
    let manifest =
        "dataset: toy\ncases: [c0, c1, c2, c3]\nsplit:\n  train: [c0, c1]\n  validation: [c2]\n  test: [c3]\n";
    write_dataset_files(
        &out,
        &DatasetFiles {
            dataset: "toy",
            raw: root,
            manifest_text: manifest,
            prepared: &ids,
            skipped: &[],
            missing: &[],
            synthetic: None,
            iw_version: "test",
        },
    )
    .unwrap();
    out
}

fn experiment(root: &Path, prepared: &Path) -> Experiment {
    let yaml = format!(
        "dataset: {{name: toy, prepared: {}, window: null}}\nmodel: {{width: 0.25, depth: 2}}\nloss: {{name: iwdl}}\n\
         sampler: {{workers: 1, queue: 1}}\n\
         training: {{patch: [16, 16, 16], batch: 1, epochs: 2, iterations: 3, lr_milestones: [0], device: cpu, \
         threads: 1, validate_every: 1}}\n\
         inference: {{patch: [16, 16, 16], stride: [16, 16, 16], divisor: 4}}\n",
        prepared.display()
    );
    let f = root.join("toy.yaml");
    std::fs::write(&f, yaml).unwrap();
    Experiment::load(&f, &[]).unwrap()
}

#[test]
fn a_tiny_run_trains_resumes_predicts_and_evaluates_in_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), &prepared(tmp.path()));
    let dir = RunDir::of(&tmp.path().join("runs"), "toy", &exp.method(), 0);

    // Ctrl-C before the first step: the step runs, then the checkpoint and the logs, then stop.
    iw_run::interrupt::STOP.store(true, Ordering::SeqCst);
    let e = iw_train::train(&exp, &dir).unwrap_err();
    iw_run::interrupt::STOP.store(false, Ordering::SeqCst);
    assert!(iw_run::interrupt::is_interrupted(&e), "{e:#}");
    assert!(dir.last_checkpoint().is_file() && !dir.final_checkpoint().exists());
    let first = train_log::read(&dir.train_log()).unwrap();
    assert_eq!(first.len(), 1, "one step before the stop");
    let first_line = std::fs::read_to_string(dir.train_log()).unwrap();

    // The resume reads the log back and goes on from step 1.
    iw_train::train(&exp, &dir).unwrap();
    let text = std::fs::read_to_string(dir.train_log()).unwrap();
    assert!(text.starts_with(&first_line), "the kept row is rewritten byte for byte:\n{first_line}\n{text}");
    let rows = train_log::read(&dir.train_log()).unwrap();
    assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), (0..6).collect::<Vec<u64>>());
    assert_eq!(rows.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![0, 0, 0, 1, 1, 1]);
    // lr_milestones [0]: epoch 0 at lr, the epochs after it at lr * lr_gamma.
    assert_eq!((rows[0].lr, rows[5].lr), (exp.training.lr, exp.training.lr * exp.training.lr_gamma));
    assert!(rows.iter().all(|r| r.loss.is_finite() && r.seconds >= 0.0));
    assert_eq!(train_log::format(&rows), text, "the log is what its rows format to");
    let vtext = std::fs::read_to_string(dir.validation_log()).unwrap();
    let vrows = validation::parse_log(&dir.validation_log(), &vtext).unwrap();
    assert_eq!(vrows.iter().map(|r| (r.epoch, r.step)).collect::<Vec<_>>(), vec![(0, 3), (1, 6)]);
    assert!(vrows.iter().all(|r| r.volume.is_some()), "validate_every 1: whole volumes every epoch");
    assert!(dir.final_checkpoint().is_file() && dir.curve().is_file());
    assert_eq!(std::fs::read_to_string(dir.config()).unwrap(), exp.to_yaml());
    let record = RunRecord::read(&dir).unwrap().unwrap();
    assert_eq!(record.stages["train"].details["resumed_at"], 1);
    assert_eq!(record.config_sha256.as_deref(), Some(iw_run::config_hash(&exp).as_str()));

    // Predict and evaluate: the records, their metadata (no synthetic.json: the dataset's
    // default threshold) and the per-case Dice.
    iw_train::run_all(&exp, &dir).unwrap();
    for kind in [iw_run::Prediction::Prob, iw_run::Prediction::Logit, iw_run::Prediction::Mask] {
        assert!(dir.prediction("c3", kind).is_file(), "{kind:?}");
    }
    let records = iw_metrics::read_records(&dir.records()).unwrap();
    assert_eq!(records.keys().collect::<Vec<_>>(), vec!["c3"]);
    assert_eq!(iw_run::RecordsMeta::read(&dir).unwrap(), Some(iw_run::RecordsMeta { small_below: None }));
    assert!(dir.records_meta().is_file() && dir.dice().is_file());
    let record = RunRecord::read(&dir).unwrap().unwrap();
    assert!(record.is_done(&dir));
    assert_eq!(iw_run::state_of(&dir), iw_run::RunState::Done);
}

#[test]
fn a_corrupt_train_log_line_stops_the_resume_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), &prepared(tmp.path()));
    let dir = RunDir::of(&tmp.path().join("runs"), "toy", &exp.method(), 0);
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.train_log(), "step,epoch,lr,loss,seconds\n0,0,0.01,0.5,0.1\n1,0,0.01,oops,0.1\n").unwrap();
    let e = format!("{:#}", iw_train::train(&exp, &dir).unwrap_err());
    let want = format!("{}:3: field 3:", dir.train_log().display());
    assert!(e.contains(&want), "{e}");
    assert!(!dir.last_checkpoint().exists(), "nothing trained");
}
