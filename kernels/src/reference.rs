//! Plain-tensor references for every kernel, written with Burn's primitive ops so they run on
//! any backend (flex uses them as its implementation; the kernel tests compare against them).

use burn::backend::{Backend, IntDType, TensorMetadata, tensor::FloatTensor, tensor::IntTensor};
use burn::tensor::Shape;

use crate::layout::{NestedLayout, Q4Layout};

/// Element index `i`'s bit offset inside its i32 word: byte `(i % 8) / 2`, high nibble for even
/// `i`, so `8 * ((i % 8) / 2) + 4 * (1 - i % 2)`.
fn nibble_shift<B: Backend>(i: IntTensor<B>) -> IntTensor<B> {
    let j = B::int_remainder_scalar(i, 8.into());
    let byte = B::int_mul_scalar(B::int_div_scalar(j.clone(), 2.into()), 8.into());
    let low = B::int_mul_scalar(B::int_remainder_scalar(j, 2.into()), 4.into());
    B::int_add_scalar(B::int_sub(byte, low), 4.into())
}

/// Dequantizes a packed 4-bit weight to f32 `[rows, cols]`: `code[nibble] * absmax[i / block]`.
pub fn dequantize_4bit<B: Backend>(
    packed: IntTensor<B>,
    code: FloatTensor<B>,
    absmax: FloatTensor<B>,
    layout: Q4Layout,
) -> FloatTensor<B> {
    let device = code.device();
    let n = layout.numel() as i64;
    let i = B::int_arange(0..n, &device, IntDType::I32);
    let word = B::int_select(packed, 0, B::int_div_scalar(i.clone(), 8.into()));
    let shifted = B::bitwise_right_shift(word, nibble_shift::<B>(i.clone()));
    // An arithmetic shift of a negative word fills the top with ones; the mask discards them.
    let nibble = B::bitwise_and_scalar(shifted, 15.into());
    let values = B::float_select(code, 0, nibble);
    let block = B::int_div_scalar(i, (layout.block_size as i64).into());
    let scales = B::float_select(absmax, 0, block);
    B::float_reshape(
        B::float_mul(values, scales),
        Shape::new([layout.rows, layout.cols]),
    )
}

/// Dequantizes double-quantized absmax values: `code2[q] * absmax2[i / block] + offset`.
pub fn dequantize_absmax<B: Backend>(
    codes: IntTensor<B>,
    absmax2: FloatTensor<B>,
    code2: FloatTensor<B>,
    nested: NestedLayout,
) -> FloatTensor<B> {
    let device = code2.device();
    let i = B::int_arange(0..nested.n_blocks as i64, &device, IntDType::I32);
    let word = B::int_select(codes, 0, B::int_div_scalar(i.clone(), 4.into()));
    let shift = B::int_mul_scalar(B::int_remainder_scalar(i.clone(), 4.into()), 8.into());
    let q = B::bitwise_and_scalar(B::bitwise_right_shift(word, shift), 255.into());
    let values = B::float_select(code2, 0, q);
    let scales = B::float_select(
        absmax2,
        0,
        B::int_div_scalar(i, (nested.block_size as i64).into()),
    );
    B::float_add_scalar(B::float_mul(values, scales), nested.offset.into())
}

/// `[.., cols]` → `[m, cols]` and the leading dims to restore.
fn flatten_rows<B: Backend>(x: FloatTensor<B>, last: usize) -> (FloatTensor<B>, Vec<usize>) {
    let shape = x.shape();
    let dims: Vec<usize> = shape.iter().copied().collect();
    let lead = dims[..dims.len().saturating_sub(1)].to_vec();
    let m = lead.iter().product::<usize>();
    (B::float_reshape(x, Shape::new([m, last])), lead)
}

fn unflatten<B: Backend>(y: FloatTensor<B>, mut lead: Vec<usize>, last: usize) -> FloatTensor<B> {
    lead.push(last);
    B::float_reshape(y, Shape::from(lead))
}

/// `x · Wᵀ` for `x: [.., cols]`, giving `[.., rows]`: dequantize, then a dense matmul.
pub fn matmul_4bit<B: Backend>(
    x: FloatTensor<B>,
    packed: IntTensor<B>,
    code: FloatTensor<B>,
    absmax: FloatTensor<B>,
    layout: Q4Layout,
) -> FloatTensor<B> {
    let w = dequantize_4bit::<B>(packed, code, absmax, layout);
    let (x, lead) = flatten_rows::<B>(x, layout.cols);
    let y = B::float_matmul(x, B::float_transpose(w));
    unflatten::<B>(y, lead, layout.rows)
}

/// The input gradient of [`matmul_4bit`]: `dy · W` for `dy: [.., rows]`, giving `[.., cols]`.
pub fn matmul_4bit_input_grad<B: Backend>(
    dy: FloatTensor<B>,
    packed: IntTensor<B>,
    code: FloatTensor<B>,
    absmax: FloatTensor<B>,
    layout: Q4Layout,
) -> FloatTensor<B> {
    let w = dequantize_4bit::<B>(packed, code, absmax, layout);
    let (dy, lead) = flatten_rows::<B>(dy, layout.rows);
    let dx = B::float_matmul(dy, w);
    unflatten::<B>(dx, lead, layout.cols)
}
