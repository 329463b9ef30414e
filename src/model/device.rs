//! Device strings (`cpu`, `cuda:N`, `wgpu`) to Burn devices.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use super::error::ModelError;

/// Where a model runs, as a pipeline or `--device` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// The pure-Rust `flex` CPU backend.
    #[default]
    Cpu,
    /// NVIDIA GPU `N` through burn-cuda (`cuda` feature).
    Cuda(usize),
    /// The default wgpu adapter (`wgpu` feature; lavapipe on machines without a GPU).
    Wgpu,
}

impl FromStr for DeviceSpec {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        let bad = |what: &str| ModelError::Device {
            spec: s.to_string(),
            what: what.to_string(),
            help: "write `cpu`, `cuda`, `cuda:N` or `wgpu`".to_string(),
        };
        match s.trim() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            "wgpu" => Ok(Self::Wgpu),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n
                    .parse()
                    .map(Self::Cuda)
                    .map_err(|_| bad("the GPU index is not a number")),
                None => Err(bad("unknown device")),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Wgpu => f.write_str("wgpu"),
        }
    }
}

impl DeviceSpec {
    /// The Burn device, or a diagnostic when this binary was built without its backend.
    pub fn device(&self) -> Result<Device, ModelError> {
        match *self {
            Self::Cpu => Ok(Device::flex()),
            Self::Cuda(index) => cuda(index, self),
            Self::Wgpu => wgpu(self),
        }
    }
}

fn missing(spec: &DeviceSpec, feature: &str) -> ModelError {
    ModelError::Device {
        spec: spec.to_string(),
        what: format!("this lpipe binary was built without the `{feature}` backend"),
        help: format!(
            "rebuild with `cargo build --release --features {feature}`{}, or use `cpu`",
            if feature == "cuda" {
                " (offline: run scripts/llvm-offline.sh first)"
            } else {
                ""
            }
        ),
    }
}

#[cfg(feature = "cuda")]
fn cuda(index: usize, _spec: &DeviceSpec) -> Result<Device, ModelError> {
    Ok(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize, spec: &DeviceSpec) -> Result<Device, ModelError> {
    Err(missing(spec, "cuda"))
}

#[cfg(feature = "wgpu")]
fn wgpu(_spec: &DeviceSpec) -> Result<Device, ModelError> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(spec: &DeviceSpec) -> Result<Device, ModelError> {
    Err(missing(spec, "wgpu"))
}

/// Whether `device`'s attention kernel accepts fewer key/value heads than query heads
/// (flex's does; elsewhere K/V heads are repeated before attention).
pub fn has_native_gqa(device: &Device) -> bool {
    *device == Device::flex()
}

#[cfg(test)]
mod tests {
    use miette::Diagnostic;

    use super::*;

    #[test]
    fn parses_device_strings() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        assert_eq!("wgpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Wgpu);
        for bad in ["gpu", "cuda:x", "cuda:-1", ""] {
            let e = bad.parse::<DeviceSpec>().unwrap_err();
            assert_eq!(e.code().unwrap().to_string(), "lpipe::E317", "{bad}");
        }
        assert_eq!(DeviceSpec::Cuda(2).to_string(), "cuda:2");
    }

    #[test]
    fn cpu_is_flex_and_missing_backends_are_diagnosed() {
        let cpu = DeviceSpec::Cpu.device().unwrap();
        assert!(has_native_gqa(&cpu));
        #[cfg(not(feature = "cuda"))]
        {
            let e = DeviceSpec::Cuda(0).device().unwrap_err();
            assert!(e.to_string().contains("without the `cuda` backend"), "{e}");
        }
    }
}
