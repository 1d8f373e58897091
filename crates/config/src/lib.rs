//! `iw-config`: the vocabulary of an experiment that needs no tensors, so that the commands
//! which only read, check or schedule experiments (`iw grid`, `iw reproduce`, validation, the
//! experiment-YAML fuzz target) never load libtorch.
//!
//! * [`loss`]: loss configurations by name (`iwdl`, `blob-iwdl`, `cc-dlbce`, ...), their
//!   parameters and ranges. `iw-losses` computes them.
//! * [`inference`]: the sliding-window settings. `iw-models` runs them.
//! * [`device`]: `auto | cpu | cuda | cuda:N`, parsed strictly. `iw-models` resolves it on the
//!   machine.
#![deny(missing_docs)]

pub mod device;
pub mod inference;
pub mod loss;

pub use device::DeviceSpec;
pub use inference::{Grid, InferenceConfig};
pub use loss::{BaseLoss, Instance, LossConfig, PAPER_CONFIGURATIONS};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with a setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A loss name or parameter.
    #[error("loss configuration: {0}")]
    Loss(String),
    /// A device spelling.
    #[error("model configuration: {0}")]
    Device(String),
}
