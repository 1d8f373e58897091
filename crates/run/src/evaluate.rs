//! The `iw evaluate` stage (the run's test predictions against the prepared masks: lesion
//! records and voxel Dice), what the stages share about the prepared data (the split's case
//! ids, the image channels), the training curve, and the records' metadata: the dataset's
//! small-lesion threshold, written beside the records so that `iw report` need not climb back
//! to config.yaml and the prepared data to find it.
use crate::dir::{Prediction, RunDir};
use crate::experiment::Experiment;
use crate::progress::bar;
use crate::settings::{prepare_dir, Stage};
use crate::validation::ValidationRow;
use anyhow::{bail, Context};
use iw_data::manifest::Manifest;
use iw_data::prepared::{PreparedCase, PreparedDataset, SyntheticInfo};
use iw_io::read_volume;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// The prepared case ids of a split part (`train`, `validation`, `test`) that are present; a
/// manifest case that is not prepared is a warning.
pub fn split_ids(exp: &Experiment, part: &str) -> anyhow::Result<Vec<String>> {
    let root = &exp.dataset.prepared;
    let info = PreparedDataset::info(root)
        .with_context(|| format!("{}: not a prepared dataset (run `iw prepare` first)", root.display()))?;
    let m = Manifest::read(&root.join("manifest.yaml"))?;
    let ids = match part {
        "train" => Manifest::ids(&m.split.train),
        "validation" => Manifest::ids(&m.split.validation),
        _ => Manifest::ids(&m.split.test),
    };
    let have: std::collections::HashSet<&String> = info.cases.iter().collect();
    let (present, absent): (Vec<String>, Vec<String>) = ids.into_iter().partition(|i| have.contains(i));
    if !absent.is_empty() {
        eprintln!("warning: {} {part} case(s) of the manifest are not prepared: {}", absent.len(), absent.join(", "));
    }
    if present.is_empty() && part != "validation" {
        bail!("{}: no {part} case is prepared", root.display());
    }
    Ok(present)
}

/// Image channels of the prepared dataset (the model's input channels).
pub fn dataset_channels(exp: &Experiment) -> anyhow::Result<usize> {
    let root = &exp.dataset.prepared;
    let info = iw_data::prepared::PreparedDataset::info(root)?;
    Ok(match info.cases.first() {
        Some(id) => PreparedCase::open(&root.join("cases"), id)?.meta.channels.max(1),
        None => 1,
    })
}

/// Writes train_curve.png: the training loss, its moving average, the patch validation's loss
/// and Dice, and the whole-volume validation's Dice and log10(predicted / true volume) (0 when
/// the predicted volume is right, 2 for a 100-fold flood); the title gives the last
/// whole-volume scores, false positives per case included.
pub fn write_curve(dir: &RunDir, rows: &[(u64, f64)], validation: &[ValidationRow]) {
    let raw: Vec<(f64, f64)> = rows.iter().map(|&(s, l)| (s as f64, l)).collect();
    let k = (rows.len() / 50).max(1);
    let smooth: Vec<(f64, f64)> =
        raw.windows(k).map(|w| (w[w.len() - 1].0, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64)).collect();
    let mut series = vec![("training loss", raw), ("moving average", smooth)];
    let points = |f: &dyn Fn(&ValidationRow) -> Option<f64>| -> Vec<(f64, f64)> {
        validation.iter().filter_map(|v| f(v).map(|y| (v.step as f64, y))).collect()
    };
    for (name, p) in [
        ("validation loss, patches (per epoch)", points(&|v| v.loss)),
        ("validation Dice, patches (per epoch)", points(&|v| v.dice)),
        ("validation Dice, whole volumes", points(&|v| v.volume.map(|s| s.dice))),
        ("log10 predicted / true volume, whole volumes", points(&|v| v.volume.map(|s| s.volume_ratio.log10()))),
    ] {
        if !p.is_empty() {
            series.push((name, p));
        }
    }
    let title = match validation.iter().rev().find_map(|v| v.volume.map(|s| (v.epoch, s))) {
        Some((epoch, s)) => format!(
            "training; whole volumes at epoch {}: Dice {:.3}, FP/case {:.1}, volume x{:.2}",
            epoch + 1,
            s.dice,
            s.fp_per_case,
            s.volume_ratio
        ),
        None => "training".to_string(),
    };
    if let Err(e) =
        iw_metrics::write_line_chart(&dir.curve(), &title, "step", "loss, Dice, log10 volume ratio", &series)
    {
        eprintln!("warning: {e}");
    }
}

/// What the records of a run need to be read as their run meant (`test_metrics/
/// records_meta.json`, written by `iw evaluate` beside prc_records.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsMeta {
    /// The dataset's own small-lesion threshold (diameter, voxels): the prepared data's
    /// `synthetic.json` `small_below_equivalent` (the paper's threshold at a phantom's
    /// resolution); `None`: the dataset's default by name (`iw_core::datasets`).
    pub small_below: Option<f64>,
}

impl RecordsMeta {
    /// The metadata of the records of an experiment's run.
    pub fn of(exp: &Experiment) -> anyhow::Result<Self> {
        let small_below = SyntheticInfo::read_in(&exp.dataset.prepared)?.and_then(|s| s.small_below_equivalent);
        Ok(RecordsMeta { small_below })
    }

    /// The metadata beside the records of `dir`: its records_meta.json, or for records made before
    /// iw wrote one, recovered from the run's config.yaml and the prepared data it names (none
    /// without a config.yaml).
    pub fn read(dir: &RunDir) -> anyhow::Result<Option<Self>> {
        let path = dir.records_meta();
        if path.is_file() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let m =
                serde_json::from_str(&text).with_context(|| format!("{}: not a records_meta.json", path.display()))?;
            return Ok(Some(m));
        }
        if !dir.config().is_file() {
            return Ok(None);
        }
        let exp = Experiment::load_with(&dir.config(), &[], &[])?;
        Ok(Some(RecordsMeta::of(&exp)?))
    }

    fn write(&self, dir: &RunDir) -> anyhow::Result<()> {
        iw_core::write_file_atomically(&dir.records_meta(), serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }
}

/// The dataset's own small-lesion threshold of the runs whose records are `records` (the first
/// run's [`RecordsMeta`]); `None`: the dataset's default (`iw_core::datasets`).
pub fn dataset_small_below(records: &[PathBuf]) -> anyhow::Result<Option<f64>> {
    let Some(run) = records.iter().find_map(|f| RunDir::of_records(f)) else { return Ok(None) };
    Ok(RecordsMeta::read(&run)?.and_then(|m| m.small_below))
}

/// `iw evaluate`.
pub fn evaluate(exp: &Experiment, dir: &RunDir) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Evaluate)?;
    let metrics = dir.metrics();
    let (rec_path, dice_path) = (dir.records(), dir.dice());
    if rec_path.is_file() && dice_path.is_file() {
        // Records made before iw recorded each component's size and overlaps cannot be matched
        // one to one: made again from the saved predictions.
        let old = iw_metrics::read_records(&rec_path)?.values().flatten().any(|r| r.extent.is_none());
        if !old {
            println!("evaluate: {} exists, skipped", rec_path.display());
            return Ok(());
        }
        println!("evaluate: {} predates the component extents: evaluating again", rec_path.display());
    }
    let t0 = Instant::now();
    std::fs::create_dir_all(&metrics)?;
    let ids = split_ids(exp, "test")?;
    let mut records = iw_metrics::CaseRecords::new();
    let mut dice = serde_json::Map::new();
    let pb = bar(ids.len() as u64, &format!("evaluate {}", exp.method()));
    for id in &ids {
        let case = PreparedCase::open(&exp.dataset.prepared.join("cases"), id)?;
        let [d, h, w] = case.meta.shape_zyx;
        let gt = ndarray::Array3::from_shape_vec((d, h, w), case.mask().iter().map(|&v| v as f32).collect())?;
        let prob = read_volume(dir.prediction(id, Prediction::Prob))?.to_f32();
        let logit = read_volume(dir.prediction(id, Prediction::Logit))?.to_f32();
        let mut e = iw_metrics::evaluate_case(gt.view(), prob.data.view(), Some(logit.data.view()))?;
        e.set_voxel_volume(case.meta.geometry().spacing_xyz_mm.iter().product());
        records.insert(id.clone(), e.records);
        dice.insert(id.clone(), json!(e.dice));
        pb.inc(1);
    }
    pb.finish_and_clear();
    iw_metrics::write_records(&rec_path, &records)?;
    RecordsMeta::of(exp)?.write(dir)?;
    let mean = dice.values().filter_map(|v| v.as_f64()).sum::<f64>() / dice.len().max(1) as f64;
    iw_core::write_file_atomically(
        &dice_path,
        serde_json::to_string_pretty(&json!({"mean": mean, "cases": dice}))?.as_bytes(),
    )?;
    println!("evaluate: {} test cases, mean voxel Dice {mean:.4}; {}", ids.len(), rec_path.display());
    crate::record::record(dir, "evaluate", "Cpu", t0.elapsed().as_secs_f64(), json!({"mean_dice": mean}))
}
