//! `lpipe bench quant`: CPU 4-bit throughput against a memcpy of the same output measured in the
//! same run, and the 4-bit linear layer (flex reference path) against a dense f32 one.

use std::hint::black_box;
use std::time::Instant;

use burn::tensor::{DType, Device, Distribution, FloatDType, Tensor, TensorData};

use crate::ir::Precision;
use crate::model::device::DeviceSpec;

use crate::quant::{self, QuantType};

/// Arguments of `lpipe bench quant`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Weight rows (output features); Llama-2-7B's q_proj is 4096.
    #[arg(long, default_value_t = 4096)]
    pub rows: usize,
    /// Weight columns (input features).
    #[arg(long, default_value_t = 4096)]
    pub cols: usize,
    /// Repetitions per measurement (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Tokens for the linear-layer comparison.
    #[arg(long, default_value_t = 128)]
    pub tokens: usize,
    /// Side of the square linear layer in the layer comparison.
    #[arg(long, default_value_t = 1024)]
    pub layer: usize,
    /// Device for the device-side rows: `flex`/`cpu` (CPU reference path, f32), `wgpu` or
    /// `cuda[:N]` (bf16).
    #[arg(long, default_value = "flex")]
    pub device: String,
}

/// The device named on the command line, if this build has it, and the float dtype its rows
/// use: f32 on flex, bf16 (a training run's precision) on a GPU.
fn device(name: &str) -> Result<(Device, FloatDType), quant::QuantError> {
    let unsupported = || quant::QuantError::UnsupportedDevice {
        name: name.to_string(),
    };
    if name == "flex" {
        return Ok((Device::flex(), FloatDType::F32));
    }
    let spec: DeviceSpec = name.parse().map_err(|_| unsupported())?;
    if spec == DeviceSpec::Cpu {
        return Ok((Device::flex(), FloatDType::F32));
    }
    let device = spec.device_in(Precision::Bf16).map_err(|_| unsupported())?;
    Ok((device, FloatDType::BF16))
}

fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn random(n: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1
        })
        .collect()
}

/// Runs the benchmark and prints the table.
pub fn run(args: &Args) -> Result<(), quant::QuantError> {
    let n = args.rows * args.cols;
    let x = random(n);
    let shape = [args.rows, args.cols];
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let out_gb = (n * 4) as f64 / 1e9;
    println!(
        "lpipe bench quant: {}x{} f32 weight ({:.0} MiB), {threads} threads, best of {}",
        args.rows,
        args.cols,
        out_gb * 1e9 / 1048576.0,
        args.reps
    );
    println!(
        "{:<40} {:>10} {:>10} {:>8}",
        "operation", "ms", "GB/s", "vs copy"
    );
    let mut dst = vec![0f32; n];
    let copy = best(args.reps, || dst.copy_from_slice(&x));
    let row = |name: &str, secs: f64| {
        println!(
            "{name:<40} {:>10.2} {:>10.2} {:>8.2}",
            secs * 1e3,
            out_gb / secs,
            copy / secs
        );
    };
    row("reference: memcpy f32 (same bytes)", copy);
    for (qt, dq) in [
        (QuantType::Nf4, false),
        (QuantType::Nf4, true),
        (QuantType::Fp4, false),
    ] {
        let label = format!("{qt}{}", if dq { "+dq" } else { "" });
        let mut q = None;
        let t = best(args.reps, || {
            q = Some(quant::quantize("bench", &x, &shape, qt, 64, dq))
        });
        let q = q.ok_or(quant::QuantError::BadBlockSize { block_size: 0 })??;
        row(&format!("quantize {label} (f32 in)"), t);
        let mut out = vec![0f32; n];
        let t = best(args.reps, || quant::dequantize_into(&q, &mut out));
        row(&format!("dequantize {label} -> f32"), t);
    }
    let (device, dtype) = device(&args.device)?;
    device_rows(args, &device, dtype);
    Ok(())
}

/// On the chosen device, in `dtype`: dequantize against an elementwise copy of the same output
/// bytes, and a 4-bit linear layer (forward + input gradient) against the dense one.
fn device_rows(args: &Args, device: &Device, dtype: FloatDType) {
    let (d, m) = (args.layer, args.tokens);
    let w_host = random(d * d);
    let Ok(q) = quant::quantize("bench", &w_host, &[d, d], QuantType::Nf4, 64, true) else {
        return;
    };
    let packed = q.to_device(device);
    let dt = DType::from(dtype);
    let w = Tensor::<2>::from_data(TensorData::new(w_host, [d, d]), (device, dt));
    let x = Tensor::<2>::random([m, d], Distribution::Default, (device, dt));
    let sync = |t: Tensor<2>| {
        let _ = device.sync();
        t
    };
    let gb = (d * d * dt.size()) as f64 / 1e9;
    let copy = best(args.reps, || sync(w.clone().mul_scalar(1.0)));
    let deq = best(args.reps, || sync(packed.dequantize_to(dtype)));
    let dense = best(args.reps, || {
        let y = x.clone().matmul(w.clone().transpose());
        sync(y.matmul(w.clone()))
    });
    let four = best(args.reps, || {
        let y = packed.matmul(x.clone());
        sync(packed.matmul_input_grad(y))
    });
    let name = format!("{dtype:?}").to_lowercase();
    println!(
        "\non {} in {name} ({d}x{d} weight, {m} tokens):",
        args.device
    );
    println!(
        "{:<40} {:>10} {:>10} {:>8}",
        "operation", "ms", "GB/s", "ratio"
    );
    let rows = [
        (
            "reference: elementwise copy (w * 1)".to_string(),
            copy,
            Some(gb / copy),
            1.0,
        ),
        (
            format!("dequantize nf4+dq -> {name}"),
            deq,
            Some(gb / deq),
            copy / deq,
        ),
        (
            "dense linear fwd + input grad (LoRA)".to_string(),
            dense,
            None,
            1.0,
        ),
        (
            "4-bit linear fwd + input grad (QLoRA)".to_string(),
            four,
            None,
            four / dense,
        ),
    ];
    for (label, secs, rate, ratio) in rows {
        let rate = rate.map_or(String::new(), |r| format!("{r:.2}"));
        println!("{label:<40} {:>10.3} {rate:>10} {ratio:>8.2}", secs * 1e3);
    }
}
