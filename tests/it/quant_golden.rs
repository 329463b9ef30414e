//! bitsandbytes 0.50.2 golden bytes (`../shared/golden/nf4_fp4`, made by
//! `golden/scripts/gen_nf4_fp4.py`): packed nibbles, absmax, double-quant statistics and
//! dequantized values must be identical, so the tolerance everywhere is zero.

use half::bf16;
use lpipe::quant::{self, Absmax, QuantType, QuantizedTensor};
use safetensors::{Dtype, SafeTensors};

const CASES: [&str; 5] = ["w256x128", "v1000", "v999", "edge256", "w64x64_bf16"];

fn golden() -> Option<Vec<u8>> {
    let dir = lpipe::testing::shared()?;
    Some(std::fs::read(dir.join("golden/nf4_fp4/nf4_fp4.safetensors")).unwrap())
}

fn f32s(st: &SafeTensors, key: &str) -> Vec<f32> {
    let t = st.tensor(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(t.dtype(), Dtype::F32, "{key}");
    t.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn bf16s(st: &SafeTensors, key: &str) -> Vec<bf16> {
    let t = st.tensor(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(t.dtype(), Dtype::BF16, "{key}");
    t.data()
        .chunks_exact(2)
        .map(|b| bf16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn bytes<'a>(st: &'a SafeTensors, key: &str) -> &'a [u8] {
    st.tensor(key)
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .data()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn quantize_case(st: &SafeTensors, case: &str, qt: QuantType, dq: bool) -> QuantizedTensor {
    let input = st.tensor(&format!("{case}.input")).unwrap();
    let shape = input.shape().to_vec();
    match input.dtype() {
        Dtype::BF16 => {
            let x = bf16s(st, &format!("{case}.input"));
            quant::quantize(case, &x, &shape, qt, 64, dq).unwrap()
        }
        _ => {
            let x = f32s(st, &format!("{case}.input"));
            quant::quantize(case, &x, &shape, qt, 64, dq).unwrap()
        }
    }
}

#[test]
fn code_tables_match_bitsandbytes() {
    let Some(raw) = golden() else { return };
    let st = SafeTensors::deserialize(&raw).unwrap();
    assert_eq!(bits(&quant::NF4_CODE), bits(&f32s(&st, "nf4_code")));
    assert_eq!(bits(&quant::FP4_CODE), bits(&f32s(&st, "fp4_code")));
    assert_eq!(
        bits(quant::double_quant::dynamic_code()),
        bits(&f32s(&st, "dynamic_code"))
    );
}

#[test]
fn quantize_and_dequantize_match_bitsandbytes_bit_for_bit() {
    let Some(raw) = golden() else { return };
    let st = SafeTensors::deserialize(&raw).unwrap();
    let mut checked = 0;
    for case in CASES {
        for qt in [QuantType::Nf4, QuantType::Fp4] {
            for dq in [false, true] {
                let key = format!("{case}.{qt}{}", if dq { ".dq" } else { "" });
                let q = quantize_case(&st, case, qt, dq);
                assert_eq!(
                    q.packed,
                    bytes(&st, &format!("{key}.packed")),
                    "{key} packed"
                );
                match &q.absmax {
                    Absmax::Plain(a) => {
                        assert!(!dq);
                        assert_eq!(
                            bits(a),
                            bits(&f32s(&st, &format!("{key}.absmax"))),
                            "{key} absmax"
                        );
                    }
                    Absmax::Nested(n) => {
                        assert!(dq);
                        let offset = f32s(&st, &format!("{key}.offset"));
                        assert_eq!(n.offset.to_bits(), offset[0].to_bits(), "{key} offset");
                        assert_eq!(
                            n.codes,
                            bytes(&st, &format!("{key}.absmax_q")),
                            "{key} absmax_q"
                        );
                        let a2 = f32s(&st, &format!("{key}.state2_absmax"));
                        assert_eq!(bits(&n.absmax), bits(&a2), "{key} state2_absmax");
                        let adq = f32s(&st, &format!("{key}.absmax_dequant"));
                        assert_eq!(bits(&n.dequantize()), bits(&adq), "{key} absmax_dequant");
                    }
                }
                if q.dtype == quant::FloatDtype::Bfloat16 {
                    let want = bf16s(&st, &format!("{key}.dequant"));
                    let got = quant::dequantize_bf16(&q).unwrap();
                    let eq = got
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(eq && got.len() == want.len(), "{key} dequant (bf16)");
                } else {
                    let want = f32s(&st, &format!("{key}.dequant"));
                    assert_eq!(
                        bits(&quant::dequantize_f32(&q).unwrap()),
                        bits(&want),
                        "{key} dequant"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 20);
}
