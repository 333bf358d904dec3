//! Squared Mahalanobis distance `(z − μ)ᵀ P (z − μ)` under a precision matrix `P`.
//!
//! With `v_i = z_i − μ_i` and `u_i = +0.0 + Σ_{j ascending} P[i][j] · v_j` (left to right),
//! the result is `Σ_i v_i · u_i` in the fixed lane order of [`super::lanes`]. `P` is used as
//! stored (row-major `[d][d]`); symmetry is not assumed.

use super::lanes;
use super::{ShapeMismatch, Weight};

/// `(z − μ)ᵀ P (z − μ)`.
pub(crate) fn mahalanobis_sq<W: Weight>(
    z: &[f32],
    mu: &[W],
    precision: &[W],
) -> Result<f32, ShapeMismatch> {
    let d = z.len();
    if mu.len() != d || d.checked_mul(d) != Some(precision.len()) || d == 0 {
        return Err(ShapeMismatch);
    }
    let v = |j: usize| -> f32 {
        match (z.get(j), mu.get(j)) {
            (Some(&a), Some(&b)) => a - b.value(),
            _ => f32::NAN,
        }
    };
    let terms = precision.chunks_exact(d).enumerate().map(|(i, row)| {
        let mut u = 0.0f32;
        for (j, p) in row.iter().enumerate() {
            u += p.value() * v(j);
        }
        v(i) * u
    });
    Ok(lanes::sum(terms))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn matches_reference() {
        let mut rng = Rng(9);
        for d in 1..40 {
            let z = rng.vec(d);
            let mu = rng.vec(d);
            // P = A Aᵀ + I, symmetric positive definite.
            let a = rng.vec(d * d);
            let mut p = vec![0.0f32; d * d];
            for i in 0..d {
                for j in 0..d {
                    let s: f64 = (0..d)
                        .map(|k| a[i * d + k] as f64 * a[j * d + k] as f64)
                        .sum();
                    p[i * d + j] = (s + if i == j { 1.0 } else { 0.0 }) as f32;
                }
            }
            let v: Vec<f64> = (0..d).map(|i| z[i] as f64 - mu[i] as f64).collect();
            let want: f64 = (0..d)
                .map(|i| v[i] * (0..d).map(|j| p[i * d + j] as f64 * v[j]).sum::<f64>())
                .sum();
            let got = mahalanobis_sq(&z, &mu, &p).unwrap() as f64;
            assert!(
                (got - want).abs() <= 1e-5 * want.max(1.0),
                "{d}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn identity_gives_squared_euclidean_and_bad_shapes_fail() {
        let z = [1.0f32, 2.0, 3.0];
        let mu = [0.0f32, 0.0, 1.0];
        let eye = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(mahalanobis_sq(&z, &mu, &eye).unwrap(), 9.0);
        assert!(mahalanobis_sq(&z, &mu, &eye[1..]).is_err());
        assert!(mahalanobis_sq(&z, &mu[1..], &eye).is_err());
    }
}
