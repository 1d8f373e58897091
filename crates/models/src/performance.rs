//! The speed options PyTorch users turn on, as iw has them (issue 21), and what each does on
//! the CPU:
//!
//! * channels-last 3D ([`Trainer::set_channels_last`]): the 5-D weights (and every input of
//!   [`Trainer::forward`]) are laid out N, D, H, W, C in memory (strides of
//!   `torch.channels_last_3d`) while keeping their N, C, D, H, W shape; cuDNN and oneDNN pick
//!   their NDHWC kernels. Applies on the CPU too (oneDNN), same numbers up to rounding.
//! * cuDNN benchmark mode ([`set_cudnn_benchmark`]): cuDNN times its algorithms for each new
//!   shape and keeps the fastest. A process-wide switch; on the CPU it changes nothing.
//! * pinned memory with non-blocking copies ([`upload`]): the host tensor is copied to
//!   page-locked memory and sent with `non_blocking=true`, so the host does not wait for the
//!   copy. CUDA only: on the CPU the tensor is returned as is.
//! * bf16 autocast: [`crate::OptimizerConfig::amp_bf16`] (CUDA only).
//!
//! tch 0.26 has no stream API, so a copy queued with [`upload`] runs on PyTorch's default
//! stream, in order with the kernels: what the prefetch queue of `iw train`
//! (`training.prefetch`) hides is the host's part (staging, pinning, queueing), not the copy's
//! time on the device. It also has no binding for CUDA graphs (`at::cuda::CUDAGraph`), so iw
//! has none.
use crate::error::Result;
use crate::train::Trainer;
use tch::{Device, Tensor};

/// `t` (5-D) with channels-last-3d strides and the same shape and values.
pub fn channels_last_3d(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_permute([0, 2, 3, 4, 1])?.f_contiguous()?.f_permute([0, 4, 1, 2, 3])?)
}

/// Whether a 5-D tensor has channels-last-3d strides (C fastest, then W, H, D, N).
pub fn is_channels_last_3d(t: &Tensor) -> bool {
    let (size, stride) = (t.size(), t.stride());
    if size.len() != 5 {
        return false;
    }
    let want = [size[1] * size[2] * size[3] * size[4], 1, size[1] * size[3] * size[4], size[1] * size[4], size[1]];
    (0..5).all(|i| size[i] == 1 || stride[i] == want[i])
}

/// Turns cuDNN's benchmark mode on or off (process-wide; no effect on the CPU).
pub fn set_cudnn_benchmark(on: bool) {
    tch::Cuda::cudnn_set_benchmark(on);
}

/// `t` on `device`; from pinned memory with a non-blocking copy when `pinned` and the device
/// is CUDA, a plain copy otherwise (the CPU: `t` itself).
pub fn upload(t: &Tensor, device: Device, pinned: bool) -> Result<Tensor> {
    if pinned && device.is_cuda() {
        Ok(t.f_pin_memory(device)?.f_to_device_(device, t.kind(), true, false)?)
    } else {
        Ok(t.f_to_device(device)?)
    }
}

impl Trainer {
    /// Lays the 5-D variables out channels-last (or back to contiguous) and makes
    /// [`Trainer::forward`] convert its inputs the same way. Momentum buffers follow their
    /// parameter's layout from the next step on; checkpoints are written contiguous.
    pub fn set_channels_last(&mut self, on: bool) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for (_, mut v) in self.vs.variables() {
                if v.dim() == 5 {
                    let t = if on { channels_last_3d(&v)? } else { v.f_contiguous()? };
                    v.f_set_data(&t.f_detach()?)?;
                }
            }
            Ok(())
        })?;
        self.channels_last = on;
        Ok(())
    }

    /// Whether channels-last is on.
    pub fn channels_last(&self) -> bool {
        self.channels_last
    }
}
