//! Device strings (`cpu`, `cuda:N`, `wgpu`) to Burn devices, in the precision a pipeline asks for.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr;

use burn::tensor::{Device, FloatDType};

use super::error::ModelError;
use crate::ir::{self, Precision};

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
            help: "write `cpu`, `cuda`, `cuda(N)` (or `cuda:N`) or `wgpu`, as in a pipeline file"
                .to_string(),
        };
        // The file forms: `cuda(1)` is `cuda:1`.
        let text = s.trim();
        let text = match text.strip_suffix(')').and_then(|t| t.split_once('(')) {
            Some((kind, index)) => format!("{}:{}", kind.trim(), index.trim()),
            None => text.to_string(),
        };
        let (kind, index) = match text.split_once(':') {
            Some((kind, index)) => (
                kind,
                index
                    .parse::<usize>()
                    .map_err(|_| bad("the GPU index is not a number"))?,
            ),
            None => (text.as_str(), 0),
        };
        match (kind, index) {
            ("cpu", 0) => Ok(Self::Cpu),
            ("cuda", n) => Ok(Self::Cuda(n)),
            ("wgpu", 0) => Ok(Self::Wgpu),
            ("cpu" | "wgpu", _) => Err(bad("only the first adapter can be chosen")),
            _ => Err(bad("unknown device")),
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

impl From<ir::Device> for DeviceSpec {
    fn from(device: ir::Device) -> Self {
        match device {
            ir::Device::Cpu => Self::Cpu,
            ir::Device::Cuda(i) => Self::Cuda(i as usize),
            ir::Device::Wgpu(_) => Self::Wgpu,
        }
    }
}

/// Which pipeline key a device problem is about (where its diagnostic points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// `model.device`: the backend is missing or the device cannot be opened.
    Device,
    /// `model.precision`: the device cannot compute in that precision.
    Precision,
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

    /// The device with `precision` as its default float type, so that every weight loaded onto
    /// it and every activation computed on it uses that type.
    pub fn device_in(&self, precision: Precision) -> Result<Device, ModelError> {
        self.open(precision).map_err(|(_, e)| e)
    }

    /// [`Self::device_in`], also saying which key to blame on failure.
    pub fn open(&self, precision: Precision) -> Result<Device, (Blame, ModelError)> {
        let mut device = self.device().map_err(|e| (Blame::Device, e))?;
        let wanted = float_dtype(precision);
        let problem = |blame, what: String, help: &str| {
            let e = ModelError::Device {
                spec: self.to_string(),
                what,
                help: help.to_string(),
            };
            (blame, e)
        };
        // flex could store bf16, but lpipe's CPU path (kernels, references, tolerances) is f32.
        if *self == Self::Cpu && precision != Precision::F32 {
            return Err(problem(
                Blame::Precision,
                format!(
                    "precision `{}` is not available on the CPU",
                    precision.name()
                ),
                "use `precision = f32` on `cpu`; bf16 and f16 need a GPU device (`cuda:N`)",
            ));
        }
        // Opening a GPU runtime panics inside Burn/CubeCL when no driver or device is present.
        let supported = quietly(|| device.supports_dtype(wanted)).map_err(|msg| {
            problem(
                Blame::Device,
                format!("the device cannot be opened: {msg}"),
                "check that the NVIDIA driver is installed and `nvidia-smi` lists this GPU \
                 (CUDA_VISIBLE_DEVICES renumbers them), or use `cpu`",
            )
        })?;
        if !supported {
            return Err(problem(
                Blame::Precision,
                format!("this device cannot compute in `{}`", precision.name()),
                "use `precision = f32` (or `f16` on GPUs without bf16)",
            ));
        }
        if device.settings().float_dtype == wanted {
            return Ok(device);
        }
        // Settings lock on a device's first tensor; an earlier run in this process may have
        // locked them to another precision.
        if device.configure(wanted).is_err() && device.settings().float_dtype != wanted {
            return Err(problem(
                Blame::Precision,
                format!(
                    "the device already runs in {:?} in this process",
                    device.settings().float_dtype
                ),
                "run the sweep points with different precisions separately (`lpipe run --point N`)",
            ));
        }
        Ok(device)
    }
}

/// Burn's float type for a pipeline precision.
pub fn float_dtype(precision: Precision) -> FloatDType {
    match precision {
        Precision::F32 => FloatDType::F32,
        Precision::Bf16 => FloatDType::BF16,
        Precision::F16 => FloatDType::F16,
    }
}

/// Runs `f`, turning a panic into its message without printing it.
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    out.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the backend panicked".into())
    })
}

fn missing(spec: &DeviceSpec, feature: &str) -> ModelError {
    ModelError::Device {
        spec: spec.to_string(),
        what: format!("this lpipe binary was built without the `{feature}` backend"),
        help: format!(
            "rebuild with `cargo build --release --features {feature}`{}, or use `cpu`",
            if feature == "cuda" {
                " (offline: run scripts/llvm-offline.sh first; scripts/gpu-build.sh does both)"
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
        assert_eq!(
            "cuda(2)".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Cuda(2)
        );
        assert_eq!("wgpu(0)".parse::<DeviceSpec>().unwrap(), DeviceSpec::Wgpu);
        for bad in ["gpu", "cuda:x", "cuda:-1", "", "wgpu:1", "cuda(", "cpu(1)"] {
            let e = bad.parse::<DeviceSpec>().unwrap_err();
            assert_eq!(e.code().unwrap().to_string(), "lpipe::E317", "{bad}");
        }
        assert_eq!(DeviceSpec::Cuda(2).to_string(), "cuda:2");
        assert_eq!(DeviceSpec::from(ir::Device::Cuda(1)), DeviceSpec::Cuda(1));
    }

    #[test]
    fn cpu_is_flex_and_missing_backends_are_diagnosed() {
        let cpu = DeviceSpec::Cpu.device().unwrap();
        assert!(has_native_gqa(&cpu));
        #[cfg(not(feature = "cuda"))]
        {
            let e = DeviceSpec::Cuda(0).device().unwrap_err();
            assert!(e.to_string().contains("without the `cuda` backend"), "{e}");
            let help = e.help().unwrap().to_string();
            assert!(help.contains("--features cuda"), "{help}");
        }
    }

    #[test]
    fn cpu_computes_in_f32_only() {
        let cpu = DeviceSpec::Cpu.device_in(Precision::F32).unwrap();
        assert_eq!(cpu.settings().float_dtype, FloatDType::F32);
        for p in [Precision::Bf16, Precision::F16] {
            let (blame, e) = DeviceSpec::Cpu.open(p).unwrap_err();
            assert_eq!(blame, Blame::Precision);
            assert!(e.to_string().contains(p.name()), "{e}");
            assert!(e.help().unwrap().to_string().contains("precision = f32"));
        }
    }
}
