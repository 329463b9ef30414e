//! bitsandbytes' 8-bit dynamic code (`create_dynamic_map(signed=True, max_exponent_bits=7,
//! total_bits=8)`), the code of double-quantized absmax values.
//!
//! The values are float32 `torch.linspace(0.1, 1, k)` midpoints times powers of ten; they are
//! rebuilt here with torch's float32 linspace arithmetic (`start + step * i` below the halfway
//! point, `end - step * (k - 1 - i)` from it, each a fused multiply-add as torch 2.15's compiled
//! kernel does; measured against torch) and checked against the golden table.

/// Exponent bits (`max_exponent_bits`).
const MAX_EXPONENT_BITS: i32 = 7;

/// `10 ** (i - 6)` as Python computes it (correctly rounded doubles).
const POWERS_OF_TEN: [f64; 7] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0];

/// The 256 entries, sorted ascending.
pub fn dynamic_map() -> Vec<f32> {
    let mut data: Vec<f32> = Vec::with_capacity(256);
    for i in 0..MAX_EXPONENT_BITS {
        let items = (1usize << i) + 1;
        let b = linspace_f32(0.1, 1.0, items);
        // `10 ** e` is a Python number that torch rounds to float32 before multiplying.
        let scale = POWERS_OF_TEN[i as usize] as f32;
        for w in b.windows(2) {
            let mean = (w[0] + w[1]) / 2.0;
            data.push(scale * mean);
            data.push(-scale * mean);
        }
    }
    data.push(0.0);
    data.push(1.0);
    data.sort_by(f32::total_cmp);
    data
}

/// torch's float32 `linspace(start, end, steps)` on CPU.
fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            if i < halfway {
                step.mul_add(i as f32, start)
            } else {
                (-step).mul_add((steps - i - 1) as f32, end)
            }
        })
        .collect()
}
