//! A tiny Llama checkpoint (HF layout: config.json, model.safetensors, a SentencePiece
//! tokenizer.model) and a small r/alpha sweep over it, for the sweep tests: a few hundred KB,
//! a training step takes milliseconds on a CPU.

use std::path::{Path, PathBuf};

use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// Vocabulary of the fixture tokenizer (tests/fixtures/sp_tiny_bpe.model).
pub const VOCAB: usize = 400;
const HIDDEN: usize = 32;
const INTERMEDIATE: usize = 64;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;

/// Deterministic values in [-scale, scale) (a fixed LCG: the checkpoint is identical on every run).
fn values(n: usize, salt: u64, scale: f32) -> Vec<f32> {
    let mut state = salt
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Writes the tiny checkpoint into `dir` (created) and returns it.
pub fn write_tiny_llama(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let head_dim = HIDDEN / HEADS;
    let kv = KV_HEADS * head_dim;
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut salt = 1;
    let mut push = |name: String, shape: Vec<usize>, norm: bool| {
        let n = shape.iter().product();
        let data = if norm {
            vec![1.0; n]
        } else {
            salt += 1;
            values(n, salt, 0.08)
        };
        tensors.push((name, shape, data));
    };
    push(
        "model.embed_tokens.weight".into(),
        vec![VOCAB, HIDDEN],
        false,
    );
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        push(format!("{p}.input_layernorm.weight"), vec![HIDDEN], true);
        push(
            format!("{p}.post_attention_layernorm.weight"),
            vec![HIDDEN],
            true,
        );
        push(
            format!("{p}.self_attn.q_proj.weight"),
            vec![HIDDEN, HIDDEN],
            false,
        );
        push(
            format!("{p}.self_attn.k_proj.weight"),
            vec![kv, HIDDEN],
            false,
        );
        push(
            format!("{p}.self_attn.v_proj.weight"),
            vec![kv, HIDDEN],
            false,
        );
        push(
            format!("{p}.self_attn.o_proj.weight"),
            vec![HIDDEN, HIDDEN],
            false,
        );
        push(
            format!("{p}.mlp.gate_proj.weight"),
            vec![INTERMEDIATE, HIDDEN],
            false,
        );
        push(
            format!("{p}.mlp.up_proj.weight"),
            vec![INTERMEDIATE, HIDDEN],
            false,
        );
        push(
            format!("{p}.mlp.down_proj.weight"),
            vec![HIDDEN, INTERMEDIATE],
            false,
        );
    }
    push("model.norm.weight".into(), vec![HIDDEN], true);
    push("lm_head.weight".into(), vec![VOCAB, HIDDEN], false);

    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, d)| d.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": VOCAB,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": false
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sp_tiny_bpe.model");
    std::fs::copy(&fixture, dir.join("tokenizer.model")).unwrap();
    dir.to_path_buf()
}

/// A 2×2 sweep over the tiny model: `lora.r ∈ {2, 4}` × `second_key ∈ second_values`, synthetic
/// arithmetic, 3 optimizer steps per point, a 4-question held-out evaluation of each adapter.
pub fn sweep_pipeline(name: &str, model: &Path, runs: &Path, second: &str) -> String {
    format!(
        r#"name = "{name}"
runs_dir = "{runs}"

dataset {{
  source = arithmetic(digits = 2, ops = [plus, minus], count = 48, seed = 3)
  template = alpaca
  max_seq_len = 128
  mask_prompt = true
  val_split = 0.125
  seed = 1
}}

model {{
  source = "{model}"
  precision = f32
  device = cpu
}}

lora {{
  targets = [query, value]
  r = 2
  alpha = 4
  dropout = 0.0
}}

train {{
  optimizer = adamw(lr = 1e-3, weight_decay = 0.0)
  schedule = warmup(1) then cosine
  batch_size = 2
  micro_batch_size = 2
  max_iters = 3
  seed = 7
  checkpoint_interval = 2
}}

eval heldout {{
  tasks = [heldout(max_new_tokens = 3)]
  on = [adapter]
  limit = 4
}}

sweep {{
  grid {{
    lora.r = [2, 4]
    {second}
  }}
}}
"#,
        runs = runs.display(),
        model = model.display()
    )
}

/// A fresh scratch directory under the system's temp dir.
pub fn scratch(name: &str) -> PathBuf {
    lpipe::testing::scratch(name)
}
