//! Row-parallel dense matmuls for inference on the CPU backend.
//!
//! flex's gemm parallelises inside one call, but at the row counts of scoring and generation it
//! leaves cores idle: splitting the rows of `x` across scoped threads on top is still faster
//! (`lpipe bench forward`, 4 × 128 tokens, 2 cores: 575 tok/s against 457 with `LPIPE_THREADS=1`).
//! Each row's sum is computed the same way either way. With autodiff, on other backends or for
//! small inputs the plain single call is used.

use burn::tensor::{Device, Tensor};

/// Rows per thread below which splitting costs more than it saves.
const MIN_ROWS_PER_THREAD: usize = 32;

/// Threads used: `$LPIPE_THREADS`, else the available parallelism (one setting for lpipe and its
/// 4-bit host kernels).
pub use lpipe_kernels::host::threads;

/// `x · w` for `x [..., d_in]`, `w [d_in, d_out]`.
pub fn linear<const D: usize>(x: Tensor<D>, w: &Tensor<2>) -> Tensor<D> {
    let dims = x.dims();
    let d_in = dims[D - 1];
    let rows: usize = dims[..D - 1].iter().product();
    let n = threads().min(rows / MIN_ROWS_PER_THREAD);
    if n < 2 || x.is_autodiff() || w.is_autodiff() || x.device() != Device::flex() {
        return burn::tensor::module::linear(x, w.clone(), None);
    }
    let chunks = x.reshape([rows, d_in]).chunk(n, 0);
    let parts: Vec<Tensor<2>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || burn::tensor::module::linear(c, w.clone(), None)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out_dims = dims;
    out_dims[D - 1] = w.dims()[1];
    Tensor::cat(parts, 0).reshape(out_dims)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    #[test]
    fn row_split_equals_single_call() {
        let d = Device::flex();
        let x = Tensor::<3>::random([3, 70, 24], Distribution::Normal(0.0, 1.0), &d);
        let w = Tensor::<2>::random([24, 40], Distribution::Normal(0.0, 1.0), &d);
        let a: Vec<f32> = linear(x.clone(), &w).into_data().try_to_vec().unwrap();
        let b: Vec<f32> = burn::tensor::module::linear(x, w, None)
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(a.len(), 3 * 70 * 40);
        let diff = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "{diff}");
    }
}
