//! The packed 4-bit base weight: forward and LoRA gradients equal the dense model built from
//! the same dequantized weights, and the quantized weights are cached by content.

use burn::tensor::{Device, Distribution, Tensor};
use lpipe::ir::quant::{QuantType, Quantize};
use lpipe::ir::target::LoraTarget;
use lpipe::model::quantize::{default_modules, quantize_llama};
use lpipe::nn::init::InitOptions;
use lpipe::nn::quant_linear::PackedWeight;
use lpipe::nn::{Linear, LinearWeight, Llama, LlamaConfig};
use lpipe::quant::{dequantize_f32, quantize};
use lpipe::train::batch::{Example, collate};
use lpipe::train::llama::LlamaLora;
use lpipe::train::step::{LossNorm, accumulate_grads};
use lpipe::train::{AdapterConfig, LoraModel};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

fn settings(kind: QuantType, double_quant: bool) -> Quantize {
    Quantize {
        kind,
        double_quant,
        block_size: 64,
        modules: default_modules(),
    }
}

fn tiny() -> Llama {
    LlamaConfig::new(64, 64, 96, 2, 4, 2, 16)
        .with_max_seq_len(32)
        .init_random(InitOptions { native_gqa: true }, &Device::flex())
}

/// The model with every 4-bit linear replaced by a dense one holding `quant::dequantize_f32` of
/// the same bytes (loaded through the ordinary HF-layout path).
fn dequantized_dense(model: &Llama) -> Llama {
    let mut dense = model.clone();
    for (_, l) in dense.linears_mut() {
        if let LinearWeight::Packed4(p) = &l.weight {
            let v = dequantize_f32(&p.quantized()).unwrap();
            let (d_in, d_out) = p.dims();
            l.weight = Linear::from_hf(&v, d_out, d_in, &Device::flex()).weight;
        }
    }
    dense
}

#[test]
fn four_bit_linear_forward_equals_dense_on_dequantized_weight() {
    // Random weights and inputs come from the backend's generator, process-wide.
    let _lock = crate::support::global_lock();
    let d = Device::flex();
    for (o, i, kind) in [(96, 64, QuantType::Nf4), (50, 130, QuantType::Fp4)] {
        let w = Tensor::<2>::random([o, i], Distribution::Normal(0.0, 0.05), &d);
        let w = values(w);
        let qt = lpipe::model::quantize::quant_type(kind);
        let q = quantize("w", &w, &[o, i], qt, 64, true).unwrap();
        let deq = dequantize_f32(&q).unwrap();
        let packed = Linear {
            weight: LinearWeight::Packed4(PackedWeight::new(q, &d).unwrap()),
            lora: None,
        };
        let dense = Linear::from_hf(&deq, o, i, &d);
        assert_eq!((packed.d_in(), packed.d_out()), (i, o));
        // 3 × 40 rows: enough for the row-parallel path of `nn::parallel::linear`.
        let x = Tensor::<3>::random([3, 40, i], Distribution::Normal(0.0, 1.0), &d);
        let a = values(packed.forward(x.clone()));
        let b = values(dense.forward(x));
        // Exact: the same f32 weights enter the same gemm (only the layout view differs).
        assert_eq!(a, b, "{o}x{i} {kind:?}");
        // and the 4-bit layer is not the original weight (quantization did something)
        let orig = values(Linear::from_hf(&w, o, i, &d).weight.dense());
        assert_ne!(orig, values(packed.weight.dense()));
    }
}

#[test]
fn lora_gradients_match_the_dense_dequantized_model() {
    let _lock = crate::support::global_lock();
    let (q, report) = quantize_llama(
        tiny(),
        &settings(QuantType::Nf4, true),
        None,
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(report.modules.len(), 2 * 7);
    assert!(!report.modules.contains(&"lm_head".to_string()));
    assert!(report.packed_bytes * 7 < report.dense_bytes);
    let dense = dequantized_dense(&q);
    let device = Device::flex().autodiff();
    let config = AdapterConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.0,
        target_modules: ["q_proj", "v_proj", "up_proj", "down_proj", "lm_head"]
            .map(String::from)
            .to_vec(),
        use_rslora: false,
        base_model_name_or_path: None,
    };
    let mut mq = LlamaLora::new(q, config.clone(), &device).unwrap();
    let mut md = LlamaLora::new(dense, config, &device).unwrap();
    // Non-zero A and B in both, so every factor gets a gradient.
    for (name, t) in mq.lora_tensors() {
        let v = Tensor::<2>::random(t.dims(), Distribution::Normal(0.0, 0.1), &Device::flex());
        mq.set_lora_tensor(&name, v.clone()).unwrap();
        md.set_lora_tensor(&name, v).unwrap();
    }
    let examples: Vec<Example> = (0..2)
        .map(|r| Example::unmasked((0..12).map(|t| (t * 7 + r * 3) % 64).collect()))
        .collect();
    let mb = collate(&examples.iter().collect::<Vec<_>>(), 0);
    let gq = accumulate_grads(&mq, std::slice::from_ref(&mb), LossNorm::TokenMean, None).unwrap();
    let gd = accumulate_grads(&md, std::slice::from_ref(&mb), LossNorm::TokenMean, None).unwrap();
    assert_eq!(gq.loss, gd.loss);
    assert_eq!(gq.grads.len(), 2 * 4 * 2 + 2);
    for (name, g) in &gq.grads {
        let a = g.clone().try_into_vec_as::<f32>().unwrap();
        let b = gd.grads[name].clone().try_into_vec_as::<f32>().unwrap();
        assert!(a.iter().any(|&v| v != 0.0), "{name} has no gradient");
        // Exact: identical f32 weights and ops in the same order, forward and backward.
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn quantized_weights_are_cached_by_content_and_match_bitsandbytes_bytes() {
    let _lock = crate::support::global_lock();
    let dir = lpipe::testing::scratch("qlora-cache");
    let d = Device::flex();
    let s = settings(QuantType::Fp4, false);
    let base = tiny();
    let (a, ra) = quantize_llama(base.clone(), &s, Some(dir.as_path()), &d).unwrap();
    let (b, rb) = quantize_llama(base.clone(), &s, Some(dir.as_path()), &d).unwrap();
    assert!(!ra.cache_hit && rb.cache_hit);
    assert_eq!(ra.cache_file, rb.cache_file);
    let file = ra.cache_file.clone().unwrap();
    assert!(file.starts_with(dir.join("quantized")) && file.is_file());
    // Other settings, another key.
    let (_, rc) = quantize_llama(
        base.clone(),
        &settings(QuantType::Nf4, true),
        Some(dir.as_path()),
        &d,
    )
    .unwrap();
    assert!(!rc.cache_hit && rc.cache_file != ra.cache_file);
    // Cached bytes equal a fresh bitsandbytes-exact quantization of the [out, in] weight.
    let orig = base.linears();
    for ((name, la), ((_, lb), (_, lo))) in a
        .linears()
        .into_iter()
        .zip(b.linears().into_iter().zip(orig))
    {
        let (LinearWeight::Packed4(pa), LinearWeight::Packed4(pb)) = (&la.weight, &lb.weight)
        else {
            assert_eq!(name, "lm_head"); // not in the default modules
            continue;
        };
        assert_eq!(pa.quantized(), pb.quantized(), "{name}");
        let w = values(lo.weight.dense().transpose());
        let (d_in, d_out) = lo.weight.dims();
        let fresh = quantize(
            &name,
            &w,
            &[d_out, d_in],
            pa.quantized().quant_type,
            64,
            false,
        )
        .unwrap();
        assert_eq!(pa.quantized(), fresh, "{name}");
    }
    // Only what `modules` names is quantized.
    let only_q = Quantize {
        modules: vec![LoraTarget::Query],
        ..s
    };
    let (_, r) = quantize_llama(base, &only_q, None, &d).unwrap();
    assert_eq!(
        r.modules,
        [
            "model.layers.0.self_attn.q_proj",
            "model.layers.1.self_attn.q_proj"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_block_size_is_an_error() {
    let _lock = crate::support::global_lock();
    let mut s = settings(QuantType::Nf4, false);
    s.block_size = 48;
    let err = quantize_llama(tiny(), &s, None, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("48"), "{err}");
}
