//! The paper's comparison table from records folders: per dataset and method, object Dice,
//! average recall and CPM with the bootstrap's mean ± std, for all, small and large lesions.
//!
//! Layout read: `DIR/<dataset>/<method>/experiment_*/<records_in_run>` (the paper's and iw's;
//! the records file's place inside a run folder is the caller's: `iw_run::RunDir::records_in_run`). Several `experiment_*` folders of one method (seeds) are pooled as more
//! cases: their case ids are prefixed with the folder name.
//!
//! Paper-compatible bootstrap ([`BootstrapMode::Paper`], the default): case ids are the sorted
//! ids of the cases that have at least one record (cases without records drop out, a quirk of the
//! paper's code), and avgFP is divided by that full number of cases even on an 80 % sample (the
//! other quirk). [`BootstrapMode::Corrected`] keeps every case of the file and divides by the
//! cases sampled.
//!
//! Size strata: small = `diameter < small_below` (voxels; lits 12, luna 8, met 5). The small
//! FROC keeps small GT records, small predicted records and the predicted records that are the
//! hit of a small GT record; the large FROC is the same with `>=`. Each stratum counts its own
//! cases (those left with a record), as the paper's code does on a filtered table.
use crate::bootstrap::paper_subsets;
use crate::error::{Error, Result};
use crate::froc::{froc, linspace, max_finite_self_logit, mean_std, object_dice, paper_thresholds, Froc};
use crate::matching::{match_cases, MatchRule};
use crate::records::{read_records, CaseRecords, LesionRecord};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How the bootstrap treats cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BootstrapMode {
    /// The paper's numbers, quirks included.
    #[default]
    Paper,
    /// Every case counts; avgFP is divided by the cases sampled.
    Corrected,
}

/// Options of an evaluation.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Small-lesion threshold (diameter in voxels); `None`: by dataset name.
    pub small_below: Option<f64>,
    /// Bootstrap mode.
    pub bootstrap: BootstrapMode,
    /// Bootstrap samples (paper: 50).
    pub samples: usize,
    /// Fraction of cases per sample (paper: 0.8).
    pub fraction: f64,
    /// Seed of numpy's RandomState (paper: 42).
    pub seed: u32,
    /// Which component finds which lesion (paper: [`MatchRule::Overlap`]).
    pub rule: MatchRule,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            small_below: None,
            bootstrap: BootstrapMode::Paper,
            samples: 50,
            fraction: 0.8,
            seed: 42,
            rule: MatchRule::Overlap,
        }
    }
}

/// The paper's small-lesion threshold of a dataset (voxels), by iw's name or the paper's
/// ([`iw_core::datasets`]).
pub fn default_small_below(dataset: &str) -> Option<f64> {
    iw_core::datasets::dataset(&dataset.to_ascii_lowercase()).map(|d| d.small_below)
}

/// The records of one method of one dataset.
#[derive(Debug, Clone)]
pub struct MethodRecords {
    /// Dataset folder name.
    pub dataset: String,
    /// Method folder name.
    pub method: String,
    /// The records files read.
    pub files: Vec<PathBuf>,
    /// Records by case id.
    pub cases: CaseRecords,
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

fn name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reads every `<dataset>/<method>/experiment_*/<records_in_run>` under `dir` (`records_in_run`:
/// the records file's path inside a run folder).
pub fn load_records_dir(dir: &Path, records_in_run: &Path) -> Result<Vec<MethodRecords>> {
    let layout = format!("<dataset>/<method>/experiment_*/{}", records_in_run.display());
    if !dir.is_dir() {
        return Err(Error::records(dir, format!("not a folder (expected {layout} under it)")));
    }
    let mut out = Vec::new();
    for ds in sorted_dirs(dir)? {
        for m in sorted_dirs(&ds)? {
            let exps: Vec<PathBuf> =
                sorted_dirs(&m)?.into_iter().filter(|p| name(p).starts_with("experiment_")).collect();
            if exps.is_empty() {
                return Err(Error::records(&m, "method folder without an experiment_* folder"));
            }
            let mut rec =
                MethodRecords { dataset: name(&ds), method: name(&m), files: Vec::new(), cases: CaseRecords::new() };
            for e in &exps {
                let f = e.join(records_in_run);
                if !f.is_file() {
                    return Err(Error::records(
                        e,
                        format!("no {} in this experiment folder", records_in_run.display()),
                    ));
                }
                let cases = read_records(&f)?;
                for (case, recs) in cases {
                    let id = if exps.len() > 1 { format!("{}:{case}", name(e)) } else { case };
                    rec.cases.insert(id, recs);
                }
                rec.files.push(f);
            }
            out.push(rec);
        }
    }
    if out.is_empty() {
        return Err(Error::records(dir, format!("no {layout} under this folder")));
    }
    Ok(out)
}

/// Which records a stratum keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stratum {
    /// Every record.
    All,
    /// `diameter < threshold`, plus the predicted hits of small GT.
    Small(f64),
    /// `diameter >= threshold`, plus the predicted hits of large GT.
    Large(f64),
}

/// The records of `cases` that a stratum keeps (cases left empty stay, as empty lists).
pub fn stratify(cases: &CaseRecords, stratum: Stratum) -> CaseRecords {
    let keep_size = |d: f64| match stratum {
        Stratum::All => true,
        Stratum::Small(t) => d < t,
        Stratum::Large(t) => d >= t,
    };
    cases
        .iter()
        .map(|(id, recs)| {
            let hits: HashSet<&str> =
                recs.iter().filter(|r| r.is_tum && keep_size(r.diameter)).map(|r| r.hit_obj.as_str()).collect();
            let kept: Vec<LesionRecord> = recs
                .iter()
                .filter(|r| keep_size(r.diameter) || (!r.is_tum && hits.contains(r.obj.as_str())))
                .cloned()
                .collect();
            (id.clone(), kept)
        })
        .collect()
}

/// Bootstrap summary of one stratum.
#[derive(Debug, Clone)]
pub struct StratumResult {
    /// Cases counted (paper mode: with at least one record).
    pub cases: usize,
    /// GT records.
    pub lesions: usize,
    /// Average recall (FP 0..5): bootstrap mean and std.
    pub avg_recall: (f64, f64),
    /// CPM: bootstrap mean and std.
    pub cpm: (f64, f64),
    /// FROC for figures: avgFP grid and bootstrap mean and std of the interpolated recall.
    pub curve_fp: Vec<f64>,
    /// Mean recall on `curve_fp`.
    pub curve_mean: Vec<f64>,
    /// Std of recall on `curve_fp`.
    pub curve_std: Vec<f64>,
}

/// Bootstrap FROC summary of a set of case records.
pub fn evaluate_stratum(cases: &CaseRecords, opts: &EvalOptions) -> StratumResult {
    let ids: Vec<String> = match opts.bootstrap {
        BootstrapMode::Paper => cases.iter().filter(|(_, r)| !r.is_empty()).map(|(id, _)| id.clone()).collect(),
        BootstrapMode::Corrected => cases.keys().cloned().collect(),
    };
    let n = ids.len();
    let lesions = ids.iter().map(|id| cases[id].iter().filter(|r| r.is_tum).count()).sum();
    let thresholds = paper_thresholds(max_finite_self_logit(ids.iter().flat_map(|id| cases[id].iter())));
    let grid = linspace(0.0, 6.0, 121);
    let (mut ar, mut cpm, mut curves) = (Vec::new(), Vec::new(), Vec::new());
    for subset in paper_subsets(&ids, opts.samples, opts.fraction, opts.seed) {
        let denom = match opts.bootstrap {
            BootstrapMode::Paper => n,
            BootstrapMode::Corrected => subset.len(),
        } as f64;
        let f: Froc = froc(subset.iter().flat_map(|id| cases[id].iter()), denom, &thresholds);
        ar.push(f.avg_recall());
        cpm.push(f.cpm());
        let (x, y) = f.curve();
        curves.push(grid.iter().map(|&g| crate::froc::interp(g, &x, &y)).collect::<Vec<f64>>());
    }
    let (mut curve_mean, mut curve_std) = (Vec::new(), Vec::new());
    for i in 0..grid.len() {
        let col: Vec<f64> = curves.iter().map(|c| c[i]).collect();
        let (m, s) = mean_std(&col);
        curve_mean.push(m);
        curve_std.push(s);
    }
    StratumResult {
        cases: n,
        lesions,
        avg_recall: mean_std(&ar),
        cpm: mean_std(&cpm),
        curve_fp: grid,
        curve_mean,
        curve_std,
    }
}

/// One row of the comparison table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Dataset.
    pub dataset: String,
    /// Method.
    pub method: String,
    /// Object Dice over all cases (mean, std).
    pub object_dice: (f64, f64),
    /// All lesions.
    pub all: StratumResult,
    /// Small lesions.
    pub small: StratumResult,
    /// Large lesions.
    pub large: StratumResult,
    /// The small-lesion threshold used.
    pub small_below: f64,
    /// Bootstrap mode used.
    pub bootstrap: BootstrapMode,
    /// The matching rule used.
    pub rule: MatchRule,
}

/// Evaluates one method's records.
pub fn evaluate_method(m: &MethodRecords, opts: &EvalOptions) -> Result<Row> {
    let small_below = opts.small_below.or_else(|| default_small_below(&m.dataset)).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "dataset '{}' has no default small-lesion threshold (lits 12, luna 8, met 5 voxels): pass --small-below",
            m.dataset
        ))
    })?;
    let matched;
    let cases = match opts.rule {
        MatchRule::Overlap => &m.cases,
        rule => {
            matched = match_cases(&m.cases, rule).map_err(|e| in_files(e, &m.files))?;
            &matched
        }
    };
    let all_thresholds = paper_thresholds(max_finite_self_logit(cases.values().flatten()));
    Ok(Row {
        dataset: m.dataset.clone(),
        method: m.method.clone(),
        object_dice: object_dice(cases.values().flatten(), all_thresholds[0]),
        all: evaluate_stratum(cases, opts),
        small: evaluate_stratum(&stratify(cases, Stratum::Small(small_below)), opts),
        large: evaluate_stratum(&stratify(cases, Stratum::Large(small_below)), opts),
        small_below,
        bootstrap: opts.bootstrap,
        rule: opts.rule,
    })
}

/// An error of records read from `files`, said with the first of them.
fn in_files(e: Error, files: &[PathBuf]) -> Error {
    match files.first() {
        Some(f) => Error::records(f, e.to_string()),
        None => e,
    }
}

fn pm(v: (f64, f64)) -> String {
    if v.0.is_nan() {
        "n/a".into()
    } else {
        format!("{:.2} ± {:.2}", v.0, v.1)
    }
}

/// The table as text (Markdown, which also reads well in a terminal).
pub fn format_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| dataset | method | cases | lesions | object Dice | avg recall (FP 0..5) | CPM | small: lesions | small: avg recall | small: CPM | large: lesions | large: avg recall | large: CPM |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} (< {}) | {} | {} | {} | {} | {} |\n",
            r.dataset,
            r.method,
            r.all.cases,
            r.all.lesions,
            pm(r.object_dice),
            pm(r.all.avg_recall),
            pm(r.all.cpm),
            r.small.lesions,
            if r.small_below.fract() == 0.0 { format!("{}", r.small_below) } else { format!("{:.2}", r.small_below) },
            pm(r.small.avg_recall),
            pm(r.small.cpm),
            r.large.lesions,
            pm(r.large.avg_recall),
            pm(r.large.cpm),
        );
    }
    if let Some(r) = rows.first() {
        s += &format!("\nMatching: {} (`--match {}`).\n", r.rule.describe(), r.rule);
        s += &match r.bootstrap {
            BootstrapMode::Paper => "\nmean ± std over 50 bootstrap samples of 80 % of the cases, paper-compatible: avgFP divided by all cases, cases without records left out.\n".to_string(),
            BootstrapMode::Corrected => "\nmean ± std over 50 bootstrap samples of 80 % of the cases, CORRECTED bootstrap (not the paper's): avgFP divided by the cases sampled, every case counted.\n".to_string(),
        };
    }
    s
}

fn csv_num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.6}")
    }
}

/// The table as CSV, one row per method, full precision.
pub fn format_csv(rows: &[Row]) -> String {
    let mut s = String::from("dataset,method,cases,lesions,object_dice_mean,object_dice_std,avg_recall_mean,avg_recall_std,cpm_mean,cpm_std,small_below,small_lesions,small_avg_recall_mean,small_avg_recall_std,small_cpm_mean,small_cpm_std,large_lesions,large_avg_recall_mean,large_avg_recall_std,large_cpm_mean,large_cpm_std,bootstrap,match\n");
    for r in rows {
        let nums = [r.object_dice.0, r.object_dice.1, r.all.avg_recall.0, r.all.avg_recall.1, r.all.cpm.0, r.all.cpm.1]
            .map(csv_num)
            .join(",");
        let small = [r.small.avg_recall.0, r.small.avg_recall.1, r.small.cpm.0, r.small.cpm.1].map(csv_num).join(",");
        let large = [r.large.avg_recall.0, r.large.avg_recall.1, r.large.cpm.0, r.large.cpm.1].map(csv_num).join(",");
        s += &format!(
            "{},{},{},{},{nums},{},{},{small},{},{large},{},{}\n",
            r.dataset,
            r.method,
            r.all.cases,
            r.all.lesions,
            r.small_below,
            r.small.lesions,
            r.large.lesions,
            match r.bootstrap {
                BootstrapMode::Paper => "paper",
                BootstrapMode::Corrected => "corrected",
            },
            r.rule
        );
    }
    s
}

fn jnum(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
}

/// The table as a JSON array (NaN becomes null).
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "dataset": r.dataset,
                    "method": r.method,
                    "cases": r.all.cases,
                    "lesions": r.all.lesions,
                    "object_dice_mean": jnum(r.object_dice.0),
                    "object_dice_std": jnum(r.object_dice.1),
                    "avg_recall_mean": jnum(r.all.avg_recall.0),
                    "avg_recall_std": jnum(r.all.avg_recall.1),
                    "cpm_mean": jnum(r.all.cpm.0),
                    "cpm_std": jnum(r.all.cpm.1),
                    "small_below": r.small_below,
                    "small_lesions": r.small.lesions,
                    "small_avg_recall_mean": jnum(r.small.avg_recall.0),
                    "small_avg_recall_std": jnum(r.small.avg_recall.1),
                    "small_cpm_mean": jnum(r.small.cpm.0),
                    "small_cpm_std": jnum(r.small.cpm.1),
                    "large_lesions": r.large.lesions,
                    "large_avg_recall_mean": jnum(r.large.avg_recall.0),
                    "large_avg_recall_std": jnum(r.large.avg_recall.1),
                    "large_cpm_mean": jnum(r.large.cpm.0),
                    "large_cpm_std": jnum(r.large.cpm.1),
                    "bootstrap": match r.bootstrap { BootstrapMode::Paper => "paper", BootstrapMode::Corrected => "corrected" },
                    "match": r.rule.to_string(),
                })
            })
            .collect(),
    )
}
