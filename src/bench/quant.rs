//! `lpipe bench quant`: CPU 4-bit throughput against a memcpy of the same output measured in the
//! same run, and the 4-bit linear layer (flex reference path) against a dense f32 one.

use std::hint::black_box;
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor, TensorData};

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
    /// Device for the device-side rows: `flex` (CPU reference path), `wgpu` or `cuda`.
    #[arg(long, default_value = "flex")]
    pub device: String,
}

/// The device named on the command line, if this build has it.
fn device(name: &str) -> Result<Device, quant::QuantError> {
    match name {
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0usize)),
        other => Err(quant::QuantError::UnsupportedDevice {
            name: other.to_string(),
        }),
    }
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
    let device = device(&args.device)?;
    device_rows(args, &device);
    Ok(())
}

/// On the chosen device: dequantize against an elementwise copy of the same bytes, and a 4-bit
/// linear layer (forward + input gradient) against the dense f32 one.
fn device_rows(args: &Args, device: &Device) {
    let (d, m) = (args.layer, args.tokens);
    let w_host = random(d * d);
    let Ok(q) = quant::quantize("bench", &w_host, &[d, d], QuantType::Nf4, 64, true) else {
        return;
    };
    let packed = q.to_device(device);
    let w = Tensor::<2>::from_data(TensorData::new(w_host, [d, d]), device);
    let x = Tensor::<2>::random([m, d], Distribution::Default, device);
    let sync = |t: Tensor<2>| {
        // Reading a value back waits for the queued kernels on every backend.
        let _ = device.sync();
        t
    };
    let gb = (d * d * 4) as f64 / 1e9;
    let copy = best(args.reps, || sync(w.clone().mul_scalar(1.0)));
    let deq = best(args.reps, || sync(packed.dequantize()));
    let dense = best(args.reps, || {
        let y = x.clone().matmul(w.clone().transpose());
        sync(y.matmul(w.clone()))
    });
    let four = best(args.reps, || {
        let y = packed.matmul(x.clone());
        sync(packed.matmul_input_grad(y))
    });
    println!("\non {} ({d}x{d} weight, {m} tokens):", args.device);
    println!(
        "{:<40} {:>10} {:>10} {:>8}",
        "operation", "ms", "GB/s", "ratio"
    );
    println!(
        "{:<40} {:>10.3} {:>10.2} {:>8.2}",
        "reference: elementwise copy (w * 1)",
        copy * 1e3,
        gb / copy,
        1.0
    );
    println!(
        "{:<40} {:>10.3} {:>10.2} {:>8.2}",
        "dequantize nf4+dq -> f32",
        deq * 1e3,
        gb / deq,
        copy / deq
    );
    println!(
        "{:<40} {:>10.3} {:>10} {:>8.2}",
        "dense linear fwd + input grad (LoRA)",
        dense * 1e3,
        "",
        1.0
    );
    println!(
        "{:<40} {:>10.3} {:>10} {:>8.2}",
        "4-bit linear fwd + input grad (QLoRA)",
        four * 1e3,
        "",
        four / dense
    );
}
