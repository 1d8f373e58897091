//! `iw-train`: the part of iw that needs libtorch, and the `iw-torch` binary. `iw` (crate
//! `iw-runner`, no libtorch) parses every command and hands these to `iw-torch` by `exec`:
//!
//! * [`stages`]: `iw train`, `iw predict`, `iw run` (train, predict, evaluate) and a grid's run.
//! * [`validation`]: the patch and whole-volume validations of a training run.
//! * [`segment_cmd`]: `iw segment` (a trained run over the user's own scans).
//! * [`model_cmd`]: `iw model summary`.
//! * [`doctor`]: `iw doctor`.
#![deny(missing_docs)]

pub mod doctor;
pub mod model_cmd;
pub mod segment_cmd;
pub mod stages;
pub mod validation;

pub use stages::{predict, run_all, train};
