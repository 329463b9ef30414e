//! Parameter counts and architectures against the golden references in ../shared/golden.

use std::collections::HashMap;
use std::path::Path;

use lpipe::ir::target::LoraTarget;
use lpipe::model::arch::{Arch, GgufHeader, GgufScalar};
use lpipe::plan::params::{base_params, lora_params};
use serde_json::Value;

fn golden(rel: &str) -> Option<Value> {
    let shared = lpipe::testing::shared()?;
    let path = shared.join("golden").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The built-in name for each model of param_counts.json.
fn builtin_for(key: &str) -> &'static str {
    match key {
        "llama2_7b" => "llama2-7b",
        "smollm2_135m" => "smollm2-135m",
        "tiny_lora_step" => "tiny",
        other => panic!("param_counts.json has a model `{other}` without a built-in"),
    }
}

/// PEFT `target_modules` → lpipe targets; a target must be named in full (all three MLP linears).
fn targets_of(modules: &[Value]) -> Vec<LoraTarget> {
    let names: Vec<&str> = modules.iter().filter_map(Value::as_str).collect();
    let targets: Vec<LoraTarget> = LoraTarget::ALL
        .into_iter()
        .filter(|t| t.hf_modules().iter().all(|m| names.contains(m)))
        .collect();
    let covered: usize = targets.iter().map(|t| t.hf_modules().len()).sum();
    assert_eq!(
        covered,
        names.len(),
        "modules {names:?} do not map onto whole targets"
    );
    targets
}

fn u64_at(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

#[test]
fn param_counts_match_peft_exactly() {
    let Some(golden) = golden("param_counts/param_counts.json") else {
        return;
    };
    let models = golden["models"].as_object().expect("models");
    assert_eq!(models.len(), 3);
    let mut cases = 0;
    for (key, model) in models {
        let arch = Arch::builtin(builtin_for(key)).expect("built in");
        let cfg = &model["config"];
        for (field, ours) in [
            ("vocab_size", arch.vocab_size),
            ("hidden_size", arch.hidden_size),
            ("intermediate_size", arch.intermediate_size),
            ("num_hidden_layers", arch.num_layers),
            ("num_attention_heads", arch.num_heads),
            ("num_key_value_heads", arch.num_kv_heads),
            ("max_position_embeddings", arch.max_position_embeddings),
        ] {
            assert_eq!(u64_at(cfg, field), ours as u64, "{key}.{field}");
        }
        assert_eq!(
            cfg["tie_word_embeddings"].as_bool(),
            Some(arch.tie_word_embeddings)
        );
        assert_eq!(
            base_params(&arch),
            u64_at(model, "total_params"),
            "{key} total"
        );
        for (name, lora) in model["lora"].as_object().expect("lora") {
            let targets = targets_of(lora["target_modules"].as_array().expect("modules"));
            let r = u32::try_from(u64_at(lora, "r")).expect("small r");
            let trainable = lora_params(&arch, &targets, r);
            assert_eq!(trainable, u64_at(lora, "trainable_params"), "{key} {name}");
            assert_eq!(
                base_params(&arch) + trainable,
                u64_at(lora, "all_params_incl_lora"),
                "{key} {name} all"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 8);
}

#[test]
fn tied_head_lora_matches_peft() {
    // PEFT 0.21.2 wraps a tied lm_head anyway (warning about `ensure_weight_tying`); counts
    // from scripts/reference/param_counts_tied_head.py on the meta device: r=16 on the head
    // alone 795,648; all linears plus the head 5,680,128.
    let a = Arch::builtin("smollm2-135m").expect("built in");
    assert_eq!(lora_params(&a, &[LoraTarget::Head], 16), 795_648);
    assert_eq!(lora_params(&a, &LoraTarget::ALL, 16), 5_680_128);
}

#[test]
fn tiny_matches_lora_step_model_config() {
    let Some(golden) = golden("lora_step/lora_step.json") else {
        return;
    };
    let cfg = &golden["model_config"];
    let text = cfg.to_string();
    let from_golden = Arch::from_hf_config_str(&text, "lora_step.json model_config");
    let mut from_golden = from_golden.expect("golden config parses");
    // The golden file spells RoPE as `rope: {rope_theta}` (neither HF spelling): take it from there.
    from_golden.rope_theta = cfg["rope"]["rope_theta"].as_f64().expect("rope_theta");
    assert_eq!(from_golden, Arch::builtin("tiny").expect("built in"));
}

/// metadata.json's view of the SmolLM2 GGUF header.
struct GoldenHeader {
    kv: HashMap<String, GgufScalar>,
    tensors: Vec<String>,
}

impl GoldenHeader {
    fn load(metadata: &Value) -> GoldenHeader {
        let mut kv = HashMap::new();
        for (key, entry) in metadata["all_kv_except_big_arrays"]
            .as_object()
            .expect("kv")
        {
            let ty = entry["types"][0].as_str().expect("type");
            let v = &entry["value"];
            let scalar = match ty {
                "UINT8" | "UINT16" | "UINT32" | "UINT64" => {
                    GgufScalar::Uint(v.as_u64().expect("u"))
                }
                "INT8" | "INT16" | "INT32" | "INT64" => GgufScalar::Int(v.as_i64().expect("i")),
                "FLOAT32" | "FLOAT64" => GgufScalar::Float(v.as_f64().expect("f")),
                "BOOL" => GgufScalar::Bool(v.as_bool().expect("b")),
                "STRING" => GgufScalar::Str(v.as_str().expect("s").to_string()),
                "ARRAY" => GgufScalar::ArrayLen(v.as_array().expect("a").len() as u64),
                other => panic!("unexpected GGUF type {other}"),
            };
            kv.insert(key.clone(), scalar);
        }
        for (key, entry) in metadata["big_arrays"].as_object().expect("big arrays") {
            kv.insert(key.clone(), GgufScalar::ArrayLen(u64_at(entry, "len")));
        }
        let tensors = metadata["tensors"]
            .as_array()
            .expect("tensors")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_string())
            .collect();
        GoldenHeader { kv, tensors }
    }
}

impl GgufHeader for GoldenHeader {
    fn kv(&self, key: &str) -> Option<GgufScalar> {
        self.kv.get(key).cloned()
    }
    fn has_tensor(&self, name: &str) -> bool {
        self.tensors.iter().any(|t| t == name)
    }
}

#[test]
fn smollm2_gguf_header_gives_the_builtin_arch() {
    let Some(meta) = golden("gguf_smollm2/metadata.json") else {
        return;
    };
    let mut header = GoldenHeader::load(&meta);
    assert_eq!(header.tensors.len(), 272);
    // No `output.weight` tensor: lm_head is tied to token_embd.weight.
    assert!(!header.has_tensor("output.weight"));
    let arch = Arch::from_gguf(&header, "SmolLM2-135M-Instruct.Q4_1.gguf").expect("reads");
    let mut expected = Arch::builtin("smollm2-135m").expect("built in");
    // GGUF stores eps as f32: 1e-5 widened to f64.
    expected.rms_norm_eps = f64::from(1e-5_f32);
    assert_eq!(arch, expected);
    assert_eq!(base_params(&arch), 134_515_008);

    // Without `llama.vocab_size` the tokenizer's token count is used.
    header.kv.remove("llama.vocab_size");
    assert_eq!(
        Arch::from_gguf(&header, "x.gguf")
            .expect("reads")
            .vocab_size,
        49152
    );
    header.kv.remove("tokenizer.ggml.tokens");
    assert!(Arch::from_gguf(&header, "x.gguf").is_err());
}

#[test]
fn gguf_errors_name_the_key() {
    let Some(meta) = golden("gguf_smollm2/metadata.json") else {
        return;
    };
    let mut header = GoldenHeader::load(&meta);
    header.kv.remove("llama.block_count");
    let err = Arch::from_gguf(&header, "x.gguf").expect_err("missing key");
    assert!(err.to_string().contains("llama.block_count"), "{err}");
    header
        .kv
        .insert("llama.block_count".into(), GgufScalar::Str("30".into()));
    let err = Arch::from_gguf(&header, "x.gguf").expect_err("wrong type");
    assert!(err.to_string().contains("llama.block_count"), "{err}");
    header.kv.insert(
        "general.architecture".into(),
        GgufScalar::Str("gpt2".into()),
    );
    let err = Arch::from_gguf(&header, "x.gguf").expect_err("not llama");
    assert!(err.to_string().contains("gpt2"), "{err}");
}

/// SmolLM2-360M-Instruct's config.json as published on the Hugging Face hub.
const SMOLLM2_360M_CONFIG: &str = r#"{
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 1, "eos_token_id": 2, "head_dim": 64, "hidden_act": "silu",
  "hidden_size": 960, "initializer_range": 0.02, "intermediate_size": 2560,
  "is_llama_config": true, "max_position_embeddings": 8192, "mlp_bias": false,
  "model_type": "llama", "num_attention_heads": 15, "num_hidden_layers": 32,
  "num_key_value_heads": 5, "pad_token_id": 2, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.42.3",
  "use_cache": true, "vocab_size": 49152
}"#;

#[test]
fn hf_config_file_matches_builtin() {
    let dir = lpipe::testing::scratch("plan-numbers");
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("config.json"), SMOLLM2_360M_CONFIG).expect("write");
    let arch = Arch::from_hf_config(&dir).expect("reads the directory's config.json");
    assert_eq!(arch, Arch::builtin("smollm2-360m").expect("built in"));
    let missing = Arch::from_hf_config(Path::new(&dir.join("nope.json")));
    assert!(
        missing
            .expect_err("no file")
            .to_string()
            .contains("nope.json")
    );
    std::fs::remove_dir_all(&dir).ok();
}

mod memory {
    use lpipe::ir::target::LoraTarget;
    use lpipe::model::arch::Arch;
    use lpipe::plan::memory::{
        ALPACA_LONGEST_LLAMA2_TOKENS, MemoryInputs, Optimizer, Precision, estimate,
    };

    /// LitGPT and the seed print `max_memory_allocated() / 1e9` as "GB".
    const GB: f64 = 1e9;

    /// The seed's default run: Llama 2 7B, Alpaca, micro-batch 1, r=8 on q and v, bf16-true.
    fn seed_run(model: &str) -> MemoryInputs {
        let arch = Arch::builtin(model).expect("built in");
        let qv = [LoraTarget::Query, LoraTarget::Value];
        MemoryInputs::new(
            arch,
            &qv,
            8,
            Precision::Bf16True,
            ALPACA_LONGEST_LLAMA2_TOKENS,
        )
    }

    fn gb(inputs: &MemoryInputs) -> f64 {
        estimate(inputs).allocated as f64 / GB
    }

    /// The issue's acceptance window: within 10% of the measured peak.
    fn assert_within_10pct(estimate: f64, measured: f64, what: &str) {
        let rel = (estimate - measured) / measured;
        assert!(
            rel.abs() <= 0.10,
            "{what}: estimate {estimate:.2} GB vs measured {measured:.2} GB ({:+.1}%)",
            100.0 * rel
        );
    }

    #[test]
    fn seed_measurements_within_10_percent() {
        let lora = seed_run("llama2-7b");
        let nf4 = lora.clone().quantized(false);
        let nf4_dq = lora.clone().quantized(true);
        let mut sgd = nf4.clone();
        sgd.optimizer = Optimizer::Sgd { momentum: false };
        // The seed article (A100): LoRA bf16, QLoRA nf4 / fp4 (same storage), nf4 with SGD.
        assert_within_10pct(gb(&lora), 21.33, "seed LoRA bf16");
        assert_within_10pct(gb(&nf4), 14.18, "seed QLoRA nf4");
        assert_within_10pct(gb(&nf4), 14.19, "seed QLoRA fp4");
        assert_within_10pct(gb(&sgd), 14.15, "seed QLoRA nf4 + SGD");
        // LitGPT's resource table (A100, same recipe): bf16 / nf4 / nf4-dq.
        assert_within_10pct(gb(&lora), 21.30, "LitGPT bf16");
        assert_within_10pct(gb(&nf4), 14.14, "LitGPT nf4");
        assert_within_10pct(gb(&nf4_dq), 13.84, "LitGPT nf4-dq");
        assert!(
            gb(&nf4_dq) < gb(&nf4),
            "double quantization must save memory"
        );
        assert!(gb(&sgd) < gb(&nf4), "SGD keeps fewer states than AdamW");
        // AdamW's two bf16 moments over 4,194,304 parameters: the seed's 16.78 MB.
        let adam_extra = estimate(&nf4).allocated - estimate(&sgd).allocated;
        assert_eq!(adam_extra, 4_194_304 * 2 * 2);
    }

    #[test]
    fn litgpt_table_beyond_the_seed_within_10_percent() {
        // Same table, rows the model was not built from: micro-batch 2 and Llama 2 13B.
        let mut mb2 = seed_run("llama2-7b");
        mb2.micro_batch = 2;
        assert_within_10pct(gb(&mb2), 29.07, "LitGPT 7B micro-batch 2");
        let l13 = seed_run("llama2-13b");
        assert_within_10pct(gb(&l13), 38.12, "LitGPT 13B bf16");
        assert_within_10pct(gb(&l13.clone().quantized(false)), 23.14, "LitGPT 13B nf4");
        assert_within_10pct(gb(&l13.quantized(true)), 22.55, "LitGPT 13B nf4-dq");
    }

    #[test]
    fn calibration_table_stays_within_2_percent() {
        // Regression guard tighter than the acceptance window: docs/memory.md reports every
        // row within 1.1%; a change to the model that drifts past 2% must update the docs.
        let l7 = seed_run("llama2-7b");
        let l13 = seed_run("llama2-13b");
        let mut mb2 = l7.clone();
        mb2.micro_batch = 2;
        let mut sgd = l7.clone().quantized(false);
        sgd.optimizer = Optimizer::Sgd { momentum: false };
        let rows = [
            ("7B bf16 (seed)", l7.clone(), 21.33),
            ("7B bf16 (LitGPT)", l7.clone(), 21.30),
            ("7B bf16 mb2 (LitGPT)", mb2, 29.07),
            ("7B nf4 (seed)", l7.clone().quantized(false), 14.18),
            ("7B nf4 (LitGPT)", l7.clone().quantized(false), 14.14),
            ("7B fp4 (seed)", l7.clone().quantized(false), 14.19),
            ("7B nf4-dq (LitGPT)", l7.quantized(true), 13.84),
            ("7B nf4 SGD (seed)", sgd, 14.15),
            ("13B bf16 (LitGPT)", l13.clone(), 38.12),
            ("13B nf4 (LitGPT)", l13.clone().quantized(false), 23.14),
            ("13B nf4-dq (LitGPT)", l13.quantized(true), 22.55),
        ];
        for (what, run, measured) in rows {
            let est = gb(&run);
            let rel = (est - measured) / measured;
            println!(
                "{what:<22} measured {measured:6.2} GB  estimate {est:6.2} GB  {:+5.1}%",
                100.0 * rel
            );
            assert!(rel.abs() <= 0.02, "{what}: {est:.2} GB vs {measured:.2} GB");
        }
    }

    #[test]
    fn knobs_move_the_estimate_the_right_way() {
        let base = seed_run("llama2-7b");
        let e = estimate(&base);
        let mut ckpt = base.clone();
        ckpt.activation_checkpointing = true;
        assert!(estimate(&ckpt).activations < e.activations / 10);
        let mut long = base.clone();
        long.seq_len *= 2;
        assert_eq!(estimate(&long).activations, 2 * e.activations);
        let mut wide = base.clone();
        wide.r = 256;
        wide.targets = LoraTarget::ALL.to_vec();
        assert!(estimate(&wide).optimizer_state > 100 * e.optimizer_state);
        let mut f32 = base.clone();
        (f32.weight_dtype, f32.compute_dtype, f32.trainable_dtype) = Precision::F32True.dtypes();
        f32.base = lpipe::plan::memory::BaseFormat::Float(f32.weight_dtype);
        assert_eq!(estimate(&f32).base_weights, 4 * 6_738_415_616);
        // The parts add up, and the device total adds context and allocator slack.
        let parts: u64 = e.parts().iter().map(|(_, b)| b).sum();
        assert_eq!(parts, e.allocated);
        assert_eq!(e.total, e.allocated + e.allocator_slack + e.context);
        assert!(
            e.fits(40 << 30) && !e.fits(16 << 30),
            "7B LoRA fits an A100-40GB, not 16 GiB"
        );
    }

    #[test]
    fn absurd_inputs_saturate_instead_of_panicking() {
        let mut run = seed_run("llama2-70b");
        run.micro_batch = u32::MAX;
        run.seq_len = u32::MAX;
        run.r = u32::MAX;
        run.targets = LoraTarget::ALL.to_vec();
        let e = estimate(&run);
        assert!(!e.fits(u64::MAX / 2));
    }
}

mod diagnostics {
    use std::collections::HashMap;

    use lpipe::model::arch::{Arch, ArchError, GgufHeader, GgufScalar};
    use miette::{GraphicalReportHandler, GraphicalTheme};

    /// Rendered as users see it, without colour, at width 80.
    fn render(err: &ArchError) -> String {
        let mut out = String::new();
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(80)
            .render_report(&mut out, err)
            .expect("renders");
        out
    }

    fn hf_err(text: &str) -> ArchError {
        Arch::from_hf_config_str(text, "ckpt/config.json").expect_err("invalid config")
    }

    struct Kv(HashMap<&'static str, GgufScalar>);

    impl GgufHeader for Kv {
        fn kv(&self, key: &str) -> Option<GgufScalar> {
            self.0.get(key).cloned()
        }
        fn has_tensor(&self, _: &str) -> bool {
            false
        }
    }

    #[test]
    fn e201_unknown_builtin() {
        let err = Arch::builtin("llama2-8b").expect_err("unknown");
        insta::assert_snapshot!(render(&err));
    }

    #[test]
    fn e202_unreadable_config() {
        let err = Arch::from_hf_config(std::path::Path::new("/nonexistent/ckpt/config.json"))
            .expect_err("missing file");
        insta::assert_snapshot!(render(&err));
    }

    #[test]
    fn e203_invalid_json() {
        insta::assert_snapshot!(render(&hf_err("{\n  \"vocab_size\": 32000,,\n}")));
    }

    #[test]
    fn e204_missing_field() {
        let text = r#"{"vocab_size": 32000, "hidden_size": 4096, "num_attention_heads": 32}"#;
        insta::assert_snapshot!(render(&hf_err(text)));
    }

    #[test]
    fn e205_invalid_field() {
        let text = "{\n  \"vocab_size\": 32000,\n  \"hidden_size\": \"4096\"\n}";
        insta::assert_snapshot!(render(&hf_err(text)));
        let gguf = Kv(HashMap::from([
            ("general.architecture", GgufScalar::Str("llama".into())),
            ("llama.embedding_length", GgufScalar::Float(576.0)),
        ]));
        let err = Arch::from_gguf(&gguf, "model.gguf").expect_err("float dim");
        insta::assert_snapshot!(render(&err));
    }

    #[test]
    fn e206_not_llama() {
        insta::assert_snapshot!(render(&hf_err(r#"{"model_type": "gpt2"}"#)));
    }
}
