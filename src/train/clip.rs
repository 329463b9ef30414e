//! Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_`.
//!
//! torch takes the 2-norm of each gradient, the 2-norm of those norms, then scales every gradient
//! by `min(1, max_norm / (total + 1e-6))` (always multiplying, a no-op at 1).

use std::collections::BTreeMap;

use burn::tensor::Tensor;

use super::error::TrainError;

/// The global 2-norm of all gradients (f32, as torch returns it).
pub fn global_norm(grads: &BTreeMap<String, Tensor<2>>) -> Result<f32, TrainError> {
    let mut sum_sq = 0.0f64;
    for (name, g) in grads {
        let sq: f32 = g
            .clone()
            .square()
            .sum()
            .try_into_vec_as::<f32>()
            .map_err(|e| TrainError::Device {
                name: name.clone(),
                reason: format!("{e:?}"),
            })?
            .first()
            .copied()
            .unwrap_or(0.0);
        let norm = sq.sqrt();
        sum_sq += f64::from(norm) * f64::from(norm);
    }
    Ok(sum_sq.sqrt() as f32)
}

/// Scales `grads` in place so their global norm is at most `max_norm`; returns the norm before.
pub fn clip_grad_norm(
    grads: &mut BTreeMap<String, Tensor<2>>,
    max_norm: f64,
) -> Result<f32, TrainError> {
    let total = global_norm(grads)?;
    let coef = (max_norm as f32 / (total + 1e-6)).min(1.0);
    if coef < 1.0 {
        for g in grads.values_mut() {
            *g = g.clone().mul_scalar(f64::from(coef));
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// torch 2.15 `clip_grad_norm_([a, b], 1.5)`: scripts/reference/optim_reference.py.
    #[test]
    fn matches_torch_clip_grad_norm() {
        let d = Device::flex();
        let mut grads = BTreeMap::new();
        grads.insert(
            "a".to_string(),
            Tensor::<2>::from_data([[3.0f32, -4.0]], &d),
        );
        grads.insert(
            "b".to_string(),
            Tensor::<2>::from_data([[1.0f32, 2.0], [2.0, 0.5]], &d),
        );
        let total = clip_grad_norm(&mut grads, 1.5).unwrap();
        assert!((f64::from(total) - 5.852349758148193).abs() < 1e-6);
        let a = grads["a"].clone().try_into_vec_as::<f32>().unwrap();
        let b = grads["b"].clone().try_into_vec_as::<f32>().unwrap();
        let want_a = [0.7689218521118164f64, -1.0252290964126587];
        let want_b = [
            0.2563072741031647f64,
            0.5126145482063293,
            0.5126145482063293,
            0.12815363705158234,
        ];
        // One f32 rounding of the coefficient and one of the product: 1e-6 relative.
        for (g, w) in a.iter().chain(&b).zip(want_a.iter().chain(&want_b)) {
            assert!((f64::from(*g) - w).abs() <= 1e-6 * w.abs(), "{g} vs {w}");
        }
    }

    #[test]
    fn small_gradients_are_left_alone() {
        let d = Device::flex();
        let mut grads = BTreeMap::new();
        grads.insert("a".to_string(), Tensor::<2>::from_data([[0.3f32, 0.4]], &d));
        let total = clip_grad_norm(&mut grads, 1.0).unwrap();
        assert!((total - 0.5).abs() < 1e-7);
        let a = grads["a"].clone().try_into_vec_as::<f32>().unwrap();
        assert_eq!(a, vec![0.3, 0.4]);
    }
}
