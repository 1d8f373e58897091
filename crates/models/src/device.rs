//! Device choice: `auto` (the first GPU when CUDA is available, else the CPU), `cpu`, `cuda`,
//! `cuda:N`.
use crate::error::{Error, Result};
use tch::Device;

/// Parses a device string.
pub fn parse_device(s: &str) -> Result<Device> {
    match s.trim() {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => cuda(n),
            None => Err(Error::Config(format!("device must be auto, cpu, cuda or cuda:N, not {other:?}"))),
        },
    }
}

fn cuda(n: usize) -> Result<Device> {
    if !tch::Cuda::is_available() {
        return Err(Error::Config("device cuda requested but CUDA is not available (iw doctor tells why)".into()));
    }
    let count = tch::Cuda::device_count() as usize;
    if n >= count {
        return Err(Error::Config(format!("device cuda:{n} requested but only {count} GPU(s) are visible")));
    }
    Ok(Device::Cuda(n))
}
