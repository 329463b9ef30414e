//! Every kernel against its plain-tensor reference, and the custom backward against autodiff
//! through the reference. The reference runs on `flex`; the kernels run on `wgpu` (Mesa lavapipe
//! in CI) when the `wgpu` feature is on: `cargo test -p lpipe-kernels --features wgpu`.
//!
//! Three implementations meet here: the plain-tensor references (`reference.rs`, Burn primitive
//! ops, run on `Flex` primitives below), the host code `flex` runs (`host.rs`), and the CubeCL
//! kernels. Host and reference are checked against the per-element formula, the kernels against
//! the reference.
//!
//! Tolerances: dequantization is one f32 product per element on both sides, so it must be
//! identical. Matmuls sum `K` products in different orders (the kernel sequentially, the dense
//! reference in blocks); each order is within `γ_K · Σ|x·w|` of the exact sum (`γ_K ≈ K·2⁻²⁴`,
//! Higham's recursive-summation bound), so they may differ by twice that, checked per element.

use burn::backend::Flex;
use burn::tensor::{Device, Tensor, TensorData};
use lpipe_kernels::{HostQ4, HostScales, Packed4, PackedScales, Q4Layout, reference};

/// NF4 code table (bitsandbytes `get_4bit_type("nf4")`).
const NF4: [f32; 16] = [
    -1.0,
    -0.696_192_8,
    -0.525_073_05,
    -0.394_917_5,
    -0.284_441_38,
    -0.184_773_43,
    -0.091_050_036,
    0.0,
    0.079_580_3,
    0.160_930_2,
    0.246_112_3,
    0.337_915_24,
    0.440_709_83,
    0.562_617,
    0.722_956_84,
    1.0,
];

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn floats(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| lo + (hi - lo) * self.unit()).collect()
    }
}

/// A random 4-bit weight (any byte is a valid pair of nibbles) with plain or nested scales.
struct Case {
    layout: Q4Layout,
    packed: Vec<u8>,
    absmax: Vec<f32>,
    codes: Vec<u8>,
    absmax2: Vec<f32>,
    code2: Vec<f32>,
}

impl Case {
    fn new(rows: usize, cols: usize, block_size: usize, seed: u64) -> Self {
        let layout = Q4Layout {
            rows,
            cols,
            block_size,
        };
        let mut rng = Rng(seed);
        let nb = layout.n_blocks();
        let mut code2 = rng.floats(256, -1.0, 1.0);
        code2.sort_by(f32::total_cmp);
        Case {
            layout,
            packed: rng.bytes(layout.numel().div_ceil(2)),
            absmax: rng.floats(nb, 0.01, 2.0),
            codes: rng.bytes(nb),
            absmax2: rng.floats(nb.div_ceil(256), 0.1, 1.0),
            code2,
        }
    }

    fn host(&self, nested: bool) -> HostQ4<'_> {
        let scales = if nested {
            HostScales::Nested {
                codes: &self.codes,
                absmax: &self.absmax2,
                code: &self.code2,
                block_size: 256,
                offset: 0.75,
            }
        } else {
            HostScales::Plain(&self.absmax)
        };
        HostQ4 {
            layout: self.layout,
            packed: &self.packed,
            code: NF4,
            scales,
        }
    }

    /// The dequantized weight computed on the host, element by element.
    fn host_dequant(&self) -> Vec<f32> {
        (0..self.layout.numel())
            .map(|i| {
                let byte = self.packed[i / 2];
                let nib = if i % 2 == 0 { byte >> 4 } else { byte & 15 };
                NF4[nib as usize] * self.absmax[i / self.layout.block_size]
            })
            .collect()
    }
}

/// Shapes with element counts not divisible by the block size, odd counts and multi-row blocks.
const SHAPES: [(usize, usize, usize); 5] = [
    (7, 9, 32),
    (64, 64, 64),
    (33, 100, 64),
    (5, 257, 128),
    (300, 3, 64),
];

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

fn values1(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// The f32 absmax of `p` through `reference::dequantize_absmax` on `Flex` primitives.
fn reference_absmax(p: &Packed4) -> Tensor<1> {
    match &p.scales {
        PackedScales::Plain(a) => a.clone(),
        PackedScales::Nested {
            codes,
            absmax,
            code,
            layout,
        } => Tensor::from_primitive::<Flex>(reference::dequantize_absmax::<Flex>(
            codes.clone().try_into_primitive::<Flex>().expect("flex"),
            absmax.clone().try_into_primitive::<Flex>().expect("flex"),
            code.clone().try_into_primitive::<Flex>().expect("flex"),
            *layout,
        )),
    }
}

/// The dequantized weight of `host` through `reference::dequantize_4bit` on `Flex` primitives.
fn reference_dequant(host: &HostQ4<'_>) -> Vec<f32> {
    let p = Packed4::from_host(host, &Device::flex());
    let w = reference::dequantize_4bit::<Flex>(
        p.packed.clone().try_into_primitive::<Flex>().expect("flex"),
        p.code.clone().try_into_primitive::<Flex>().expect("flex"),
        reference_absmax(&p)
            .try_into_primitive::<Flex>()
            .expect("flex"),
        p.layout,
    );
    values(Tensor::from_primitive::<Flex>(w))
}

#[test]
fn reference_and_flex_dequantize_equal_host_nibbles_times_absmax() {
    let device = Device::flex();
    for (i, &(r, c, bs)) in SHAPES.iter().enumerate() {
        let case = Case::new(r, c, bs, 11 + i as u64);
        let want = case.host_dequant();
        let flex = values(Packed4::from_host(&case.host(false), &device).dequantize());
        assert_eq!(bits(&flex), bits(&want), "flex {r}x{c} block {bs}");
        let reference = reference_dequant(&case.host(false));
        assert_eq!(
            bits(&reference),
            bits(&want),
            "reference {r}x{c} block {bs}"
        );
    }
}

#[test]
fn reference_and_flex_nested_absmax_match_host_formula() {
    let device = Device::flex();
    let case = Case::new(40, 1000, 64, 5);
    let p = Packed4::from_host(&case.host(true), &device);
    let want: Vec<f32> = (0..case.layout.n_blocks())
        .map(|i| {
            let scaled = case.code2[case.codes[i] as usize] * case.absmax2[i / 256];
            scaled + 0.75
        })
        .collect();
    assert_eq!(bits(&values1(p.absmax())), bits(&want), "flex");
    assert_eq!(
        bits(&values1(reference_absmax(&p))),
        bits(&want),
        "reference"
    );
    // and the whole nested dequantization agrees too
    assert_eq!(
        bits(&values(p.dequantize())),
        bits(&reference_dequant(&case.host(true)))
    );
}

#[test]
fn packed_weight_on_the_inner_device_trains_an_autodiff_input() {
    // The model keeps its frozen 4-bit base on the plain device; activations are tracked.
    let case = Case::new(33, 100, 64, 77);
    let flex = Device::flex();
    let ad = flex.clone().autodiff();
    let packed = Packed4::from_host(&case.host(true), &flex);
    let xs = Rng(5).floats(2 * 100, -1.0, 1.0);
    let x = Tensor::<2>::from_data(TensorData::new(xs.clone(), [2, 100]), &ad).require_grad();
    let grads = packed.matmul(x.clone()).sum().backward();
    let dx = values(x.grad(&grads).expect("x is tracked"));
    // d(Σ x·Wᵀ)/dx = ones · W: the column sums of W.
    let w = values(packed.dequantize());
    let ones = Tensor::<2>::ones([2, 33], &flex);
    let want = values(packed.matmul_input_grad(ones));
    assert_eq!(bits(&dx), bits(&want));
    // Summation order may differ from the gemm's: within 2·γ_33·Σ|w| (module comment).
    let col0: f32 = (0..33).map(|o| w[o * 100]).sum();
    let abs0: f32 = (0..33).map(|o| w[o * 100].abs()).sum();
    let tol = 2.0 * 33.0 * f32::EPSILON * abs0;
    assert!((dx[0] - col0).abs() <= tol, "{} vs {col0}", dx[0]);
}

#[test]
fn custom_backward_on_flex_equals_autodiff_through_the_reference() {
    check_backward(&Device::flex().autodiff(), &Device::flex().autodiff());
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `|a - b| <= 2 γ_K Σ|x||w|` elementwise (see the module comment).
fn assert_close_sums(got: &[f32], want: &[f32], abs_sums: &[f32], k: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let gamma = 2.0 * k as f32 * f32::EPSILON / 2.0;
    for (i, ((a, b), s)) in got.iter().zip(want).zip(abs_sums).enumerate() {
        let tol = 2.0 * gamma * s + f32::MIN_POSITIVE;
        assert!(
            (a - b).abs() <= tol,
            "{what}[{i}]: {a} vs {b} (tolerance {tol})"
        );
    }
}

/// Loss `Σ (x · Wᵀ) ⊙ g`: its gradient in `x` is `g · W`, computed by `q4_matmul`'s custom
/// backward on `kernel_dev` and by autodiff through dequantize + dense matmul on `ref_dev`.
fn check_backward(kernel_dev: &Device, ref_dev: &Device) {
    for (s, &(rows, cols, bs)) in SHAPES.iter().enumerate() {
        let case = Case::new(rows, cols, bs, 100 + s as u64);
        let m = 3;
        let mut rng = Rng(7 + s as u64);
        let xs = rng.floats(m * cols, -1.0, 1.0);
        let gs = rng.floats(m * rows, -1.0, 1.0);
        for nested in [false, true] {
            let host = case.host(nested);
            let x = Tensor::<2>::from_data(TensorData::new(xs.clone(), [m, cols]), kernel_dev)
                .require_grad();
            let g = Tensor::<2>::from_data(TensorData::new(gs.clone(), [m, rows]), kernel_dev);
            let packed = Packed4::from_host(&host, kernel_dev);
            let y = packed.matmul(x.clone());
            let grads = (y.clone() * g).sum().backward();
            let dx = x.grad(&grads).expect("x is tracked");

            let xr = Tensor::<2>::from_data(TensorData::new(xs.clone(), [m, cols]), ref_dev)
                .require_grad();
            let gr = Tensor::<2>::from_data(TensorData::new(gs.clone(), [m, rows]), ref_dev);
            let w = Packed4::from_host(&host, ref_dev).dequantize();
            let yr = xr.clone().matmul(w.clone().transpose());
            let grads_r = (yr.clone() * gr.clone()).sum().backward();
            let dxr = xr.grad(&grads_r).expect("x is tracked");

            let y_sums = values(
                xr.clone()
                    .inner()
                    .abs()
                    .matmul(w.clone().abs().transpose().inner()),
            );
            let dx_sums = values(gr.inner().abs().matmul(w.abs().inner()));
            let what = format!("{rows}x{cols}/{bs} nested={nested}");
            assert_close_sums(
                &values(y.inner()),
                &values(yr.inner()),
                &y_sums,
                cols,
                &format!("y {what}"),
            );
            assert_close_sums(
                &values(dx),
                &values(dxr),
                &dx_sums,
                rows,
                &format!("dx {what}"),
            );
        }
    }
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod gpu {
    use super::*;
    use burn::tensor::{DType, FloatDType, bf16, f16};

    /// CUDA when built with `cuda` (scripts/gpu-check.sh), else wgpu (lavapipe in CI); `None`
    /// (the test prints `skipped: no Vulkan adapter`) when the runtime finds no device, unless
    /// `LPIPE_REQUIRE_GPU=1` (set by scripts/test.sh), which turns that into a failure.
    fn gpu() -> Option<Device> {
        static PROBE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        #[cfg(feature = "cuda")]
        let device = Device::cuda(0usize);
        #[cfg(not(feature = "cuda"))]
        let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        // The runtime panics on its first use when there is no adapter: probe once, quietly.
        let ok = *PROBE.get_or_init(|| {
            let d = device.clone();
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let ok = std::panic::catch_unwind(move || {
                Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &d)
                    .into_data()
                    .try_to_vec::<f32>()
                    .is_ok()
            })
            .unwrap_or(false);
            std::panic::set_hook(hook);
            ok
        });
        if ok {
            return Some(device);
        }
        let required = std::env::var("LPIPE_REQUIRE_GPU").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "LPIPE_REQUIRE_GPU=1 but no GPU/Vulkan adapter was found"
        );
        println!("skipped: no Vulkan adapter");
        None
    }

    #[test]
    fn dequantize_kernel_equals_reference() {
        let Some(gpu) = gpu() else { return };
        for (i, &(r, c, bs)) in SHAPES.iter().enumerate() {
            let case = Case::new(r, c, bs, 21 + i as u64);
            for nested in [false, true] {
                let host = case.host(nested);
                let got = values(Packed4::from_host(&host, &gpu).dequantize());
                let want = reference_dequant(&host);
                assert_eq!(bits(&got), bits(&want), "{r}x{c}/{bs} nested={nested}");
            }
        }
    }

    #[test]
    fn absmax_kernel_equals_reference() {
        let Some(gpu) = gpu() else { return };
        let case = Case::new(70, 1000, 64, 9);
        let got = values1(Packed4::from_host(&case.host(true), &gpu).absmax());
        let want = values1(reference_absmax(&Packed4::from_host(
            &case.host(true),
            &Device::flex(),
        )));
        assert_eq!(bits(&got), bits(&want));
    }

    #[test]
    fn matmul_kernels_and_custom_backward_equal_the_reference() {
        let Some(gpu) = gpu() else { return };
        check_backward(&gpu.autodiff(), &Device::flex().autodiff());
    }

    /// The half type training would use on `gpu`: bf16 (CUDA), else f16, else f32 (lavapipe
    /// has neither; the vectorized f32 stores and the dequantize + matmul path still run).
    fn half(gpu: &Device) -> DType {
        [DType::BF16, DType::F16]
            .into_iter()
            .find(|&d| gpu.supports_dtype(d))
            .unwrap_or(DType::F32)
    }

    /// `v` rounded once to `dtype` (round to nearest even), as f32.
    fn round_to(dtype: DType, v: &[f32]) -> Vec<f32> {
        v.iter()
            .map(|&x| match dtype {
                DType::BF16 => bf16::from_f32(x).to_f32(),
                DType::F16 => f16::from_f32(x).to_f32(),
                _ => x,
            })
            .collect()
    }

    fn values_f32<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("float tensor")
    }

    /// Output in training's half precision (bf16 on CUDA), vectorized stores where
    /// `numel % 8 == 0`, scalar stores for the ragged shapes: bit-exact against the f32 reference
    /// rounded once.
    #[test]
    fn dequantize_to_half_is_the_reference_rounded_once() {
        let Some(gpu) = gpu() else { return };
        let dtype = half(&gpu);
        println!("dtype {dtype:?}");
        // (9, 13, 20): a block size that is not a multiple of 8, so blocks change inside a word.
        for (i, &(r, c, bs)) in SHAPES
            .iter()
            .chain(&[(256, 96, 64), (9, 13, 20)])
            .enumerate()
        {
            let case = Case::new(r, c, bs, 41 + i as u64);
            for nested in [false, true] {
                let host = case.host(nested);
                let got = Packed4::from_host(&host, &gpu).dequantize_to(FloatDType::from(dtype));
                let want = round_to(dtype, &reference_dequant(&host));
                assert_eq!(
                    bits(&values_f32(got)),
                    bits(&want),
                    "{r}x{c}/{bs} nested={nested}"
                );
            }
        }
    }

    /// `m ≥ DEQUANT_MATMUL_MIN_ROWS` rows in half precision (bf16 on CUDA) take the dequantize +
    /// tensor-core matmul path, forward and input gradient. Reference: exact sums (f64) of the
    /// same rounded inputs and weight. Bound `2⁻⁷ · Σ|x·w|` per element: the output is rounded
    /// to bf16 once (2⁻⁹ relative) and a split-K matmul may round its partial sums to the output
    /// type once more each (2⁻⁹ of at most `Σ|x·w|` apiece); f32 accumulation adds `K·2⁻²⁴`,
    /// negligible at these K.
    #[test]
    fn dequantize_matmul_path_in_half_matches_exact_sums() {
        let Some(gpu) = gpu() else { return };
        let dtype = half(&gpu);
        let (b, s) = (2, 40);
        let m = b * s;
        assert!(m >= lpipe_kernels::DEQUANT_MATMUL_MIN_ROWS);
        for (i, &(rows, cols, bs)) in [(96, 128, 64), (130, 72, 64), (64, 64, 64)]
            .iter()
            .enumerate()
        {
            let case = Case::new(rows, cols, bs, 51 + i as u64);
            let host = case.host(true);
            let w = round_to(dtype, &reference_dequant(&host));
            let mut rng = Rng(61 + i as u64);
            let xs = round_to(dtype, &rng.floats(m * cols, -1.0, 1.0));
            let dys = round_to(dtype, &rng.floats(m * rows, -1.0, 1.0));
            let packed = Packed4::from_host(&host, &gpu);
            let x =
                Tensor::<3>::from_data(TensorData::new(xs.clone(), [b, s, cols]), (&gpu, dtype));
            let dy =
                Tensor::<3>::from_data(TensorData::new(dys.clone(), [b, s, rows]), (&gpu, dtype));
            let y = values_f32(packed.matmul(x));
            let dx = values_f32(packed.matmul_input_grad(dy));
            let check = |got: &[f32],
                         a: &[f32],
                         n_out: usize,
                         k: usize,
                         wi: &dyn Fn(usize, usize) -> usize,
                         what: &str| {
                for r in 0..m {
                    for o in 0..n_out {
                        let (mut exact, mut abs) = (0f64, 0f64);
                        for j in 0..k {
                            let p = a[r * k + j] as f64 * w[wi(o, j)] as f64;
                            exact += p;
                            abs += p.abs();
                        }
                        let g = got[r * n_out + o] as f64;
                        let tol = abs / 128.0 + 1e-30;
                        assert!(
                            (g - exact).abs() <= tol,
                            "{what} {rows}x{cols} [{r},{o}]: {g} vs {exact} (tol {tol})"
                        );
                    }
                }
            };
            check(&y, &xs, rows, cols, &|o, j| o * cols + j, "y");
            check(&dx, &dys, cols, rows, &|o, j| j * cols + o, "dx");
        }
    }

    #[test]
    fn input_grad_kernel_equals_reference() {
        let Some(gpu) = gpu() else { return };
        for (i, &(rows, cols, bs)) in SHAPES.iter().enumerate() {
            let case = Case::new(rows, cols, bs, 31 + i as u64);
            let dys = Rng(3).floats(2 * 4 * rows, -1.0, 1.0);
            let run = |device: &Device| {
                let dy = Tensor::<3>::from_data(TensorData::new(dys.clone(), [2, 4, rows]), device);
                let dx = Packed4::from_host(&case.host(false), device).matmul_input_grad(dy);
                dx.into_data().try_to_vec::<f32>().expect("f32")
            };
            let w = Packed4::from_host(&case.host(false), &Device::flex()).dequantize();
            let dy =
                Tensor::<2>::from_data(TensorData::new(dys.clone(), [8, rows]), &Device::flex());
            let sums = values(dy.abs().matmul(w.abs()));
            assert_close_sums(&run(&gpu), &run(&Device::flex()), &sums, rows, "dx");
        }
    }
}
