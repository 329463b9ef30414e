//! The 4-bit code tables (NF4, FP4) and the nearest-code search bitsandbytes uses.

use super::error::QuantError;

/// NF4 code table, as returned by bitsandbytes `get_4bit_type("nf4")` (float32 bit patterns).
pub const NF4_CODE: [f32; 16] = [
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

/// FP4 (E2M1) code table: bitsandbytes' raw values divided by their absolute maximum 12.
/// Index bit 3 is the sign. Index 8 ("negative zero") is stored as +0.0: bitsandbytes writes it
/// as the Python integer `-0`, which is 0 (the golden `fp4_code` has bits 0x00000000 there).
pub const FP4_CODE: [f32; 16] = [
    0.0,
    0.0625 / 12.0,
    8.0 / 12.0,
    1.0,
    4.0 / 12.0,
    0.5,
    2.0 / 12.0,
    0.25,
    0.0,
    -0.0625 / 12.0,
    -8.0 / 12.0,
    -1.0,
    -4.0 / 12.0,
    -0.5,
    -2.0 / 12.0,
    -0.25,
];

/// The 4-bit data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuantType {
    /// NormalFloat4 (QLoRA).
    Nf4,
    /// 4-bit float with 2 exponent bits and 1 mantissa bit.
    Fp4,
}

impl QuantType {
    /// The name bitsandbytes uses (`nf4`, `fp4`).
    pub fn name(self) -> &'static str {
        match self {
            QuantType::Nf4 => "nf4",
            QuantType::Fp4 => "fp4",
        }
    }

    /// Parses `nf4` or `fp4`.
    pub fn parse(name: &str) -> Result<Self, QuantError> {
        match name {
            "nf4" => Ok(QuantType::Nf4),
            "fp4" => Ok(QuantType::Fp4),
            other => Err(QuantError::UnknownQuantType {
                name: other.to_string(),
            }),
        }
    }

    /// The code table bitsandbytes stores as `quant_map`.
    pub fn code(self) -> [f32; 16] {
        match self {
            QuantType::Nf4 => NF4_CODE,
            QuantType::Fp4 => FP4_CODE,
        }
    }

    /// The nibble a scaled 0.0 maps to (bitsandbytes pads odd element counts with it).
    pub fn zero_nibble(self) -> u8 {
        CodeSearch::new(&self.code()).nibble(0.0)
    }
}

impl std::fmt::Display for QuantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Nearest-code search exactly as bitsandbytes' default 4-bit quantizer does it: the code is
/// sorted by a stable argsort, midpoints are taken in f32, and a value's bucket is the number of
/// midpoints strictly below it (`torch.bucketize(right=False)`), so a tie goes to the lower code.
#[derive(Clone, Debug)]
pub struct CodeSearch {
    mids: [f32; 15],
    order: [u8; 16],
}

impl CodeSearch {
    /// Prepares the search for a 16-entry code table.
    pub fn new(code: &[f32; 16]) -> Self {
        let mut order: [u8; 16] = std::array::from_fn(|i| i as u8);
        // A stable sort keeps FP4's two zeros (indices 0 and 8) in index order, as torch does.
        order.sort_by(|&a, &b| {
            code[a as usize]
                .partial_cmp(&code[b as usize])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mids =
            std::array::from_fn(|i| (code[order[i] as usize] + code[order[i + 1] as usize]) / 2.0);
        CodeSearch { mids, order }
    }

    /// The table index of the code nearest to `scaled` (already clamped to [-1, 1]).
    #[inline(always)]
    pub fn nibble(&self, scaled: f32) -> u8 {
        // Counting instead of branching lets the compiler vectorise the 15 comparisons.
        let below: usize = self.mids.iter().map(|&m| usize::from(m < scaled)).sum();
        self.order[below]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_maps_to_the_documented_codes() {
        // nf4_fp4.json conventions.zero_value_code: {"nf4": 7, "fp4": 0}.
        assert_eq!(QuantType::Nf4.zero_nibble(), 7);
        assert_eq!(QuantType::Fp4.zero_nibble(), 0);
    }

    #[test]
    fn ties_go_to_the_lower_code() {
        let s = CodeSearch::new(&NF4_CODE);
        let mid = (NF4_CODE[9] + NF4_CODE[10]) / 2.0;
        assert_eq!(s.nibble(mid), 9);
        assert_eq!(s.nibble(f32::from_bits(mid.to_bits() + 1)), 10);
    }

    #[test]
    fn tiny_positive_fp4_values_pick_the_second_zero() {
        // Sorted FP4 is [..., 0.0 (idx 0), 0.0 (idx 8), 1/192 (idx 1), ...]: values in
        // (0, 1/384] land in the index-8 bucket, as bitsandbytes' bucketize does.
        let s = CodeSearch::new(&FP4_CODE);
        assert_eq!(s.nibble(1e-4), 8);
        assert_eq!(s.nibble(-1e-4), 0);
        assert_eq!(s.nibble(0.004), 1);
    }
}
