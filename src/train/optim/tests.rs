use super::*;
use crate::train::tensors::read_mixed;

fn t1(v: &[f32]) -> Tensor<1> {
    Tensor::<1>::from_data(
        burn::tensor::TensorData::new(v.to_vec(), [v.len()]),
        &Device::flex(),
    )
}

fn host(t: Tensor<1>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn assert_rel(got: &[f32], want: &[f32], rel: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = rel * w.abs().max(1e-30);
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w}");
    }
}

/// The update `after − before` against torch's, within 1e-4 of its largest entry. Parameters
/// agree to 1e-5 relative, but weight decay moves them by only `lr·wd = 1e-5` relative per step,
/// the size of that tolerance (an AdamW without decay passed it by a hair); in the update it is
/// `lr·wd·|p| ≈ 1e-6` against Adam's `≈ lr = 1e-3`, i.e. 1e-3 of the update, ten times this
/// tolerance. What the tolerance absorbs: the f32 rounding of `p` (|p| < 0.3, ulp ≤ 3e-8), 3e-5
/// of a 1e-3 update.
fn assert_update(before: &[f32], got: &[f32], want: &[f32], what: &str) {
    let delta =
        |after: &[f32]| -> Vec<f32> { after.iter().zip(before).map(|(a, b)| a - b).collect() };
    let (got, want) = (delta(got), delta(want));
    let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: update differs by {worst:e}, more than 1e-4 x its largest entry {scale:e}"
    );
}

/// Two AdamW steps from the golden LoRA init and gradients (torch 2.15,
/// ../shared/golden/lora_step): params and both moments after each step within 1e-5 relative,
/// the acceptance tolerance (f32 element-wise ops in a possibly different order than torch's
/// vectorised kernels differ by a few ulps; 1e-5 is ~80 ulps).
#[test]
fn adamw_matches_torch_on_golden_lora_step() {
    let Some(shared) = crate::testing::shared() else {
        return;
    };
    let g = read_mixed(&shared.join("golden/lora_step/lora_step.safetensors"))
        .unwrap()
        .0;
    let names: Vec<String> = g
        .keys()
        .filter_map(|k| k.strip_prefix("init.").map(str::to_string))
        .collect();
    assert_eq!(names.len(), 8);
    let mut opt = Optimizer::new(OptimizerConfig::AdamW(AdamWConfig::default()));
    let device = Device::flex();
    for name in &names {
        let mut p: Tensor<2> = g[&format!("init.{name}")].to_tensor(name, &device).unwrap();
        let mut before = g[&format!("init.{name}")].data.clone();
        for step in 1..=2 {
            let grad: Tensor<2> = g[&format!("grad_step{step}.{name}")]
                .to_tensor(name, &device)
                .unwrap();
            p = opt.update(name, p, grad, 1e-3);
            let want = &g[&format!("after_step{step}.{name}")].data;
            let got = p.clone().try_into_vec_as::<f32>().unwrap();
            assert_rel(&got, want, 1e-5, &format!("after_step{step}.{name}"));
            assert_update(&before, &got, want, &format!("step {step} {name}"));
            before = want.clone();
        }
    }
    let (state, steps) = opt.state_tensors().unwrap();
    for name in &names {
        assert_eq!(steps[name], 2);
        for m in ["exp_avg", "exp_avg_sq"] {
            let got = &state[&format!("{m}.{name}")];
            let want = &g[&format!("adam_{m}_step2.{name}")];
            assert_eq!(got.shape, want.shape);
            assert_rel(&got.data, &want.data, 1e-5, &format!("{m}.{name}"));
        }
    }
}

/// torch.optim.SGD, three steps with changing lr (scripts/reference/optim_reference.py).
#[test]
fn sgd_matches_torch() {
    let p0 = [0.5, -1.25, 2.0, 0.0];
    let grads = [
        [0.1, -0.2, 0.3, -0.4],
        [0.05, 0.5, -0.25, 1.0],
        [-0.3, 0.0, 0.7, 0.2],
    ];
    let lrs = [0.1, 0.05, 0.02];
    let cases: [(SgdConfig, [f64; 4]); 4] = [
        (
            SgdConfig::default(),
            [
                0.4935000240802765,
                -1.2549999952316284,
                1.968500018119812,
                -0.01399999763816595,
            ],
        ),
        (
            SgdConfig {
                momentum: 0.9,
                weight_decay: 0.01,
                ..SgdConfig::default()
            },
            [
                0.4852447211742401,
                -1.248660683631897,
                1.949684739112854,
                -0.00754878856241703,
            ],
        ),
        (
            SgdConfig {
                momentum: 0.9,
                dampening: 0.1,
                ..SgdConfig::default()
            },
            [
                0.48622003197669983,
                -1.24836003780365,
                1.9543401002883911,
                -0.0003199946950189769,
            ],
        ),
        (
            SgdConfig {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.01,
                ..SgdConfig::default()
            },
            [
                0.47939395904541016,
                -1.2517014741897583,
                1.9198777675628662,
                -0.020851414650678635,
            ],
        ),
    ];
    for (cfg, want) in cases {
        let mut opt = Optimizer::new(OptimizerConfig::Sgd(cfg.clone()));
        let mut p = t1(&p0);
        for (g, lr) in grads.iter().zip(lrs) {
            p = opt.update("p", p, t1(g), lr);
        }
        // A few f32 ulps of accumulated rounding over three steps.
        assert_rel(&host(p), &want.map(|x| x as f32), 1e-6, &format!("{cfg:?}"));
    }
}

/// Saving the state mid-run and restoring it continues with bit-identical updates.
#[test]
fn state_round_trip_is_bit_exact() {
    let device = Device::flex();
    for cfg in [
        OptimizerConfig::AdamW(AdamWConfig::default()),
        OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.9,
            ..SgdConfig::default()
        }),
    ] {
        let mut a = Optimizer::new(cfg.clone());
        let p: Tensor<2> = Tensor::from_data([[0.5f32, -1.0], [2.0, 0.25]], &device);
        let g: Tensor<2> = Tensor::from_data([[0.1f32, 0.2], [-0.3, 0.4]], &device);
        let p = a.update("w", p, g.clone(), 1e-2);
        let (tensors, steps) = a.state_tensors().unwrap();
        assert_eq!(tensors.values().next().unwrap().shape, vec![2, 2]);
        let mut b = Optimizer::from_state(cfg, &tensors, &steps, &device).unwrap();
        let pa = a.update("w", p.clone(), g.clone(), 1e-2);
        let pb = b.update("w", p, g, 1e-2);
        let (va, vb) = (
            pa.try_into_vec_as::<f32>().unwrap(),
            pb.try_into_vec_as::<f32>().unwrap(),
        );
        assert_eq!(
            va.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            vb.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn invalid_hyperparameters_are_rejected() {
    let bad = AdamWConfig {
        beta1: 1.0,
        ..AdamWConfig::default()
    };
    assert!(OptimizerConfig::AdamW(bad).validate().is_err());
    let bad = SgdConfig {
        nesterov: true,
        ..SgdConfig::default()
    };
    assert!(OptimizerConfig::Sgd(bad).validate().is_err());
}
