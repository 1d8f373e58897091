//! Device choice: `auto` (the first GPU when CUDA is available, else the CPU), `cpu`, `cuda`,
//! `cuda:N`. Parsing is strict and separate from resolving: [`DeviceSpec::parse`] checks the
//! spelling (so an experiment naming `cuda:1` validates on a machine without a GPU, and `cudax`
//! is an error everywhere); `iw_models::DeviceSpecExt::resolve` asks the machine.
use crate::{Error, Result};

/// A device as written in an experiment or on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The first GPU when CUDA is available, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// GPU `N`.
    Cuda(usize),
}

impl DeviceSpec {
    /// Parses `auto`, `cpu`, `cuda` or `cuda:N` exactly (no spaces, no other spelling).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Device(format!("device must be auto, cpu, cuda or cuda:N, not {s:?}"));
        match s {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            other => {
                let n = other.strip_prefix("cuda:").ok_or_else(bad)?;
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                Ok(DeviceSpec::Cuda(n.parse().map_err(|_| bad())?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_strict() {
        assert_eq!(DeviceSpec::parse("auto").unwrap(), DeviceSpec::Auto);
        assert_eq!(DeviceSpec::parse("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(DeviceSpec::parse("cuda").unwrap(), DeviceSpec::Cuda(0));
        assert_eq!(DeviceSpec::parse("cuda:3").unwrap(), DeviceSpec::Cuda(3));
        for bad in
            ["cudax", "cuda:", "cuda:-1", "cuda:+1", "cuda:1x", " cpu", "CPU", "gpu", "", "cuda:99999999999999999999"]
        {
            let e = DeviceSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("device must be auto, cpu, cuda or cuda:N"), "{bad:?}: {e}");
        }
    }
}
