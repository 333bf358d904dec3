//! Perturbation geometry: norms, projection onto the ε-ball ∩ [0, 1], random starts and
//! steepest-ascent steps.

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, Zip};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// The norm that bounds a perturbation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Norm {
    /// Largest absolute pixel change.
    Linf,
    /// Euclidean length of the change.
    L2,
}

crate::choice::choice!(Norm {
    Linf => "linf", "largest absolute pixel change (L∞)";
    L2 => "l2", "Euclidean length of the change";
});

/// ||v||∞.
pub fn linf(v: impl IntoIterator<Item = f32>) -> f32 {
    v.into_iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// ||v||₂.
pub fn l2(v: impl IntoIterator<Item = f32>) -> f32 {
    v.into_iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// The norm of `adv − clean` for one image.
pub fn distance(norm: Norm, adv: ArrayView1<f32>, clean: ArrayView1<f32>) -> f32 {
    let diff = adv.iter().zip(clean.iter()).map(|(a, c)| a - c);
    match norm {
        Norm::Linf => linf(diff),
        Norm::L2 => l2(diff),
    }
}

/// Projects every row of `adv` onto `{x : ||x − clean||_norm ≤ eps} ∩ [0, 1]^d`.
///
/// For L∞ this is exact (a box intersected with a box); for L2 the perturbation is first
/// scaled onto the ball and then clipped to [0, 1], which only shrinks it, so the result stays
/// in both sets.
pub fn project(adv: &mut Array2<f32>, clean: ArrayView2<f32>, norm: Norm, eps: f32) {
    for (row, x) in adv.rows_mut().into_iter().zip(clean.rows()) {
        project_row(row, x, norm, eps);
    }
}

fn project_row(mut adv: ArrayViewMut1<f32>, clean: ArrayView1<f32>, norm: Norm, eps: f32) {
    match norm {
        Norm::Linf => Zip::from(&mut adv).and(&clean).for_each(|a, &x| {
            *a = a.clamp(x - eps, x + eps).clamp(0.0, 1.0);
        }),
        Norm::L2 => {
            let len = distance(Norm::L2, adv.view(), clean);
            let scale = if len > eps && len > 0.0 {
                eps / len
            } else {
                1.0
            };
            Zip::from(&mut adv).and(&clean).for_each(|a, &x| {
                *a = (x + (*a - x) * scale).clamp(0.0, 1.0);
            });
        }
    }
}

/// A uniformly random point of the ε-ball around every row of `clean` (L∞: each pixel
/// uniform in ±eps, CleverHans' `rand_init`; L2: uniform in the ball), projected into [0, 1].
pub fn random_start(
    clean: ArrayView2<f32>,
    norm: Norm,
    eps: f32,
    rng: &mut impl Rng,
) -> Array2<f32> {
    let (n, d) = clean.dim();
    let mut adv = clean.to_owned();
    match norm {
        Norm::Linf => adv.mapv_inplace(|x| x + rng.gen_range(-eps..=eps)),
        Norm::L2 => {
            for mut row in adv.rows_mut() {
                let dir: Vec<f32> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
                let len = l2(dir.iter().copied()).max(f32::MIN_POSITIVE);
                let radius = eps * rng.gen::<f32>().powf(1.0 / d as f32);
                for (a, g) in row.iter_mut().zip(&dir) {
                    *a += radius * g / len;
                }
            }
        }
    }
    debug_assert_eq!(adv.nrows(), n);
    project(&mut adv, clean, norm, eps);
    adv
}

/// Moves every row of `adv` by `step` along the steepest-ascent direction of `grad` for the
/// norm: `sign(g)` for L∞, `g / ||g||₂` for L2 (rows with a zero gradient stay put).
pub fn ascend(adv: &mut Array2<f32>, grad: ArrayView2<f32>, norm: Norm, step: f32) {
    for (mut row, g) in adv.rows_mut().into_iter().zip(grad.rows()) {
        match norm {
            Norm::Linf => Zip::from(&mut row)
                .and(&g)
                .for_each(|a, &g| *a += step * sign(g)),
            Norm::L2 => {
                let len = l2(g.iter().copied());
                if len > 0.0 {
                    Zip::from(&mut row)
                        .and(&g)
                        .for_each(|a, &g| *a += step * g / len);
                }
            }
        }
    }
}

/// sign(g) with sign(0) = 0 (as `tf.sign`), so a vanishing gradient leaves a pixel unchanged.
pub fn sign(g: f32) -> f32 {
    if g > 0.0 {
        1.0
    } else if g < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn linf_projection_is_a_box_clip() {
        let clean = array![[0.0f32, 0.5, 1.0]];
        let mut adv = array![[0.9f32, 0.1, 0.95]];
        project(&mut adv, clean.view(), Norm::Linf, 0.2);
        assert_eq!(adv, array![[0.2f32, 0.3, 0.95]]);
    }

    #[test]
    fn l2_projection_scales_then_clips() {
        let clean = array![[0.5f32, 0.5]];
        let mut adv = array![[0.5f32 + 3.0, 0.5 + 4.0]];
        project(&mut adv, clean.view(), Norm::L2, 0.5);
        assert!((adv[[0, 0]] - 0.8).abs() < 1e-6 && (adv[[0, 1]] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn random_starts_stay_in_the_ball_and_the_box() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let clean = Array2::from_shape_fn((5, 50), |(i, j)| ((i * 7 + j) % 11) as f32 / 10.0);
        for norm in [Norm::Linf, Norm::L2] {
            let adv = random_start(clean.view(), norm, 0.3, &mut rng);
            for (a, c) in adv.rows().into_iter().zip(clean.rows()) {
                assert!(distance(norm, a, c) <= 0.3 + 1e-6);
                assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
