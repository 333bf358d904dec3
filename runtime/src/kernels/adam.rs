//! One Adam step (Kingma & Ba 2015) on the latent code, in a fixed `f32` order.
//!
//! With `c1 = 1 − β1ᵗ` and `c2 = 1 − β2ᵗ` (the powers kept as running `f32` products,
//! `β^1 = β`, `β^(t+1) = β^t · β`), every coordinate `k` is updated as
//!
//! ```text
//! m = (β1 · m) + (ω1 · g)          ω1 = 1 − β1 (rounded once)
//! v = (β2 · v) + (ω2 · (g · g))    ω2 = 1 − β2
//! z = z − ((lr · (m / c1)) / (sqrtf(v / c2) + ε))
//! ```
//!
//! `sqrtf` is IEEE square root (correctly rounded, `libm::sqrtf`), so the step is a fixed
//! function of its inputs on every target.

use super::ShapeMismatch;

/// Adam's constants and the step's bias corrections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdamStep {
    /// Step size.
    pub lr: f32,
    /// β1.
    pub beta1: f32,
    /// β2.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    /// `1 − β1ᵗ`.
    pub c1: f32,
    /// `1 − β2ᵗ`.
    pub c2: f32,
}

/// Applies one step to `z` with gradient `g`, updating the moments `m` and `v` in place.
pub(crate) fn adam_step(
    s: &AdamStep,
    z: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n = z.len();
    if g.len() != n || m.len() != n || v.len() != n {
        return Err(ShapeMismatch);
    }
    let (w1, w2) = (1.0 - s.beta1, 1.0 - s.beta2);
    for (((z, &g), m), v) in z.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = (s.beta1 * *m) + (w1 * g);
        *v = (s.beta2 * *v) + (w2 * (g * g));
        *z -= (s.lr * (*m / s.c1)) / (libm::sqrtf(*v / s.c2) + s.eps);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_about_lr_against_the_gradient() {
        let s = AdamStep {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            c1: 1.0 - 0.9,
            c2: 1.0 - 0.999,
        };
        let mut z = [1.0, -2.0, 0.5];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        adam_step(&s, &mut z, &[3.0, -0.01, 0.0], &mut m, &mut v).unwrap();
        assert!((z[0] - 0.9).abs() < 1e-5, "{z:?}");
        assert!((z[1] + 1.9).abs() < 1e-4, "{z:?}");
        assert_eq!(z[2], 0.5);
        assert!(adam_step(&s, &mut z, &[0.0; 2], &mut m, &mut v).is_err());
    }

    #[test]
    fn matches_the_documented_order() {
        let s = AdamStep {
            lr: 0.05,
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-6,
            c1: 1.0 - 0.8 * 0.8,
            c2: 1.0 - 0.99 * 0.99,
        };
        let (z0, g, m0, v0) = (0.3f32, -1.7f32, 0.2f32, 0.5f32);
        let (mut z, mut m, mut v) = ([z0], [m0], [v0]);
        adam_step(&s, &mut z, &[g], &mut m, &mut v).unwrap();
        let m1 = (0.8 * m0) + ((1.0 - 0.8f32) * g);
        let v1 = (0.99 * v0) + ((1.0 - 0.99f32) * (g * g));
        let z1 = z0 - ((0.05 * (m1 / s.c1)) / ((v1 / s.c2).sqrt() + 1e-6));
        assert_eq!(
            (z[0].to_bits(), m[0].to_bits(), v[0].to_bits()),
            (z1.to_bits(), m1.to_bits(), v1.to_bits())
        );
    }
}
