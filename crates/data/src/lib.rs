//! `iw-data`: the medical volumes of iw, with no libtorch.
//!
//! * [`Volume`] / [`DynVolume`]: voxels in C-order `[z, y, x]` plus [`Geometry`] (spacing,
//!   origin, direction in x, y, z order, LPS world frame). The axis and frame conventions are
//!   written down once, in the [`volume`] module.
//! * [`read_volume`] / [`write_volume`]: NIfTI-1 (`.nii`, `.nii.gz`), MetaImage (`.mhd` +
//!   `.raw`/`.zraw`, `.mha`) and DICOM (a series folder, or one file), chosen by the path.
//! * [`label`]: 6/18/26-connected components with voxel counts and bounding boxes.
//! * [`inverse_weights`]: the paper's inverse-size weights, O(N).
//!
//! ```
//! use iw_data::{label, inverse_weights, Connectivity, WeightBounds};
//! use ndarray::Array3;
//! let mut mask = Array3::<u8>::zeros((4, 4, 4));
//! mask[[1, 1, 1]] = 1;
//! let cc = label(mask.view(), Connectivity::C26);
//! assert_eq!(cc.count(), 1);
//! let w = inverse_weights(cc.labels.view(), WeightBounds::default());
//! assert_eq!(w[[1, 1, 1]], 32.0); // N / ((K + 1) |c|) = 64 / (2 * 1)
//! ```
#![deny(missing_docs)]

mod components;
mod error;
pub mod filters;
pub mod io;
pub mod lidc;
pub mod lidc_bank;
pub mod lits;
pub mod luna16;
pub mod morphology;
pub mod nnunet;
pub mod polygon;
pub mod prepared;
pub mod sampler;
pub mod synth;
pub mod synth_luna;
pub mod synth_mets;
pub mod volume;
mod voronoi;
mod weights;

pub use components::{label, BoundingBox, Component, Components, Connectivity};
pub use error::{Error, Result};
pub use io::{read_volume, write_dyn_volume, write_volume, Format};
pub use volume::{DType, DynVolume, Element, Geometry, ValueStats, Volume};
pub use voronoi::voronoi_regions;
pub use weights::{inverse_weights, label_counts, label_weights, Label, WeightBounds};
