//! `iw-metrics`: lesion-wise evaluation, exactly as the paper computes it (METHOD.md,
//! "Evaluation"), with no libtorch.
//!
//! * [`evaluate_case`]: the per-lesion records and voxel Dice of one case from its volumes.
//! * [`read_records`] / [`write_records`]: `prc_records.json` in the paper's schema.
//! * [`MatchRule`], [`match_cases`]: the paper's any-overlap rule and the one-to-one IoU rule.
//! * [`froc`], [`Froc::avg_recall`], [`Froc::cpm`], [`object_dice`]: the numbers.
//! * [`RandomState`]: numpy's legacy MT19937, so the bootstrap samples the paper's cases.
//! * [`load_records_dir`], [`evaluate_method`], [`format_table`]: the comparison table;
//!   [`write_froc_figures`]: the FROC figures (PNG and SVG with plotters; the default feature
//!   `figures`, which the Python wheel leaves out).
//!
//! ```
//! use iw_metrics::{froc, paper_thresholds, LesionRecord};
//! let hit = LesionRecord {
//!     obj: "tum_1".into(), is_tum: true, diameter: 5.0, hit_dice: 0.8, hit_max: 0.9,
//!     hit_median: 0.7, hit_q95: 0.85, hit_logit: 2.0, hit_stat: 0.9, hit_obj: "pred_1".into(),
//!     self_stat: 1.0, self_logit: f64::INFINITY, extent: None,
//! };
//! let f = froc([&hit], 1.0, &paper_thresholds(Some(2.0)));
//! assert_eq!(f.recall[0], 1.0);
//! assert_eq!(f.avg_recall(), 1.0);
//! ```
#![deny(missing_docs)]

mod bootstrap;
mod case;
pub mod comparison;
mod error;
mod froc;
mod matching;
pub mod operating;
#[cfg(feature = "figures")]
mod plot;
mod records;
mod report;

pub use bootstrap::{paper_subsets, RandomState};
pub use case::{evaluate_case, logit_of_probability, percentile_sorted, CaseEvaluation};
pub use error::{Error, Result};
pub use froc::{froc, interp, linspace, max_finite_self_logit, mean_std, object_dice, paper_thresholds, Froc};
pub use matching::{match_case, match_cases, MatchRule};
#[cfg(feature = "figures")]
pub use plot::{write_froc_figures, write_line_chart};

/// The loss a method builds on: `iwdl` -> `dl`; and whether iw is on.
pub fn base_loss(method: &str) -> (&str, bool) {
    match method.strip_prefix("iw") {
        Some(rest) if !rest.is_empty() => (rest, true),
        _ => (method, false),
    }
}
pub use records::{format_records, parse_records, read_records, write_records, CaseRecords, Extent, LesionRecord};
pub use report::{
    default_small_below, evaluate_method, evaluate_stratum, format_csv, format_table, load_records_dir, stratify,
    to_json, BootstrapMode, EvalOptions, MethodRecords, Row, Stratum, StratumResult,
};
