//! `iw-models`: the paper's 3D residual U-Net, its training step and sliding-window inference,
//! on libtorch through tch, on CPU or CUDA.
//!
//! * [`ResUNet`]: the network (`width`, `depth` for CPU-sized runs), [`ResUNet::summary`].
//! * [`Trainer`]: forward, a loss closure, backward, SGD with Nesterov momentum written out
//!   (so that its momentum buffers are checkpointed), the step schedule, gradient clipping,
//!   a stop on non-finite losses; atomic checkpoints that resume a run exactly.
//! * [`sliding_window`]: grid inference over any predictor: the authors' grid
//!   ([`Grid::Paper`]) or a border-flush one, with optional Gaussian weighting and mirroring.
//! * [`Trainer::set_channels_last`], [`set_cudnn_benchmark`], [`upload`] (pinned memory,
//!   non-blocking copies): the speed options, and what each does on the CPU.
//! * [`parse_device`]: `auto | cpu | cuda[:N]`.
#![deny(missing_docs)]

mod device;
mod error;
mod inference;
mod performance;
mod train;
mod unet;

pub use device::{parse_device, DeviceSpec, DeviceSpecExt};
pub use error::{Error, Result};
pub use inference::{sliding_window, Grid, InferenceConfig, Prediction};
pub use performance::{channels_last_3d, is_channels_last_3d, set_cudnn_benchmark, upload};
pub use train::{lr_at, Checkpoint, LrSchedule, OptimizerConfig, StepPhase, Trainer};
pub use unet::{parameter_count, LayerInfo, PreAct, ResBlock, ResUNet, UNetConfig};
