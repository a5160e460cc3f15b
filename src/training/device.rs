//! Device selection: `auto`, `cpu`, `cuda` or `cuda:N`. `auto` takes CUDA when libtorch was
//! linked with it and sees a GPU; an explicit `cuda` that is not there is an error, never a
//! silent fall back to the CPU (`Device::cuda_if_available` would do exactly that).

use serde::{Deserialize, Serialize};
use tch::{Cuda, Device};

use super::TrainingError;

/// A requested device, as the user spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(into = "String", try_from = "String")]
pub enum DeviceSpec {
    /// CUDA device 0 when available, else CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = TrainingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| {
                    TrainingError::Config(format!(
                        "device '{s}': expected auto, cpu, cuda or cuda:N"
                    ))
                }),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Auto => write!(f, "auto"),
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = TrainingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl DeviceSpec {
    /// Resolves to a libtorch device, failing clearly when CUDA is asked for and missing.
    pub fn resolve(self) -> Result<Device, TrainingError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Auto => {
                Ok(if Cuda::is_available() { Device::Cuda(0) } else { Device::Cpu })
            }
            DeviceSpec::Cuda(n) => {
                if !Cuda::is_available() {
                    return Err(TrainingError::DeviceUnavailable {
                        requested: self.to_string(),
                        reason: "libtorch reports no CUDA device (no GPU visible, no driver, or \
                                 the binary was linked without libtorch_cuda)"
                            .into(),
                    });
                }
                let count = usize::try_from(Cuda::device_count()).unwrap_or(0);
                if n >= count {
                    return Err(TrainingError::DeviceUnavailable {
                        requested: self.to_string(),
                        reason: format!("only {count} CUDA device(s) are visible"),
                    });
                }
                Ok(Device::Cuda(n))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["auto", "cpu", "cuda:1"] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
        }
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn cuda_without_cuda_is_an_error() {
        if Cuda::is_available() {
            return; // Only meaningful on a CPU-only machine.
        }
        let err = DeviceSpec::Cuda(0).resolve().unwrap_err();
        assert!(err.to_string().contains("no CUDA device"), "{err}");
        assert_eq!(DeviceSpec::Auto.resolve().unwrap(), Device::Cpu);
    }
}
