//! The error type of `iw-losses`.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input shapes that must agree do not.
    #[error("{op}: {what} shape {got:?} does not match logits shape {expected:?}")]
    Shape {
        /// The loss.
        op: &'static str,
        /// Which input.
        what: &'static str,
        /// The logits' shape.
        expected: Vec<i64>,
        /// The other input's shape.
        got: Vec<i64>,
    },
    /// An input is malformed in another way (too few dimensions, wrong kind).
    #[error("{op}: {message}")]
    Input {
        /// The loss.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A configuration is invalid (an unknown name, a parameter out of range).
    #[error("loss configuration: {0}")]
    Config(String),
    /// libtorch refused an operation.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
