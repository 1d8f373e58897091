//! `iw-cuda`: CUDA kernels of iw, compiled at run time with NVRTC and launched through the CUDA
//! driver API, both opened with `libloading` (nothing CUDA is linked, so the crate builds and its
//! CPU parts run anywhere).
//!
//! * [`nvrtc::compile`]: CUDA C to PTX or CUBIN; libnvrtc comes with the CUDA build of PyTorch
//!   (`site-packages/nvidia/*/lib`) and is found beside the libtorch this process links. Needs no
//!   GPU, so CI compiles every kernel of [`KERNELS`].
//! * [`label_cuda`]: connected-component labelling (6, 18, 26) of a mask tensor on CUDA, equal voxel
//!   for voxel to `iw_core::label` (components numbered by their first voxel in C order).
//! * [`label_emulated`]: the same algorithm run serially on the CPU, to test it without a GPU.
//!
//! **Who calls it.** Nothing on the pipeline path yet: the training weights are computed from
//! the whole-volume labels the sampler crops on the CPU (the paper's per-patch weights of a crop
//! of a whole-volume labelling), and the evaluation labels the saved predictions in iw-metrics,
//! which is torch-free. Its planned callers (issue 30, written and checked only where a GPU is
//! lent): the evaluation of a run on CUDA, labelling each prediction on the device before the
//! records are counted, and the whole-volume labelling behind the training weights when the
//! volumes are on CUDA; each behind [`available`], each equal to the CPU path, which
//! [`label_emulated`] checks in `make test` without a GPU.
//!
//! ```no_run
//! let mask = tch::Tensor::zeros([64, 64, 64], (tch::Kind::Uint8, tch::Device::Cuda(0)));
//! let out = iw_cuda::label_cuda(&mask, 26)?;
//! assert_eq!(out.count, 0);
//! # Ok::<(), iw_cuda::Error>(())
//! ```
#![deny(missing_docs)]

mod ccl;
pub mod driver;
mod error;
pub mod nvrtc;

pub use ccl::{label_cuda, label_emulated, Labelled, TILE_XYZ};
pub use error::{Error, Result};

/// Every kernel source of the crate, `(name, CUDA C)`: what CI compiles.
pub const KERNELS: &[(&str, &str)] = &[("ccl.cu", ccl::SOURCE)];

/// Whether CUDA kernels can run here: a CUDA device for tch, the driver and NVRTC.
pub fn available() -> Result<()> {
    if !tch::Cuda::is_available() {
        return Err(Error::NoCuda("tch sees no CUDA device".into()));
    }
    driver::driver()?;
    nvrtc::nvrtc()?;
    Ok(())
}
