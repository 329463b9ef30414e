//! Ctrl-C on the real binary: `lpipe run` gets SIGINT once training has started, saves a
//! checkpoint and exits 130; the same `lpipe run` continues from it, and the final adapter equals
//! an uninterrupted run's bit for bit. Also: a plan before the run fills the tokenized-dataset
//! cache the run then reads.
//!
//! The model is a tiny Llama written here (deterministic weights, HF layout) with the
//! SentencePiece fixture as its `tokenizer.model`, so the test needs no download.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};

const HIDDEN: usize = 96;
const INTERMEDIATE: usize = 192;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = HIDDEN / HEADS;
/// The fixture tokenizer's vocabulary.
const VOCAB: usize = 400;
/// Micro-batch iterations: 150 optimizer steps of 2 micro-batches.
const ITERS: u64 = 300;
const STEPS: u64 = ITERS / 2;

/// Writes a tiny Llama in the HF layout: `config.json`, `model.safetensors`, `tokenizer.model`.
fn tiny_checkpoint(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB,
        "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
        "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "max_position_embeddings": 128,
        "tie_word_embeddings": false, "hidden_act": "silu",
        "bos_token_id": 1, "eos_token_id": 2
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("model.embed_tokens.weight".into(), vec![VOCAB, HIDDEN]),
        ("model.norm.weight".into(), vec![HIDDEN]),
        ("lm_head.weight".into(), vec![VOCAB, HIDDEN]),
    ];
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        let kv = KV_HEADS * HEAD_DIM;
        for (name, shape) in [
            ("input_layernorm.weight", vec![HIDDEN]),
            ("post_attention_layernorm.weight", vec![HIDDEN]),
            ("self_attn.q_proj.weight", vec![HIDDEN, HIDDEN]),
            ("self_attn.k_proj.weight", vec![kv, HIDDEN]),
            ("self_attn.v_proj.weight", vec![kv, HIDDEN]),
            ("self_attn.o_proj.weight", vec![HIDDEN, HIDDEN]),
            ("mlp.gate_proj.weight", vec![INTERMEDIATE, HIDDEN]),
            ("mlp.up_proj.weight", vec![INTERMEDIATE, HIDDEN]),
            ("mlp.down_proj.weight", vec![HIDDEN, INTERMEDIATE]),
        ] {
            shapes.push((format!("{p}.{name}"), shape));
        }
    }
    // xorshift64: the same weights on every machine, without a dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let norm = name.ends_with("norm.weight");
            let bytes = (0..n)
                .flat_map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let u = (state >> 40) as f32 / (1u64 << 24) as f32;
                    let v = if norm { 1.0 } else { (u - 0.5) * 0.2 };
                    v.to_le_bytes()
                })
                .collect();
            (name, shape, bytes)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = buffers
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sp_tiny_bpe.model"),
        dir.join("tokenizer.model"),
    )
    .unwrap();
}

fn pipeline(path: &Path, model: &Path, runs: &Path) {
    let text = format!(
        r#"name = "tiny-interrupt"
runs_dir = "{runs}"

dataset {{
  source = arithmetic(digits = 2, ops = [plus, minus], count = 64, seed = 3)
  template = alpaca
  max_seq_len = 48
  mask_prompt = false
  val_split = 0.125
  seed = 1
}}

model {{
  source = "{model}"
  precision = f32
  device = cpu
}}

lora {{
  targets = [query, value, mlp]
  r = 4
  alpha = 8
  dropout = 0.1
}}

train {{
  optimizer = adamw(lr = 1e-3, weight_decay = 0.01)
  schedule = warmup(5) then cosine
  batch_size = 2
  micro_batch_size = 1
  max_iters = {ITERS}
  seed = 7
  eval_interval = 50
  checkpoint_interval = 1000
  log_interval = 1
}}
"#,
        runs = runs.display(),
        model = model.display()
    );
    std::fs::write(path, text).unwrap();
}

fn lpipe(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpipe"));
    c.env("LPIPE_CACHE_DIR", cache);
    c
}

/// Events of a run's `metrics.jsonl`.
fn events(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn steps_done(run_dir: &Path) -> u64 {
    events(run_dir)
        .iter()
        .filter(|e| e["event"] == "step")
        .filter_map(|e| e["step"].as_u64())
        .max()
        .unwrap_or(0)
}

/// Tensor name → raw little-endian bytes of a PEFT adapter.
fn adapter(run_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(run_dir.join("adapter/adapter_model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    out.sort();
    out
}

#[test]
fn ctrl_c_checkpoints_and_resume_matches_an_uninterrupted_run() {
    let tmp = lpipe::testing::scratch("interrupt");
    let model = tmp.join("tiny-llama");
    tiny_checkpoint(&model);
    let cache = tmp.join("cache");
    let (interrupted, reference) = (tmp.join("interrupted.lpipe"), tmp.join("reference.lpipe"));
    pipeline(&interrupted, &model, &tmp.join("runs-interrupted"));
    pipeline(&reference, &model, &tmp.join("runs-reference"));
    let run_dir: PathBuf = tmp.join("runs-interrupted/tiny-interrupt/tiny-interrupt");

    // The plan tokenizes with the checkpoint's tokenizer.model (no weights read) and caches it.
    let plan = lpipe(&cache)
        .arg("plan")
        .arg(&interrupted)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(
        stdout.contains(
            "length stats (tokens of template prompt + response, without BOS/EOS; tokenizer "
        ) && stdout.contains("  64 examples: median "),
        "{stdout}"
    );

    // 1. SIGINT as soon as the run logs its first optimizer step (`log_interval = 1`): the
    //    signal is sent from the same wake-up that reads the line, no polling window.
    let mut child = lpipe(&cache)
        .args(["run", "--quiet"])
        .arg(&interrupted)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        stderr.push_str(&line);
        stderr.push('\n');
        if line.starts_with("lpipe: step 1/") {
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill(2) with a live child's pid and a valid signal number.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
            break;
        }
    }
    for line in lines {
        stderr.push_str(&line.unwrap());
        stderr.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted (resumable)"), "{stderr}");
    // The tokens came from the plan's cache entry.
    assert!(stderr.contains("dataset: cached (key "), "{stderr}");
    let stopped = steps_done(&run_dir);
    eprintln!("SIGINT after {stopped} of {STEPS} optimizer steps");
    assert!(
        (1..STEPS).contains(&stopped),
        "stopped after {stopped} of {STEPS} steps: make the run longer\n{stderr}"
    );
    // The checkpoint of the step it stopped at, and nothing of a finished run.
    let checkpoint = run_dir
        .join("checkpoints")
        .join(lpipe::train::checkpoint::step_dir_name(stopped));
    assert!(checkpoint.is_dir(), "no {}\n{stderr}", checkpoint.display());
    assert!(!run_dir.join("summary.json").exists());
    assert!(!run_dir.join("adapter").exists());

    // 2. Resume to the end.
    let resumed = lpipe(&cache)
        .args(["run", "--quiet"])
        .arg(&interrupted)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    let ev = events(&run_dir);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "resumed" && e["step"].as_u64() == Some(stopped)),
        "{ev:?}"
    );
    assert_eq!(steps_done(&run_dir), STEPS);

    // 3. The same pipeline without interruption.
    let whole = lpipe(&cache)
        .args(["run", "--quiet"])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let a = adapter(&run_dir);
    let b = adapter(&tmp.join("runs-reference/tiny-interrupt/tiny-interrupt"));
    assert_eq!(
        a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        b.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(!a.is_empty());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs after Ctrl-C + resume");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn a_named_tokenizer_larger_than_the_embeddings_is_refused() {
    let tmp = lpipe::testing::scratch("vocab");
    let model = tmp.join("tiny-llama");
    tiny_checkpoint(&model);
    let file = tmp.join("vocab.lpipe");
    pipeline(&file, &model, &tmp.join("runs"));
    // 800 pieces against the model's 400 embeddings.
    let unigram =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sp_tiny_unigram.model");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  device = cpu\n",
        &format!("  device = cpu\n  tokenizer = \"{}\"\n", unigram.display()),
    );
    std::fs::write(&file, text).unwrap();
    let out = lpipe(&tmp.join("cache"))
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // miette wraps long messages: compare words.
    let flat = stderr
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("lpipe::E801")
            && flat.contains("has 800 tokens, more than the model's 400 embeddings"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
