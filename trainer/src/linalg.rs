//! Small dense symmetric linear algebra in f64 for latent covariances (d ≤ a few hundred).

use ndarray::Array2;

/// The inverse of a symmetric positive-definite matrix via its Cholesky factor, or `None` if a
/// pivot is not positive.
pub fn spd_inverse(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    // a = L·Lᵀ.
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum();
            if i == j {
                let pivot = a[[i, i]] - s;
                if pivot <= 0.0 || !pivot.is_finite() {
                    return None;
                }
                l[[i, i]] = pivot.sqrt();
            } else {
                l[[i, j]] = (a[[i, j]] - s) / l[[j, j]];
            }
        }
    }
    // Columns of a⁻¹ solve L·Lᵀ·x = e_c.
    let mut inv = Array2::<f64>::zeros((n, n));
    for c in 0..n {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let rhs = if i == c { 1.0 } else { 0.0 };
            y[i] = (rhs - (0..i).map(|k| l[[i, k]] * y[k]).sum::<f64>()) / l[[i, i]];
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| l[[k, i]] * inv[[k, c]]).sum();
            inv[[i, c]] = (y[i] - s) / l[[i, i]];
        }
    }
    // Symmetrise exactly so writers and readers can insist on symmetry.
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (inv[[i, j]] + inv[[j, i]]);
            inv[[i, j]] = m;
            inv[[j, i]] = m;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn inverse_times_matrix_is_identity() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inv = spd_inverse(&a).unwrap();
        let id = a.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[[i, j]] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rejects_indefinite_matrices() {
        assert!(spd_inverse(&array![[1.0, 2.0], [2.0, 1.0]]).is_none());
    }
}
