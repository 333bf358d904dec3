//! Decoder fc2's input gradient (through decoder fc1's ReLU) for every start of a
//! reclassification lockstep group at once.
//!
//! As [`super::dense_forward_lockstep`] does for the forward pass, [`dense_input_grad_batch`]
//! walks fc2's weights (3.2 MB on the paper's MNIST decoder) in blocks of rows that stay in
//! cache while every running start reads them, so the weights cross the memory bus once per
//! step instead of once per start. Each start's arithmetic is exactly that of the
//! single-input kernel [`super::dense_input_grad::dense_input_grad`] — the same terms, in the
//! same lane order — so the results are the same bits, start by start.

use super::lanes::dot4;
use super::{ShapeMismatch, Weight};

/// Weight rows per block of [`dense_input_grad_batch`] (16 rows stay in L2 together).
const ROWS: usize = 16;

/// `gx[s][i] = Σ_j w[i][j] · gy[s][j]` in the lane order of [`super::lanes::dot`] where
/// `active[s][i] > 0`, `+0.0` elsewhere, for every start `s` with `run[s]` (the others are
/// left alone). `weights` is `[n_in][n_out]`; `gy`, `active` and `gx` hold `run.len()` rows
/// of `n_out`, `n_in` and `n_in` values.
#[inline(always)]
pub(crate) fn dense_input_grad_batch<W: Weight>(
    weights: &[W],
    gy: &[f32],
    active: &[f32],
    run: &[bool],
    gx: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let starts = run.len();
    let n_in = gx.len().checked_div(starts).unwrap_or(0);
    let n_out = gy.len().checked_div(starts).unwrap_or(0);
    if starts.checked_mul(n_in) != Some(gx.len())
        || starts.checked_mul(n_in) != Some(active.len())
        || starts.checked_mul(n_out) != Some(gy.len())
        || n_in.checked_mul(n_out) != Some(weights.len())
    {
        return Err(ShapeMismatch);
    }
    if n_in == 0 {
        return Ok(());
    }
    if n_out == 0 {
        for (&runs, x) in run.iter().zip(gx.chunks_exact_mut(n_in)) {
            if runs {
                x.fill(0.0);
            }
        }
        return Ok(());
    }
    let row = |i: usize| weights.get(i * n_out..(i + 1) * n_out).ok_or(ShapeMismatch);
    let mut i0 = 0;
    while i0 < n_in {
        let rows = (n_in - i0).min(ROWS);
        let per_start = gy.chunks_exact(n_out).zip(active.chunks_exact(n_in));
        for ((&runs, (g, on)), x) in run.iter().zip(per_start).zip(gx.chunks_exact_mut(n_in)) {
            if !runs {
                continue;
            }
            // This start's active rows of the block, listed; the others get +0.0.
            let mut listed = [0usize; ROWS];
            let mut n = 0;
            for i in i0..i0 + rows {
                let on = on.get(i).is_some_and(|&a| a > 0.0);
                *x.get_mut(i).ok_or(ShapeMismatch)? = 0.0;
                if let Some(slot) = listed.get_mut(n) {
                    *slot = i;
                }
                n += usize::from(on);
            }
            // Four rows at a time; a short last group repeats its first row (each row's
            // sum is its own, so the repeats are computed and dropped).
            for group in listed.get(..n).ok_or(ShapeMismatch)?.chunks(4) {
                let first = group.first().copied().unwrap_or(i0);
                let i = [0, 1, 2, 3].map(|k| group.get(k).copied().unwrap_or(first));
                let sums = dot4([row(i[0])?, row(i[1])?, row(i[2])?, row(i[3])?], g)?;
                for (&r, s) in i.iter().zip(sums).take(group.len()) {
                    *x.get_mut(r).ok_or(ShapeMismatch)? = s;
                }
            }
        }
        i0 += rows;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::dense_input_grad::dense_input_grad;
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn every_start_gets_the_single_input_kernels_bits() {
        let mut rng = Rng(72);
        for case in 0..24 {
            let starts = 1 + rng.below(5);
            let n_in = 1 + rng.below(40);
            let n_out = [1 + rng.below(60), 1024 + rng.below(300)][case % 2];
            let w = rng.vec(n_in * n_out);
            let run: Vec<bool> = (0..starts).map(|s| s == 0 || rng.below(4) != 0).collect();
            let gy = rng.vec(starts * n_out);
            let active: Vec<f32> = (0..starts * n_in).map(|_| rng.sym()).collect();
            let mut gx = vec![f32::NAN; starts * n_in];
            dense_input_grad_batch(&w, &gy, &active, &run, &mut gx).unwrap();
            for s in 0..starts {
                let g = &gx[s * n_in..][..n_in];
                if !run[s] {
                    assert!(g.iter().all(|v| v.is_nan()), "case {case}");
                    continue;
                }
                let mut want = vec![0.0; n_in];
                let a = &active[s * n_in..][..n_in];
                dense_input_grad(&w, &gy[s * n_out..][..n_out], Some(a), &mut want).unwrap();
                let same = g.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "case {case} start {s}");
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let w = vec![0.0f32; 6];
        let mut gx = vec![0.0; 4];
        let run = [true, true];
        assert!(dense_input_grad_batch(&w, &[0.0; 6], &[1.0; 4], &run, &mut gx).is_ok());
        assert!(dense_input_grad_batch(&w, &[0.0; 5], &[1.0; 4], &run, &mut gx).is_err());
        assert!(dense_input_grad_batch(&w, &[0.0; 6], &[1.0; 3], &run, &mut gx).is_err());
        assert!(dense_input_grad_batch(&w[1..], &[0.0; 6], &[1.0; 4], &run, &mut gx).is_err());
    }
}
