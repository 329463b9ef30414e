use miette::Diagnostic;
use rand::{Rng, SeedableRng};

use super::writer::GgufWriter;
use super::*;

fn code(e: &ModelError) -> String {
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

/// A file exercising every value type, nested arrays, and two tensors.
fn sample() -> Vec<u8> {
    GgufWriter::new()
        .kv("general.architecture", GgufValue::Str("llama".into()))
        .kv("a.u8", GgufValue::U8(7))
        .kv("a.i8", GgufValue::I8(-7))
        .kv("a.u16", GgufValue::U16(700))
        .kv("a.i16", GgufValue::I16(-700))
        .kv("a.u32", GgufValue::U32(70_000))
        .kv("a.i32", GgufValue::I32(-70_000))
        .kv("a.u64", GgufValue::U64(1 << 40))
        .kv("a.i64", GgufValue::I64(-(1 << 40)))
        .kv("a.f32", GgufValue::F32(1.5))
        .kv("a.f64", GgufValue::F64(-2.25))
        .kv("a.bool", GgufValue::Bool(true))
        .kv(
            "tok.tokens",
            GgufValue::Array(GgufArray::Str(vec![
                "<s>".into(),
                "Ġthe".into(),
                "é".into(),
            ])),
        )
        .kv("tok.types", GgufValue::Array(GgufArray::I32(vec![3, 1, 1])))
        .kv(
            "tok.scores",
            GgufValue::Array(GgufArray::F32(vec![0.0, -1.0, -2.5])),
        )
        .kv(
            "a.nested",
            GgufValue::Array(GgufArray::Array(vec![
                GgufArray::U8(vec![1, 2]),
                GgufArray::Bool(vec![true, false]),
            ])),
        )
        .f32_tensor("w", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .tensor("q", &[32], GgmlType::Q8_0, (0u8..34).collect())
        .to_bytes()
}

#[test]
fn reads_every_value_type_and_tensor() {
    let f = GgufFile::from_bytes("sample.gguf", sample()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!(f.get_u32("a.u8").unwrap(), 7);
    assert_eq!(f.get_u32("a.u16").unwrap(), 700);
    assert_eq!(f.get_u32("a.u32").unwrap(), 70_000);
    assert_eq!(f.get_u64("a.u64").unwrap(), 1 << 40);
    assert_eq!(f.opt_i64("a.i64").unwrap(), Some(-(1 << 40)));
    assert_eq!(f.opt_i64("a.i16").unwrap(), Some(-700));
    assert_eq!(f.get("a.i8"), Some(&GgufValue::I8(-7)));
    assert_eq!(f.get_f32("a.f32").unwrap(), 1.5);
    assert_eq!(f.get_f32("a.f64").unwrap(), -2.25);
    assert!(f.get_bool("a.bool").unwrap());
    assert_eq!(f.get_str_array("tok.tokens").unwrap(), ["<s>", "Ġthe", "é"]);
    assert_eq!(f.get_i32_array("tok.types").unwrap(), [3, 1, 1]);
    assert_eq!(f.get_f32_array("tok.scores").unwrap(), [0.0, -1.0, -2.5]);
    let nested = f.get_array("a.nested").unwrap();
    assert_eq!(nested.len(), 2);
    assert_eq!(f.metadata().count(), 16);

    let w = f.tensor("w").unwrap();
    assert_eq!(w.dims, [3, 2]);
    assert_eq!(w.shape(), [2, 3]);
    assert_eq!(w.ty, GgmlType::F32);
    let bytes = f.tensor_bytes("w").unwrap();
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let q = f.tensor("q").unwrap();
    assert_eq!(q.offset % f.alignment(), 0);
    assert_eq!(f.data(q), (0u8..34).collect::<Vec<_>>());
}

#[test]
fn accessor_errors_are_typed_diagnostics() {
    let f = GgufFile::from_bytes("sample.gguf", sample()).unwrap();
    let e = f.get_u32("nope").unwrap_err();
    assert_eq!(code(&e), "lpipe::E304");
    assert!(e.to_string().contains("sample.gguf") && e.to_string().contains("nope"));
    assert_eq!(f.opt_u32("nope").unwrap(), None);
    // Negative and too-large integers do not silently wrap.
    assert_eq!(code(&f.get_u32("a.i8").unwrap_err()), "lpipe::E305");
    assert_eq!(code(&f.get_u32("a.u64").unwrap_err()), "lpipe::E305");
    let e = f.get_str("a.u32").unwrap_err();
    assert_eq!(code(&e), "lpipe::E305");
    assert!(e.to_string().contains("UINT32"), "{e}");
    let e = f.get_str_array("tok.types").unwrap_err();
    assert!(e.to_string().contains("ARRAY[INT32]"), "{e}");
    let e = f.tensor("missing.weight").unwrap_err();
    assert_eq!(code(&e), "lpipe::E306");
    assert!(e.to_string().contains("missing.weight"));
}

#[test]
fn every_truncation_is_a_diagnostic() {
    let full = sample();
    assert!(GgufFile::from_bytes("t.gguf", full.clone()).is_ok());
    let data_start = GgufFile::from_bytes("t.gguf", full.clone())
        .unwrap()
        .data_offset() as usize;
    for len in 0..full.len() {
        let e = GgufFile::from_bytes("t.gguf", full[..len].to_vec()).unwrap_err();
        assert!(e.to_string().contains("t.gguf"), "len {len}: {e}");
        let c = code(&e);
        if len >= data_start {
            // Header intact, data cut: the diagnostic names the tensor.
            assert_eq!(c, "lpipe::E307", "len {len}: {e}");
            let msg = e.to_string();
            assert!(
                msg.contains("tensor `q`") || msg.contains("tensor `w`"),
                "len {len}: {e}"
            );
            assert!(msg.contains("run past the end"), "len {len}: {e}");
        } else {
            assert!(
                ["lpipe::E301", "lpipe::E303", "lpipe::E307"].contains(&c.as_str()),
                "len {len}: {c} {e}"
            );
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let full = sample();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut failures = 0;
    for _ in 0..4000 {
        let mut bytes = full.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = rng.random();
        }
        if rng.random_bool(0.2) {
            bytes.truncate(rng.random_range(0..bytes.len()));
        }
        match GgufFile::from_bytes("m.gguf", bytes) {
            Ok(f) => {
                // Whatever parsed must be readable without panics.
                for t in f.tensors() {
                    let _ = f.data(t).len();
                }
            }
            Err(e) => {
                failures += 1;
                assert!(e.to_string().contains("m.gguf"), "{e}");
            }
        }
    }
    // Mutations in tensor payloads parse fine; most header mutations must be caught.
    assert!(failures > 1000, "only {failures} mutated files rejected");
}

#[test]
fn header_faults_have_specific_codes() {
    let mut bytes = sample();
    bytes[0] = b'X';
    assert_eq!(
        code(&GgufFile::from_bytes("x", bytes).unwrap_err()),
        "lpipe::E301"
    );

    let mut bytes = sample();
    bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
    let e = GgufFile::from_bytes("x", bytes).unwrap_err();
    assert_eq!(code(&e), "lpipe::E302");
    assert!(e.to_string().contains("version 1"));

    // A hostile tensor count must be refused before allocating.
    let mut bytes = sample();
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = GgufFile::from_bytes("x", bytes).unwrap_err();
    assert_eq!(code(&e), "lpipe::E303");
    assert!(e.to_string().contains("tensor count"), "{e}");

    let bad_align = GgufWriter::new()
        .kv("general.alignment", GgufValue::U32(24))
        .to_bytes();
    let e = GgufFile::from_bytes("x", bad_align).unwrap_err();
    assert!(e.to_string().contains("alignment"), "{e}");

    let dup = GgufWriter::new()
        .kv("k", GgufValue::U8(1))
        .kv("k", GgufValue::U8(2))
        .to_bytes();
    let e = GgufFile::from_bytes("x", dup).unwrap_err();
    assert!(e.to_string().contains("duplicate metadata key `k`"), "{e}");

    let partial_block = GgufWriter::new()
        .tensor("q", &[16], GgmlType::Q8_0, vec![0; 34])
        .to_bytes();
    let e = GgufFile::from_bytes("x", partial_block).unwrap_err();
    assert_eq!(code(&e), "lpipe::E307");
    assert!(e.to_string().contains("whole Q8_0 blocks"), "{e}");
}

#[test]
fn open_reports_missing_file() {
    let e = GgufFile::open("/nonexistent/model.gguf").unwrap_err();
    assert_eq!(code(&e), "lpipe::E300");
    assert!(e.to_string().contains("/nonexistent/model.gguf"));
}
