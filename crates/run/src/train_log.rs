//! `train_log.csv`: one row per optimiser step, [`HEADER`] first.
//!
//! Written and read through [`TrainLogRow`] (serde + the csv crate). `lr` and `loss` are written
//! with Rust's shortest round-trip formatting and `seconds` with 4 decimals, so a resumed run
//! rewrites the rows it keeps byte for byte. Reading is strict: a wrong header, a row with a
//! missing cell or a cell that is not a number is an error naming the file and the line.
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize, Serializer};
use std::path::Path;

/// The header of `train_log.csv`. Other tools read the columns by these names.
pub const HEADER: &str = "step,epoch,lr,loss,seconds";

/// One optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainLogRow {
    /// The step (0-based).
    pub step: u64,
    /// Its epoch (0-based).
    pub epoch: usize,
    /// The learning rate of the step.
    #[serde(serialize_with = "shortest")]
    pub lr: f64,
    /// The training loss of the batch.
    #[serde(serialize_with = "shortest")]
    pub loss: f64,
    /// Wall time of the step, seconds.
    #[serde(serialize_with = "four_decimals")]
    pub seconds: f64,
}

/// Rust's `Display` of an f64: the shortest text that reads back to the same number
/// (`0.0000001`, not the csv crate's `1e-7`).
pub(crate) fn shortest<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn four_decimals<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:.4}"))
}

/// The text of `train_log.csv` holding `rows`.
pub fn format(rows: &[TrainLogRow]) -> String {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(HEADER.split(',')).expect("writing to memory");
    for r in rows {
        w.serialize(r).expect("a row serialises to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("the rows are UTF-8")
}

/// Reads the text of `train_log.csv` (read from `path`, which errors name).
pub fn parse(path: &Path, text: &str) -> anyhow::Result<Vec<TrainLogRow>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let line = record.position().map_or(i as u64 + 1, |p| p.line());
        if i == 0 {
            let header: Vec<&str> = record.iter().collect();
            if header.join(",") != HEADER {
                bail!("{}:{line}: header {:?}, expected {HEADER:?}", path.display(), header.join(","));
            }
            continue;
        }
        if record.len() != 5 {
            bail!("{}:{line}: {} cells, expected 5", path.display(), record.len());
        }
        let row: TrainLogRow = record.deserialize(None).map_err(|e| match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => anyhow::anyhow!("{}:{line}: {err}", path.display()),
            _ => anyhow::anyhow!("{}:{line}: {e}", path.display()),
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Reads `train_log.csv` at `path`; a missing file holds no row.
pub fn read(path: &Path) -> anyhow::Result<Vec<TrainLogRow>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text the training loop wrote by hand before the row type (stages.rs, issue 27).
    fn by_hand(rows: &[TrainLogRow]) -> String {
        let mut log = String::from("step,epoch,lr,loss,seconds\n");
        for r in rows {
            log += &std::format!("{},{},{},{},{:.4}\n", r.step, r.epoch, r.lr, r.loss, r.seconds);
        }
        log
    }

    #[test]
    fn the_rows_are_written_as_before_and_read_back() {
        let rows = vec![
            TrainLogRow { step: 0, epoch: 0, lr: 0.01, loss: 0.9876543210987654, seconds: 0.123456 },
            TrainLogRow { step: 1, epoch: 0, lr: 1e-7, loss: 1e-300, seconds: 12.0 },
            TrainLogRow { step: 80, epoch: 1, lr: 0.1 + 0.2, loss: 1e21, seconds: 0.00004 },
            TrainLogRow { step: 81, epoch: 1, lr: 0.001, loss: f64::NAN, seconds: 0.5 },
        ];
        let text = format(&rows);
        assert_eq!(text, by_hand(&rows));
        assert!(text.contains("\n1,0,0.0000001,"), "{text}");
        let back = parse(Path::new("t.csv"), &text).unwrap();
        assert_eq!(back.len(), rows.len());
        assert!(back[3].loss.is_nan());
        // Rewritten from what was read: the same bytes (seconds were rounded once, when written).
        assert_eq!(format(&back), text);
    }

    #[test]
    fn a_corrupt_line_is_an_error_naming_the_file_and_the_line() {
        for (text, want) in [
            ("step,epoch,lr,loss,seconds\n0,0,0.01,0.5,0.1\n1,0,0.01,x,0.1\n", "t.csv:3: field 3: "),
            ("step,epoch,lr,loss,seconds\n0,0,0.01,0.5\n", "t.csv:2: 4 cells, expected 5"),
            ("step,epoch,lr,loss,seconds\n0,0,0.01,0.5,0.1\n-1,0,0.01,0.5,0.1\n", "t.csv:3: field 0: "),
            ("step,loss\n0,0.5\n", "t.csv:1: header \"step,loss\""),
        ] {
            let e = format!("{:#}", parse(Path::new("t.csv"), text).unwrap_err());
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
        assert_eq!(parse(Path::new("t.csv"), "").unwrap(), vec![]);
    }
}
