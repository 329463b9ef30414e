//! A tiny LoRA-wrapped bigram model for training-loop tests: logits for token t are column t of
//! `W + scaling * B @ A`, with W frozen and A, B trainable. Small enough that a test trains
//! hundreds of steps in milliseconds; it exercises the same autodiff, optimizer and checkpoint
//! paths as the Llama.

use std::cell::Cell;

use burn::tensor::{Device, Int, Tensor, TensorData};
use lpipe::train::{AdapterConfig, Example, LoraModel, TrainError};

pub struct BigramLora {
    pub device: Device,
    pub vocab: usize,
    pub r: usize,
    pub base: Tensor<2>,
    pub a: Tensor<2>,
    pub b: Tensor<2>,
    /// Forward passes after which logits become NaN (to test the non-finite diagnostic).
    pub poison_after: Option<usize>,
    pub forwards: Cell<usize>,
}

fn det(n: usize, salt: u64) -> Vec<f32> {
    // deterministic pseudo-random values in [-0.5, 0.5)
    let mut x = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

impl BigramLora {
    pub fn new(vocab: usize, r: usize) -> Self {
        let device = Device::flex().autodiff();
        let plain = Device::flex();
        let base = Tensor::<2>::from_data(
            TensorData::new(det(vocab * vocab, 1), [vocab, vocab]),
            &plain,
        );
        let a = Tensor::<2>::from_data(TensorData::new(det(r * vocab, 2), [r, vocab]), &plain)
            .mul_scalar(0.2);
        let b = Tensor::<2>::from_data(TensorData::new(vec![0.0; vocab * r], [vocab, r]), &plain);
        BigramLora {
            device,
            vocab,
            r,
            base,
            a: a.autodiff().require_grad(),
            b: b.autodiff().require_grad(),
            poison_after: None,
            forwards: Cell::new(0),
        }
    }

    pub fn params_bits(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (_, t) in self.lora_tensors() {
            out.extend(
                t.inner()
                    .try_into_vec_as::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits()),
            );
        }
        out
    }

    pub fn params(&self) -> Vec<f32> {
        let mut out = Vec::new();
        for (_, t) in self.lora_tensors() {
            out.extend(t.inner().try_into_vec_as::<f32>().unwrap());
        }
        out
    }
}

impl LoraModel for BigramLora {
    fn device(&self) -> Device {
        self.device.clone()
    }
    fn vocab_size(&self) -> usize {
        self.vocab
    }
    fn forward(&self, input_ids: Tensor<2, Int>, _train: bool) -> Result<Tensor<3>, TrainError> {
        let n = self.forwards.get() + 1;
        self.forwards.set(n);
        let [bs, seq] = input_ids.dims();
        let scaling = 2.0;
        let w = self
            .b
            .clone()
            .matmul(self.a.clone())
            .mul_scalar(scaling)
            .add(self.base.clone().autodiff());
        let logits = w
            .transpose()
            .select(0, input_ids.reshape([bs * seq]))
            .reshape([bs, seq, self.vocab]);
        Ok(match self.poison_after {
            Some(k) if n > k => logits.mul_scalar(f64::NAN),
            _ => logits,
        })
    }
    fn lora_tensors(&self) -> Vec<(String, Tensor<2>)> {
        vec![
            ("model.bigram.lora_A.weight".into(), self.a.clone()),
            ("model.bigram.lora_B.weight".into(), self.b.clone()),
        ]
    }
    fn set_lora_tensor(&mut self, name: &str, value: Tensor<2>) -> Result<(), TrainError> {
        let leaf = value.autodiff().require_grad();
        match name {
            "model.bigram.lora_A.weight" => self.a = leaf,
            "model.bigram.lora_B.weight" => self.b = leaf,
            _ => {
                return Err(TrainError::Model {
                    reason: format!("no tensor `{name}`"),
                });
            }
        }
        Ok(())
    }
    fn adapter_config(&self) -> AdapterConfig {
        AdapterConfig {
            r: self.r,
            lora_alpha: 2.0 * self.r as f64,
            lora_dropout: 0.0,
            target_modules: vec!["bigram".into()],
            use_rslora: false,
            base_model_name_or_path: None,
        }
    }
}

/// Sequences following `next = (3 * t + 1) mod vocab` with a masked first token, varied lengths.
pub fn bigram_data(n: usize, vocab: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let len = 3 + i % 5;
            let mut ids = vec![(i * 7 % vocab) as u32];
            for _ in 1..len {
                let t = *ids.last().unwrap() as usize;
                ids.push(((3 * t + 1) % vocab) as u32);
            }
            let mut labels: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
            labels[0] = -100;
            Example {
                input_ids: ids,
                labels,
            }
        })
        .collect()
}

/// Max |got − want| within `rel` of max |want|: golden tensors are compared against their own
/// scale, since an element-wise relative test is meaningless for entries that are themselves
/// rounding noise (f32 sums over 64-wide dot products and a 256-way softmax).
pub fn assert_close_scaled(got: &[f32], want: &[f32], rel: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= rel * scale,
        "{what}: max |diff| {worst:e} > {rel:e} x max |want| {scale:e}"
    );
}
