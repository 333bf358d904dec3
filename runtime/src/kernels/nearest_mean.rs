//! Nearest class mean in Euclidean distance.
//!
//! For every class `c` (ascending), `dist²_c = Σ_j (z_j − μ_c,j)²` in the lane order of
//! [`super::lanes`]; the label is the first class whose distance is strictly smaller than all
//! earlier ones, so ties go to the lowest index.

use super::lanes::sum_sq_diff;
use super::{ShapeMismatch, Weight};

/// Returns `(label, dist²)`; `means` is `[classes][z.len()]` with at least one class.
pub(crate) fn nearest_mean<W: Weight>(
    z: &[f32],
    means: &[W],
) -> Result<(usize, f32), ShapeMismatch> {
    if z.is_empty() || means.is_empty() || !means.len().is_multiple_of(z.len()) {
        return Err(ShapeMismatch);
    }
    let mut best = (0usize, f32::INFINITY);
    for (c, mu) in means.chunks_exact(z.len()).enumerate() {
        let d = sum_sq_diff(z, mu)?;
        if c == 0 || d < best.1 {
            best = (c, d);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_nearest_and_breaks_ties_low() {
        let means = [1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0];
        assert_eq!(nearest_mean(&[0.1, 0.9], &means).unwrap().0, 1);
        assert_eq!(nearest_mean(&[0.9, 0.1], &means).unwrap().0, 0);
        assert_eq!(nearest_mean(&[0.5, 0.5], &means).unwrap().0, 0);
        let (c, d) = nearest_mean(&[2.0, 0.0], &means).unwrap();
        assert_eq!((c, d), (0, 1.0));
        assert!(nearest_mean(&[0.0; 4], &means).is_err());
        assert!(nearest_mean::<f32>(&[], &[]).is_err());
    }
}
