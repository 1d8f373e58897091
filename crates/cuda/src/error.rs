//! The error type of `iw-cuda`.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// libnvrtc could not be found or opened.
    #[error("no libnvrtc: {0}")]
    NoNvrtc(String),
    /// The CUDA driver (libcuda) is absent or has no device.
    #[error("no CUDA: {0}")]
    NoCuda(String),
    /// A kernel failed to compile; the message carries NVRTC's log.
    #[error("NVRTC could not compile {kernel} for {arch}: {log}")]
    Compile {
        /// The kernel source's name.
        kernel: String,
        /// The target (`compute_90`, `sm_90`).
        arch: String,
        /// The compiler's log (or the NVRTC error string when the log is empty).
        log: String,
    },
    /// A driver API call failed.
    #[error("CUDA driver: {call} failed: {message}")]
    Driver {
        /// The call.
        call: &'static str,
        /// cuGetErrorString's text and the code.
        message: String,
    },
    /// An input is unusable (wrong rank, device, size).
    #[error("{0}")]
    Input(String),
    /// libtorch refused an operation.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
