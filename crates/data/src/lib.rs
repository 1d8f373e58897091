//! `iw-data`: datasets on disk for iw, with no libtorch.
//!
//! * [`prepared`]: the prepared-dataset format, built for fast random patch reads: its reader
//!   (memory-mapped cases) and its writer (cases, `cases.csv`, `manifest.yaml`, `dataset.json`),
//!   and the typed side file `synthetic.json`.
//! * [`sampler`]: the paper's patch sampler over a prepared dataset, in worker threads.
//! * [`lits`], [`luna16`] (+ [`lidc`], the readers' XML), [`nnunet`]: the raw layouts and their
//!   preparation into the prepared format.
//! * [`manifest`]: the case ids and splits (`data-manifests/*.yaml`) and the LUNA16 rules.
//!
//! Volumes, components and weights are `iw-core`'s, file formats `iw-io`'s.
#![deny(missing_docs)]

mod error;
pub mod lidc;
pub mod lits;
pub mod luna16;
pub mod manifest;
pub mod nnunet;
pub mod prepared;
pub mod sampler;

pub use error::{Error, Result};

/// Preparation reads only finite voxels: a NaN or infinite value in an image or a mask is an
/// error naming the file (`what`: "image", "mask"), so a prepared folder never holds them.
pub fn require_finite(v: &iw_core::Volume<f32>, path: &std::path::Path, what: &str) -> Result<()> {
    let bad = v.data.iter().filter(|x| !x.is_finite()).count();
    if bad > 0 {
        return Err(Error::Format {
            path: path.to_path_buf(),
            message: format!("{bad} non-finite (NaN or infinite) voxel(s) in the {what}; iw needs finite values"),
        });
    }
    Ok(())
}
