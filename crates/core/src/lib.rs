//! `iw-core`: the pure maths of iw, with nothing but ndarray and thiserror underneath.
//!
//! * [`Volume`] / [`DynVolume`]: voxels in C-order `[z, y, x]` plus [`Geometry`] (spacing,
//!   origin, direction in x, y, z order, LPS world frame). The axis and frame conventions are
//!   written down once, in the [`volume`] module.
//! * [`label`]: 6/18/26-connected components with voxel counts and bounding boxes.
//! * [`inverse_weights`]: the paper's inverse-size weights, O(N).
//! * [`morphology`], [`voronoi_regions`], [`filters`], [`polygon`]: the LUNA16 lung mask, the
//!   CC loss's regions, the phantoms' blur, the LIDC contour fill.
//! * [`RandomState`]: numpy's legacy generator, bit for bit (the paper's bootstrap, sklearn's
//!   split).
//! * [`datasets`]: the datasets iw knows, their two names and small-lesion thresholds.
//! * [`atomic`]: every writer's temporary-file-then-rename.
//! * [`alloc`]: fallible allocation of the large buffers ([`try_label`] and
//!   [`try_inverse_weights`] use it: a volume too large for the machine is an
//!   [`Error::OutOfMemory`], not an abort).
//!
//! Reading and writing volumes is `iw-io`'s job; this crate has no file formats.
//!
//! ```
//! use iw_core::{label, inverse_weights, Connectivity, WeightBounds};
//! use ndarray::Array3;
//! let mut mask = Array3::<u8>::zeros((4, 4, 4));
//! mask[[1, 1, 1]] = 1;
//! let cc = label(mask.view(), Connectivity::C26);
//! assert_eq!(cc.count(), 1);
//! let w = inverse_weights(cc.labels.view(), WeightBounds::default());
//! assert_eq!(w[[1, 1, 1]], 32.0); // N / ((K + 1) |c|) = 64 / (2 * 1)
//! ```
#![deny(missing_docs)]

pub mod alloc;
pub mod atomic;
mod components;
pub mod datasets;
mod error;
pub mod filters;
pub mod morphology;
pub mod polygon;
mod random;
pub mod volume;
mod voronoi;
mod weights;

pub use atomic::{remove_stale_temporaries, write_atomically, write_file_atomically};
pub use components::{label, try_label, BoundingBox, Component, Components, Connectivity};
pub use error::{human_bytes, Error, Result};
pub use random::RandomState;
pub use volume::{DType, DynVolume, Element, FileHeader, Geometry, ValueStats, Volume};
pub use voronoi::voronoi_regions;
pub use weights::{
    inverse_weights, label_counts, label_weights, try_inverse_weights, try_inverse_weights_into, Label, WeightBounds,
};
