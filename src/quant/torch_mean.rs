//! torch's float32 `mean` on CPU, reproduced bit for bit for bitsandbytes' double-quant offset.
//!
//! `Tensor.mean()` on CPU is `sum(x) / n`, and the float32 sum is torch's cascade sum
//! (aten/src/ATen/native/cpu/SumKernel.cpp): 8-lane vectors accumulated in 4 interleaved rows
//! with 4 cascade levels of 16, the scalar tail added in order, then the lanes; below 8
//! elements the same scheme runs on scalars. Checked against torch 2.15 on this AVX-512 host
//! (whose reduction kernels use 8 float lanes) for every length up to 300 and several to 20000. The float64 mean differs from it by an ulp on some inputs (golden `v1000`),
//! which changes every double-quantized code, so the order matters.
//! Above 32768 elements torch splits the sum across its threads (a result that then depends on
//! the thread count); this reproduces the single-threaded order.

/// Float lanes of the vectors torch's sum kernel uses (measured: 8, also on AVX-512 hosts).
const LANES: usize = 8;
/// Interleaved accumulator rows (`ilp_factor`).
const ILP: usize = 4;
/// Cascade levels (`num_levels`).
const LEVELS: usize = 4;

/// torch's float32 CPU mean of `x` (0.0 for an empty slice, where torch gives NaN).
pub fn torch_mean_f32(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    torch_sum_f32(x) / x.len() as f32
}

/// torch's float32 CPU sum of a contiguous slice.
pub fn torch_sum_f32(x: &[f32]) -> f32 {
    if x.len() < LANES {
        return row_sum::<1>(x.len(), |i| [x[i]])[0];
    }
    let vecs = x.len() / LANES;
    let lanes = row_sum::<LANES>(vecs, |v| std::array::from_fn(|l| x[v * LANES + l]));
    let mut acc = 0f32;
    for &t in &x[vecs * LANES..] {
        acc += t;
    }
    for l in lanes {
        acc += l;
    }
    acc
}

/// `row_sum`: the `size` items viewed as `[size / 4, 4]`, summed per column, then combined.
fn row_sum<const L: usize>(size: usize, load: impl Fn(usize) -> [f32; L]) -> [f32; L] {
    let rows = size / ILP;
    let mut partial = multi_row_sum::<L>(rows, |i, k| load(i * ILP + k));
    for i in rows * ILP..size {
        add(&mut partial[0], &load(i));
    }
    for k in 1..ILP {
        let p = partial[k];
        add(&mut partial[0], &p);
    }
    partial[0]
}

fn multi_row_sum<const L: usize>(
    size: usize,
    load: impl Fn(usize, usize) -> [f32; L],
) -> [[f32; L]; ILP] {
    let level_power = 4.max(ceil_log2(size) / LEVELS);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [[[0f32; L]; ILP]; LEVELS];
    let mut i = 0;
    while i + level_step <= size {
        for _ in 0..level_step {
            for (k, a) in acc[0].iter_mut().enumerate() {
                add(a, &load(i, k));
            }
            i += 1;
        }
        for j in 1..LEVELS {
            let (below, above) = acc.split_at_mut(j);
            for (hi, lo) in above[0].iter_mut().zip(below[j - 1].iter_mut()) {
                add(hi, lo);
                *lo = [0.0; L];
            }
            if i & (level_mask << (j * level_power)) != 0 {
                break;
            }
        }
    }
    for i in i..size {
        for (k, a) in acc[0].iter_mut().enumerate() {
            add(a, &load(i, k));
        }
    }
    let (first, rest) = acc.split_at_mut(1);
    for level in rest.iter() {
        for (a, b) in first[0].iter_mut().zip(level) {
            add(a, b);
        }
    }
    acc[0]
}

#[inline(always)]
fn add<const L: usize>(a: &mut [f32; L], b: &[f32; L]) {
    for (a, b) in a.iter_mut().zip(b) {
        *a += b;
    }
}

/// c10's `CeilLog2`: 1 for x <= 2.
fn ceil_log2(x: usize) -> usize {
    if x <= 2 {
        return 1;
    }
    (usize::BITS - (x - 1).leading_zeros()) as usize
}
