//! `quantize { … }` → [`ir::Quantize`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, out_of_range};
use crate::check::stages::targets;
use crate::ir::{LoraTarget, QuantType, Quantize};

/// Converts the quantize stage.
pub fn quantize(cx: &mut Cx, f: &mut Fields) -> Option<Quantize> {
    let kind = f.choice(cx, "type", None, "quantization type", &["nf4", "fp4"]);
    let double_quant = f.bool(cx, "double_quant", false);
    let block_span = f.span("block_size");
    let block_size = f.int(
        cx,
        "block_size",
        Some(64),
        32,
        4096,
        "bitsandbytes supports blocks of 32 to 4096 (default 64)",
    );
    let block_size = block_size.and_then(|b| {
        if b.is_power_of_two() {
            Some(b as u32)
        } else {
            if let Some(span) = block_span {
                out_of_range(
                    cx,
                    "block_size",
                    &b.to_string(),
                    span,
                    "a power of two",
                    "bitsandbytes blocks are 32, 64, 128, …, 4096",
                );
            }
            None
        }
    });
    let modules = match f.value("modules") {
        Ok(None) => Some(LoraTarget::ALL[..5].to_vec()),
        Ok(Some(v)) => targets(cx, &v),
        Err(Invalid) => None,
    };
    Some(Quantize {
        kind: if kind?.as_str() == "nf4" {
            QuantType::Nf4
        } else {
            QuantType::Fp4
        },
        double_quant: double_quant?,
        block_size: block_size?,
        modules: modules?,
    })
}
