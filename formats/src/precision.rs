//! Step 11 of the validation order: every stored value finite, then each precision matrix
//! exactly symmetric, positive definite, and (isotropic covariance) `(1/s2)·I` up to the
//! rounding of `1/s2`.

use crate::arch::Architecture;
use crate::calib::{Calibration, CovarianceKind};
use crate::error::FormatError;
use crate::layout::ENTRY_COUNT;
use crate::le::LeF32;
use crate::limits::ISOTROPIC_TOLERANCE;
use crate::tensor::Entry;

/// Checks that every value of every required entry is finite, in id order.
pub(crate) fn check_finite(views: &[LeF32<'_>; ENTRY_COUNT]) -> Result<(), FormatError> {
    for (id, view) in views.iter().enumerate() {
        if let Some(index) = view.iter().position(|v| !v.is_finite()) {
            let entry = Entry::from_id(u16::try_from(id).unwrap_or(u16::MAX));
            return Err(FormatError::NonFiniteValue { entry, index });
        }
    }
    Ok(())
}

/// Checks the `classes` precision matrices of size `latent × latent` in `p`.
pub(crate) fn check_precisions(
    p: LeF32<'_>,
    arch: &Architecture,
    calibration: &Calibration,
) -> Result<(), FormatError> {
    let n = arch.latent;
    let size = n.saturating_mul(n);
    let s2 = f64::from(calibration.s2);
    for class in 0..arch.classes {
        let m = p
            .slice(class.saturating_mul(size), size)
            .unwrap_or(LeF32::EMPTY);
        let at = |r: usize, c: usize| m.get(r * n + c).unwrap_or(f32::NAN);
        for row in 0..n {
            for col in 0..row {
                if at(row, col) != at(col, row) {
                    return Err(FormatError::NotSymmetric { class, row, col });
                }
            }
        }
        if !positive_definite(m, n) {
            return Err(FormatError::NotPositiveDefinite { class });
        }
        if calibration.covariance == CovarianceKind::Isotropic {
            for row in 0..n {
                for col in 0..n {
                    let v = at(row, col);
                    // The product of two f32 is exact in f64, so this test is deterministic.
                    let ok = if row == col {
                        (f64::from(v) * s2 - 1.0).abs() <= ISOTROPIC_TOLERANCE
                    } else {
                        v == 0.0
                    };
                    if !ok {
                        return Err(FormatError::PrecisionMismatch { class, row, col });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Number of entries of a packed lower triangle (diagonal included) of order `n`.
const fn triangle(n: usize) -> usize {
    n * (n + 1) / 2
}

/// Whether the symmetric `n × n` matrix `m` is positive definite: an `LDLᵀ` factorisation
/// in `f64` whose pivots `D` are all > 0 (no square root needed). The factor is kept in a
/// stack buffer sized for the smallest tier that fits `n`, so small models use little stack.
fn positive_definite(m: LeF32<'_>, n: usize) -> bool {
    if n <= 16 {
        ldl::<{ triangle(16) }>(m, n)
    } else if n <= 32 {
        ldl::<{ triangle(32) }>(m, n)
    } else if n <= 64 {
        ldl::<{ triangle(64) }>(m, n)
    } else {
        ldl::<{ triangle(crate::limits::MAX_LATENT) }>(m, n)
    }
}

/// `LDLᵀ` with `L` (unit lower, strictly-lower part) and `D` (on the diagonal) packed row
/// by row: element (i, j), j ≤ i, at `i(i+1)/2 + j`.
// Every index is below `triangle(n) ≤ T`, checked on entry.
#[allow(clippy::indexing_slicing)]
#[inline(never)]
fn ldl<const T: usize>(m: LeF32<'_>, n: usize) -> bool {
    if triangle(n) > T {
        return false;
    }
    let mut f = [0f64; T];
    let a = |r: usize, c: usize| f64::from(m.get(r * n + c).unwrap_or(f32::NAN));
    for i in 0..n {
        let ri = triangle(i);
        for j in 0..=i {
            let rj = triangle(j);
            let mut s = a(i, j);
            for k in 0..j {
                s -= f[ri + k] * f[rj + k] * f[triangle(k) + k];
            }
            if j < i {
                f[ri + j] = s / f[rj + j];
            } else if s > 0.0 {
                f[ri + i] = s;
            } else {
                // Also catches NaN.
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<const N: usize>(v: [f32; N]) -> [[u8; 4]; N] {
        v.map(f32::to_le_bytes)
    }

    #[test]
    fn detects_definiteness() {
        let pd = bytes_of([4.0, 2.0, 2.0, 3.0]);
        assert!(positive_definite(LeF32::from_words(&pd), 2));
        let indefinite = bytes_of([1.0, 2.0, 2.0, 1.0]);
        assert!(!positive_definite(LeF32::from_words(&indefinite), 2));
        let semi = bytes_of([1.0, 1.0, 1.0, 1.0]);
        assert!(!positive_definite(LeF32::from_words(&semi), 2));
        let nan = bytes_of([f32::NAN, 0.0, 0.0, 1.0]);
        assert!(!positive_definite(LeF32::from_words(&nan), 2));
    }

    #[test]
    fn larger_tiers() {
        for n in [17usize, 40, 100, 128] {
            // Tridiagonal 2, -1: positive definite (the discrete Laplacian).
            let mut words = [[0u8; 4]; 128 * 128];
            for i in 0..n {
                words[i * n + i] = 2.0f32.to_le_bytes();
                if i + 1 < n {
                    words[i * n + i + 1] = (-1.0f32).to_le_bytes();
                    words[(i + 1) * n + i] = (-1.0f32).to_le_bytes();
                }
            }
            assert!(
                positive_definite(LeF32::from_words(&words[..n * n]), n),
                "{n}"
            );
            words[(n - 1) * n + n - 1] = 0.5f32.to_le_bytes();
            assert!(
                !positive_definite(LeF32::from_words(&words[..n * n]), n),
                "{n}"
            );
        }
    }
}
