//! A dense layer's input gradient for one input — decoder fc1's, `∂L/∂z`, in
//! reclassification's backward pass — with input-major weights `[n_in][n_out]`:
//! `gx[i] = Σ_j w[i][j] · gy[j]`. (Decoder fc2's runs for several starts at once:
//! [`super::dense_input_grad_lockstep`].)
//!
//! Each `gx[i]` reads one contiguous weight row, so the sum over `j` is a dot product with no
//! independent outputs to vectorise across; it uses the fixed 8-lane order of
//! [`super::lanes`] (term `j` goes to lane `j mod 8`, each term `w[i][j] · gy[j]`). An input
//! whose ReLU was inactive gets `+0.0` without reading its row. Four rows are reduced at a
//! time, each in its own lanes (independent accumulators hide the add latency); that changes
//! which rows share a loop, never the order of one row's sum.

use super::lanes::{dot, dot4};
use super::{ShapeMismatch, Weight};

/// `gx[i] = Σ_j w[i][j] · gy[j]` (lane order) for every `i < gx.len()`; if `active` is given,
/// `gx[i] = +0.0` wherever `active[i] > 0` fails (the forward input was a ReLU zero).
#[inline(always)]
pub(crate) fn dense_input_grad<W: Weight>(
    weights: &[W],
    gy: &[f32],
    active: Option<&[f32]>,
    gx: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n_out = gy.len();
    if gx.len().checked_mul(n_out) != Some(weights.len())
        || active.is_some_and(|a| a.len() != gx.len())
    {
        return Err(ShapeMismatch);
    }
    if n_out == 0 {
        gx.fill(0.0);
        return Ok(());
    }
    let on = |i: usize| match active {
        Some(a) => a.get(i).is_some_and(|&v| v > 0.0),
        None => true,
    };
    let row = |i: usize| weights.get(i * n_out..(i + 1) * n_out).ok_or(ShapeMismatch);
    let mut pending = [0usize; 4];
    let mut n = 0;
    for i in 0..gx.len() {
        if !on(i) {
            *gx.get_mut(i).ok_or(ShapeMismatch)? = 0.0;
            continue;
        }
        if let Some(p) = pending.get_mut(n) {
            *p = i;
        }
        n += 1;
        if n == 4 {
            let rows = [
                row(pending[0])?,
                row(pending[1])?,
                row(pending[2])?,
                row(pending[3])?,
            ];
            let sums = dot4(rows, gy)?;
            for (&r, v) in pending.iter().zip(sums) {
                *gx.get_mut(r).ok_or(ShapeMismatch)? = v;
            }
            n = 0;
        }
    }
    for &r in pending.get(..n).ok_or(ShapeMismatch)? {
        *gx.get_mut(r).ok_or(ShapeMismatch)? = dot(row(r)?, gy)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_close, Rng};
    use super::*;
    use std::vec::Vec;

    #[test]
    fn matches_the_transposed_product() {
        let mut rng = Rng(31);
        for _ in 0..30 {
            let (n_in, n_out) = (1 + rng.below(40), 1 + rng.below(90));
            let w = rng.vec(n_in * n_out);
            let gy = rng.vec(n_out);
            let active: Vec<f32> = rng.vec(n_in);
            let le: Vec<[u8; 4]> = w.iter().map(|v| v.to_le_bytes()).collect();
            let mut gx = vec![f32::NAN; n_in];
            dense_input_grad(&le, &gy, Some(&active), &mut gx).unwrap();
            let want: Vec<f64> = (0..n_in)
                .map(|i| {
                    if active[i] > 0.0 {
                        (0..n_out)
                            .map(|j| w[i * n_out + j] as f64 * gy[j] as f64)
                            .sum()
                    } else {
                        0.0
                    }
                })
                .collect();
            assert_close(&gx, &want, 1e-5);
            let mut all = vec![0.0; n_in];
            dense_input_grad(&w, &gy, None, &mut all).unwrap();
            for i in 0..n_in {
                if active[i] > 0.0 {
                    assert_eq!(all[i].to_bits(), gx[i].to_bits());
                } else {
                    assert_eq!(gx[i].to_bits(), 0.0f32.to_bits());
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let w = [0.0f32; 6];
        let mut gx = [0.0; 2];
        assert!(dense_input_grad(&w, &[1.0; 3], None, &mut gx).is_ok());
        assert!(dense_input_grad(&w, &[1.0; 2], None, &mut gx).is_err());
        assert!(dense_input_grad(&w, &[1.0; 3], Some(&[1.0]), &mut gx).is_err());
        assert!(dense_input_grad(&w[1..], &[1.0; 3], None, &mut gx).is_err());
    }
}
