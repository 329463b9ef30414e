//! Dequantization against `gguf.quants.dequantize` and transformers' un-permuted q/k, bit for
//! bit (../shared/golden/gguf_smollm2/weights_slices.safetensors). Exact equality is the right
//! tolerance: both sides do the same f16→f32 conversions and one f32 multiply (and add).

use lpipe::model::config::from_gguf;
use lpipe::model::dequant::dequantize;
use lpipe::model::gguf::GgufFile;
use lpipe::model::gguf_weights::GgufWeights;
use lpipe::model::safetensors::SafetensorsFile;
use lpipe::nn::init::WeightSource;

fn setup() -> Option<(GgufFile, SafetensorsFile)> {
    let model = lpipe::testing::smollm2()?;
    let shared = lpipe::testing::shared()?;
    let golden = shared.join("golden/gguf_smollm2/weights_slices.safetensors");
    Some((
        GgufFile::open(model).unwrap(),
        SafetensorsFile::open(&golden).unwrap(),
    ))
}

fn assert_bits(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{what}[{i}]: {a} vs {b}");
    }
}

#[test]
fn q4_1_q8_0_and_f32_match_gguf_py() {
    let Some((file, golden)) = setup() else {
        return;
    };
    for name in [
        "blk.0.attn_q.weight",
        "blk.0.attn_k.weight",
        "blk.0.attn_norm.weight",
    ] {
        let ours = dequantize(&file, file.tensor(name).unwrap()).unwrap();
        let theirs = golden
            .to_f32(&format!("gguf_dequant.{name}"), None)
            .unwrap();
        assert_bits(&ours, &theirs, name);
    }
    let embd = dequantize(&file, file.tensor("token_embd.weight").unwrap()).unwrap();
    let rows = golden
        .to_f32("gguf_dequant.token_embd.weight.rows_0_16", Some(&[16, 576]))
        .unwrap();
    assert_bits(&embd[..16 * 576], &rows, "token_embd rows 0..16 (Q8_0)");

    let down = file.tensor("blk.0.ffn_down.weight").unwrap();
    let (_, raw) = golden
        .raw("gguf_raw.blk.0.ffn_down.weight.first_240_bytes")
        .unwrap();
    assert_eq!(&file.data(down)[..240], raw, "raw Q4_1 bytes");
    let ours = dequantize(&file, down).unwrap();
    let theirs = golden
        .to_f32("gguf_dequant.blk.0.ffn_down.weight.row0_first_128", None)
        .unwrap();
    assert_bits(&ours[..128], &theirs, "ffn_down row 0 (Q4_1)");
}

#[test]
fn unpermuted_q_k_match_transformers_layout() {
    let Some((file, golden)) = setup() else {
        return;
    };
    let config = from_gguf(&file).unwrap();
    let src = GgufWeights {
        file: &file,
        config: &config,
    };
    for (hf, rows) in [("q_proj", 576), ("k_proj", 192)] {
        let name = format!("model.layers.0.self_attn.{hf}.weight");
        let ours = src.load(&name, &[rows, 576]).unwrap();
        let theirs = golden.to_f32(&format!("hf.{name}"), None).unwrap();
        assert_bits(&ours, &theirs, &name);
    }
}

/// The loader and `lpipe plan` read one architecture from the header: the runtime configuration
/// is the built-in `smollm2-135m` row (eps stored as f32 in GGUF, widened exactly).
#[test]
fn the_loader_reads_the_arch_plan_reads() {
    let Some((file, _)) = setup() else {
        return;
    };
    let arch = lpipe::model::arch::Arch::from_gguf(&file, "smollm2.gguf").unwrap();
    let mut builtin = lpipe::model::arch::Arch::builtin("smollm2-135m").unwrap();
    builtin.rms_norm_eps = f64::from(1e-5_f32);
    assert_eq!(arch, builtin);
    let config = from_gguf(&file).unwrap();
    assert_eq!(
        (config.vocab_size, config.hidden_size, config.num_layers),
        (arch.vocab_size, arch.hidden_size, arch.num_layers)
    );
    assert_eq!((config.num_kv_heads, config.head_dim), (3, 64));
    assert_eq!((config.rope_theta, config.max_seq_len), (100_000.0, 8192));
    assert!(config.tie_word_embeddings);
}
