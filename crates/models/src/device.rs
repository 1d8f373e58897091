//! Device choice on this machine. The spelling (`auto`, `cpu`, `cuda`, `cuda:N`) is parsed by
//! `iw_config::DeviceSpec` (re-exported here), strictly and without libtorch, so that an
//! experiment naming `cuda:1` validates on a machine without a GPU and `cudax` is an error
//! everywhere; [`DeviceSpecExt::resolve`] asks the machine.
use crate::error::{Error, Result};
use tch::Device;

pub use iw_config::DeviceSpec;

/// Resolving a [`DeviceSpec`] on this machine.
pub trait DeviceSpecExt {
    /// The device on this machine; an error when a GPU is asked for and not there.
    fn resolve(self) -> Result<Device>;
}

impl DeviceSpecExt for DeviceSpec {
    fn resolve(self) -> Result<Device> {
        match self {
            DeviceSpec::Auto => Ok(Device::cuda_if_available()),
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => cuda(n),
        }
    }
}

/// Parses and resolves a device string.
pub fn parse_device(s: &str) -> Result<Device> {
    DeviceSpec::parse(s).map_err(|e| Error::Config(strip_prefix(e)))?.resolve()
}

/// The message of a spelling error without its "model configuration: " prefix (this crate's
/// `Error::Config` adds it again).
fn strip_prefix(e: iw_config::Error) -> String {
    match e {
        iw_config::Error::Device(m) => m,
        other => other.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_spelling_is_a_config_error_once_prefixed() {
        let e = parse_device("cudax").unwrap_err().to_string();
        assert_eq!(e, "model configuration: device must be auto, cpu, cuda or cuda:N, not \"cudax\"");
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
    }
}
