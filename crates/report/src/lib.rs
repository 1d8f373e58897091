//! `iw-report`: the HTML report of a comparison and the TensorBoard event files of a run.
//!
//! * [`write_report`]: `report.html`, one self-contained page: the paper's table and the
//!   operating-point table (sortable), FROC curves and a forest plot of the iw-minus-base
//!   differences as inline SVG, the training curves of every run, and the lesion gallery
//!   ([`gallery`]): three orthogonal slices through every test lesion with the ground-truth and
//!   predicted contours, each configuration marking it found or missed.
//! * [`operating_summary`]: the operating points and paired differences of a set of runs, in
//!   the shape of `iw reproduce`'s report.json.
//! * [`tfevents`]: TensorBoard scalars, appended as training goes.
//! * [`overlay`]: a slice with a mask's outlines as a PNG (`iw segment --overlay-png`).
//!
//! No libtorch: the report reads the prepared volumes, the saved predictions and the records.
#![deny(missing_docs)]

mod charts;
mod error;
pub mod gallery;
mod html;
pub mod overlay;
mod summary;
pub mod tfevents;

pub use error::{Error, Result};
pub use html::{colour, render, write_report, ReportInput, RuleReport, RunCurves, Written, DIFF_METRICS};
pub use summary::{operating_summary, read_case_dice, OperatingSummary};
