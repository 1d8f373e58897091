//! `iw-train`: the part of iw that needs libtorch, and the `iw-torch` binary. It stands on
//! `iw-run` (the run folder, the experiment, the logs), `iw-losses` and `iw-models`, beside
//! `iw-runner` (the `iw` binary, no libtorch), which parses every command and hands these to
//! `iw-torch` by `exec`; neither crate imports the other:
//!
//! * [`stages`]: `iw train`, `iw predict`, `iw run` (train, predict, evaluate) and a grid's run.
//! * [`validation`]: the patch and whole-volume validations of a training run.
//! * [`segment`] and [`segment_cmd`]: `iw segment` (a trained run over the user's own scans):
//!   the scans, preprocessing, outputs and lesion tables, and the network over them.
//! * [`model_cmd`]: `iw model summary`.
//! * [`doctor`]: `iw doctor`.
#![deny(missing_docs)]

pub mod doctor;
pub mod model_cmd;
pub mod segment;
pub mod segment_cmd;
pub mod stages;
pub mod validation;

pub use stages::{predict, run_all, train};
