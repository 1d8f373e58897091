//! The error type of `iw-models`.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration is invalid.
    #[error("model configuration: {0}")]
    Config(String),
    /// An input has the wrong shape.
    #[error("{0}")]
    Shape(String),
    /// Training produced a non-finite loss.
    #[error("non-finite loss ({value}) at step {step}: training stopped (lower the learning rate, enable gradient clipping, or check the data)")]
    NonFinite {
        /// The step (0-based).
        step: u64,
        /// The loss value.
        value: f64,
    },
    /// A checkpoint could not be written or read.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What happened.
        message: String,
    },
    /// The loss function failed.
    #[error("loss: {0}")]
    Loss(String),
    /// libtorch refused an operation.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
