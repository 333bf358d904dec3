//! The reconstruction error `Σ_i (x_i − r_i)²` (a sum, not a mean), in the fixed lane order
//! of [`super::lanes`]: classify's error, and reclassification's loss (its gradient:
//! [`super::reconstruction_error_grad`]).

use super::lanes::sum_sq_diff;
use super::ShapeMismatch;

/// Squared error between the image `x` and its reconstruction `r`.
pub(crate) fn reconstruction_error(x: &[f32], r: &[f32]) -> Result<f32, ShapeMismatch> {
    sum_sq_diff(x, r)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::*;

    #[test]
    fn matches_reference() {
        let mut rng = Rng(21);
        for n in [0, 1, 7, 8, 9, 100, 784, 3072] {
            let x = rng.vec(n);
            let r = rng.vec(n);
            let want: f64 = x
                .iter()
                .zip(&r)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
            let got = reconstruction_error(&x, &r).unwrap() as f64;
            assert!(
                (got - want).abs() <= 1e-5 * want.max(1.0),
                "{n}: {got} vs {want}"
            );
        }
        assert!(reconstruction_error(&[0.0], &[]).is_err());
    }
}
