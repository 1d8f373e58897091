//! Validation during training: the rows of `validation_log.csv`, their reading (for a resume)
//! and writing (the csv crate), and the whole-volume scores. The passes themselves need the
//! network and live in `iw-train`.
//!
//! Two validations run at the end of an epoch, the network in eval mode:
//!
//! * **patch** (every epoch; columns `loss`, `dice`): fixed patches drawn from the validation
//!   cases with the training sampler's rule (half of them centred on a lesion). Cheap, but blind
//!   to a prediction that floods the organ: a patch holds little of it.
//! * **whole volume** (every `training.validate_every` epochs and at the last; columns
//!   `volume_dice`, `fp_per_case`, `volume_ratio`): each validation case predicted whole with
//!   the test-time sliding window, as the authors' `validate_step` does. Over the validation
//!   cases k, with P_k = {p > 0.5} and G_k the ground truth:
//!
//!   ```text
//!   volume_dice  = 2 sum_k |P_k & G_k| / sum_k (|P_k| + |G_k|)      (1 when both sums are 0)
//!   fp_per_case  = (1 / n) sum_k #{26-connected components of P_k that touch no voxel of G_k}
//!   volume_ratio = sum_k |P_k| / sum_k |G_k|                        (inf or NaN when no G)
//!   ```
//!
//! `validation_log.csv` has the header [`HEADER`]; a cell is empty where its validation did
//! not run in that row's epoch. Numbers are written with Rust's shortest round-trip formatting,
//! so a resumed run rewrites the kept rows byte for byte.
use anyhow::{bail, Context};
use iw_core::{label, Connectivity};
use ndarray::ArrayView3;
use std::path::Path;

/// The header of `validation_log.csv`. Other tools read the columns by these names.
pub const HEADER: &str = "epoch,step,loss,dice,volume_dice,fp_per_case,volume_ratio";

/// The header written before the whole-volume columns existed (read on a resume).
const OLD_HEADER: &str = "epoch,step,loss,dice";

/// One epoch's validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidationRow {
    /// Epoch (0-based) that just finished.
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: u64,
    /// Mean loss over the validation patches (`None`: no patch validation, e.g. no validation
    /// case has a lesion to centre a patch on).
    pub loss: Option<f64>,
    /// Dice of the thresholded prediction over all validation patches.
    pub dice: Option<f64>,
    /// The whole-volume scores, in the epochs where that pass ran.
    pub volume: Option<VolumeScores>,
}

/// Whole-volume validation scores (see the module).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeScores {
    /// Voxel Dice pooled over the validation cases.
    pub dice: f64,
    /// Predicted components touching no ground truth, per case.
    pub fp_per_case: f64,
    /// Predicted over true lesion volume.
    pub volume_ratio: f64,
}

/// What one validation case contributes to [`VolumeScores`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaseCounts {
    /// |P & G|.
    pub intersection: u64,
    /// |P|.
    pub predicted: u64,
    /// |G|.
    pub truth: u64,
    /// 26-connected components of P with no voxel in G.
    pub false_positives: u64,
}

impl CaseCounts {
    /// The counts of a prediction `predicted` (non-zero: P) against the ground truth `truth`
    /// (non-zero: G), both `[z, y, x]` of one shape.
    pub fn of(predicted: ArrayView3<'_, u8>, truth: ArrayView3<'_, u8>) -> anyhow::Result<Self> {
        if predicted.dim() != truth.dim() {
            bail!("prediction {:?} and ground truth {:?} differ in shape", predicted.dim(), truth.dim());
        }
        let comps = label(predicted, Connectivity::C26);
        // touches[l]: component l (1..=K) has a voxel in G.
        let mut touches = vec![false; comps.count() + 1];
        let (mut intersection, mut predicted_n, mut truth_n) = (0u64, 0u64, 0u64);
        for (&l, &g) in comps.labels.iter().zip(truth.iter()) {
            let (p, g) = (l != 0, g != 0);
            predicted_n += u64::from(p);
            truth_n += u64::from(g);
            if p && g {
                intersection += 1;
                touches[l as usize] = true;
            }
        }
        let false_positives = touches[1..].iter().filter(|&&t| !t).count() as u64;
        Ok(CaseCounts { intersection, predicted: predicted_n, truth: truth_n, false_positives })
    }
}

impl VolumeScores {
    /// The scores of the validation cases (see the module); `None` without a case.
    pub fn pool(cases: &[CaseCounts]) -> Option<Self> {
        if cases.is_empty() {
            return None;
        }
        let sum = |f: fn(&CaseCounts) -> u64| cases.iter().map(f).sum::<u64>() as f64;
        let (inter, pred, truth) = (sum(|c| c.intersection), sum(|c| c.predicted), sum(|c| c.truth));
        Some(VolumeScores {
            dice: if pred + truth > 0.0 { 2.0 * inter / (pred + truth) } else { 1.0 },
            fp_per_case: sum(|c| c.false_positives) / cases.len() as f64,
            volume_ratio: pred / truth,
        })
    }
}

/// A row as written: the columns of [`HEADER`], each cell in Rust's shortest round-trip
/// formatting, empty where its validation did not run.
#[derive(serde::Serialize)]
struct LogLine {
    epoch: usize,
    step: u64,
    #[serde(serialize_with = "cell")]
    loss: Option<f64>,
    #[serde(serialize_with = "cell")]
    dice: Option<f64>,
    #[serde(serialize_with = "cell")]
    volume_dice: Option<f64>,
    #[serde(serialize_with = "cell")]
    fp_per_case: Option<f64>,
    #[serde(serialize_with = "cell")]
    volume_ratio: Option<f64>,
}

fn cell<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => crate::train_log::shortest(v, s),
        None => s.serialize_str(""),
    }
}

impl From<&ValidationRow> for LogLine {
    fn from(r: &ValidationRow) -> Self {
        let v = r.volume;
        LogLine {
            epoch: r.epoch,
            step: r.step,
            loss: r.loss,
            dice: r.dice,
            volume_dice: v.map(|v| v.dice),
            fp_per_case: v.map(|v| v.fp_per_case),
            volume_ratio: v.map(|v| v.volume_ratio),
        }
    }
}

/// `validation_log.csv` of `rows`: [`HEADER`], then one line per row.
pub fn format_log(rows: &[ValidationRow]) -> String {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(HEADER.split(',')).expect("writing to memory");
    for r in rows {
        w.serialize(LogLine::from(r)).expect("a row serialises to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("the rows are UTF-8")
}

/// Reads `validation_log.csv` (`text`, read from `path`): every row, in order. The header is
/// [`HEADER`] or the older `epoch,step,loss,dice`; a row with another number of cells, a cell
/// that is not a number, or whole-volume cells only partly filled is an error naming the file
/// and the line.
pub fn parse_log(path: &Path, text: &str) -> anyhow::Result<Vec<ValidationRow>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Ok(Vec::new()),
        Some(h) => h.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
    };
    let h = header.iter().collect::<Vec<_>>().join(",");
    let columns = match h.as_str() {
        HEADER => 7,
        OLD_HEADER => 4,
        _ => bail!("{}:1: header {h:?}, expected {HEADER:?}", path.display()),
    };
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let f = record.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let line_no = f.position().map_or(i as u64 + 2, |p| p.line());
        let at = || format!("{}:{line_no}", path.display());
        let line = f.iter().collect::<Vec<_>>().join(",");
        if f.len() != columns {
            bail!("{}: {} cells, expected {columns} ({line:?})", at(), f.len());
        }
        let num = |k: usize| -> anyhow::Result<Option<f64>> {
            if f[k].is_empty() {
                return Ok(None);
            }
            f[k].parse::<f64>().map(Some).with_context(|| format!("{}: {:?} is not a number", at(), &f[k]))
        };
        let int = |k: usize| f[k].parse::<u64>().with_context(|| format!("{}: {:?} is not a count", at(), &f[k]));
        let volume = if columns == 7 {
            match (num(4)?, num(5)?, num(6)?) {
                (Some(dice), Some(fp_per_case), Some(volume_ratio)) => {
                    Some(VolumeScores { dice, fp_per_case, volume_ratio })
                }
                (None, None, None) => None,
                _ => bail!("{}: the whole-volume cells are only partly filled ({line:?})", at()),
            }
        } else {
            None
        };
        rows.push(ValidationRow { epoch: int(0)? as usize, step: int(1)?, loss: num(2)?, dice: num(3)?, volume });
    }
    Ok(rows)
}

/// The rows of `path` to keep when training resumes at step `start`: those of the epochs
/// finished by then (`step <= start`). A missing file keeps none.
pub fn read_rows_before(path: &Path, start: u64) -> anyhow::Result<Vec<ValidationRow>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut rows = parse_log(path, &text)?;
    rows.retain(|r| r.step <= start);
    Ok(rows)
}

/// Whether the whole-volume pass runs after epoch `epoch` (0-based) of `epochs`: every
/// `every` epochs and at the last; never when `every` is 0.
pub fn volume_pass_due(epoch: usize, epochs: usize, every: usize) -> bool {
    every > 0 && ((epoch + 1).is_multiple_of(every) || epoch + 1 == epochs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn counts_of_a_hand_built_case() {
        // G: two lesions; P: one component overlapping the first, one isolated voxel, one
        // diagonal pair (a single 26-connected component) away from both.
        let mut g = Array3::<u8>::zeros((4, 6, 6));
        let mut p = Array3::<u8>::zeros((4, 6, 6));
        g[[0, 0, 0]] = 1;
        g[[0, 0, 1]] = 1;
        g[[3, 5, 5]] = 1;
        p[[0, 0, 1]] = 1;
        p[[0, 0, 2]] = 1;
        p[[2, 3, 0]] = 1;
        p[[1, 3, 3]] = 1;
        p[[2, 4, 4]] = 1;
        let c = CaseCounts::of(p.view(), g.view()).unwrap();
        assert_eq!(c, CaseCounts { intersection: 1, predicted: 5, truth: 3, false_positives: 2 });
        let s = VolumeScores::pool(&[c, CaseCounts::default()]).unwrap();
        assert_eq!(s, VolumeScores { dice: 2.0 / 8.0, fp_per_case: 1.0, volume_ratio: 5.0 / 3.0 });
        assert!(CaseCounts::of(p.view(), Array3::<u8>::zeros((4, 6, 5)).view()).is_err());
        assert_eq!(VolumeScores::pool(&[]), None);
        let empty = VolumeScores::pool(&[CaseCounts::default()]).unwrap();
        assert_eq!(empty.dice, 1.0);
        assert!(empty.volume_ratio.is_nan());
    }

    #[test]
    fn the_log_round_trips_byte_for_byte() {
        let v = VolumeScores { dice: 0.123456789012345, fp_per_case: 114.0 / 3.0, volume_ratio: f64::INFINITY };
        let rows = vec![
            ValidationRow { epoch: 0, step: 36, loss: Some(0.7), dice: Some(1e-7), volume: None },
            ValidationRow { epoch: 4, step: 180, loss: Some(0.1 + 0.2), dice: Some(0.5), volume: Some(v) },
            ValidationRow { epoch: 5, step: 216, loss: None, dice: None, volume: Some(v) },
        ];
        let text = format_log(&rows);
        assert!(text.starts_with(HEADER) && text.contains("\n0,36,0.7,0.0000001,,,\n"), "{text}");
        let back = parse_log(Path::new("v.csv"), &text).unwrap();
        assert_eq!(back, rows);
        assert_eq!(format_log(&back), text);
    }

    #[test]
    fn an_old_log_is_read_and_a_bad_one_names_the_line() {
        let old = "epoch,step,loss,dice\n0,36,0.5,0.25\n";
        let rows = parse_log(Path::new("v.csv"), old).unwrap();
        assert_eq!(rows, vec![ValidationRow { epoch: 0, step: 36, loss: Some(0.5), dice: Some(0.25), volume: None }]);
        for (text, want) in [
            (format!("{HEADER}\n0,36,0.5,0.25,,,\n1,72,0.5,x,,,\n"), "v.csv:3: \"x\" is not a number"),
            (format!("{HEADER}\n0,36,0.5,0.25\n"), "v.csv:2: 4 cells, expected 7"),
            (format!("{HEADER}\n0,36,0.5,0.25,0.1,,\n"), "v.csv:2: the whole-volume cells are only partly filled"),
            (format!("{HEADER}\n-1,36,0.5,0.25,,,\n"), "v.csv:2: \"-1\" is not a count"),
            ("epoch,step\n".to_string(), "v.csv:1: header"),
        ] {
            let e = format!("{:#}", parse_log(Path::new("v.csv"), &text).unwrap_err());
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn the_volume_pass_runs_every_k_epochs_and_at_the_last() {
        let due = |every, epochs| (0..epochs).filter(|&e| volume_pass_due(e, epochs, every)).collect::<Vec<_>>();
        assert_eq!(due(5, 12), vec![4, 9, 11]);
        assert_eq!(due(5, 10), vec![4, 9]);
        assert_eq!(due(1, 3), vec![0, 1, 2]);
        assert_eq!(due(0, 3), Vec::<usize>::new());
        assert_eq!(due(30, 25), vec![24]);
    }
}
