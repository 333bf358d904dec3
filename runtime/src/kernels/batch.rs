//! The wide dense layer for several reclassification starts at once.
//!
//! A matrix–vector product reads every weight once per vector: for the paper's MNIST decoder
//! that is 3.2 MB per pass, more than a core's L2 cache, so one start's forward and backward
//! pass through fc2 run at memory speed. These kernels take the inputs of every start that
//! runs in lockstep and walk the weights in blocks small enough to stay in cache while all
//! starts use them, so the weights cross the memory bus once per step instead of once per
//! start. Each start's arithmetic is exactly that of the single-input kernels — the same
//! terms, added in the same order — so the results are the same bits:
//! [`dense_batch`] is [`super::dense::dense`] and [`dense_input_grad_batch`] is
//! [`super::dense_t::dense_input_grad`], start by start.

use super::dense::axpy_columns;
use super::lanes::dot4;
use super::{ShapeMismatch, Weight};

/// Output columns per weight block of [`dense_batch`]: each start's sums of one block stay in
/// registers, and the block's rows (`COLUMNS` values of every listed input) stay in L1 while
/// every start reads them.
const COLUMNS: usize = 1024;

/// Weight rows per block of [`dense_input_grad_batch`] (16 rows stay in L2 together).
const ROWS: usize = 16;

/// One start's compacted input for [`dense_batch`]: its listed non-zero values and their
/// indices (ascending, as [`super::dense::compact_nonzero`] writes them).
#[derive(Clone, Copy)]
pub(crate) struct Listed<'a> {
    /// The values.
    pub vals: &'a [f32],
    /// Their input indices, as exact `f32` values.
    pub idx: &'a [f32],
}

/// `out[s][j] = bias[j] + Σ_k vals_s[k] · w[idx_s[k]][j]` for every start `s` with an input
/// (`None`: the start does not run; its outputs are left alone), each sum from the bias in
/// list order, as [`super::dense::dense`] adds them. `weights` is
/// `[n_in][n_out]`, `out` holds `inputs.len()` rows of `n_out`.
#[inline(always)]
pub(crate) fn dense_batch<W: Weight>(
    inputs: &[Option<Listed<'_>>],
    n_in: usize,
    weights: &[W],
    bias: &[W],
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n_out = bias.len();
    let listed_ok = inputs
        .iter()
        .flatten()
        .all(|l| l.vals.len() == l.idx.len() && l.vals.len() <= n_in);
    if !listed_ok
        || n_in.checked_mul(n_out) != Some(weights.len())
        || inputs.len().checked_mul(n_out) != Some(out.len())
    {
        return Err(ShapeMismatch);
    }
    if n_out == 0 {
        return Ok(());
    }
    let mut j0 = 0;
    while j0 < n_out {
        let width = (n_out - j0).min(COLUMNS);
        let b = bias.get(j0..j0 + width).ok_or(ShapeMismatch)?;
        for (listed, row) in inputs.iter().zip(out.chunks_exact_mut(n_out)) {
            let Some(listed) = listed else { continue };
            let o = row.get_mut(j0..j0 + width).ok_or(ShapeMismatch)?;
            axpy_columns(listed.vals, listed.idx, (n_in, n_out, j0), weights, b, o)?;
        }
        j0 += width;
    }
    Ok(())
}

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
    use super::super::dense::{compact_nonzero, dense};
    use super::super::dense_t::dense_input_grad;
    use super::super::relu::relu;
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn every_start_gets_the_single_input_kernels_bits() {
        let mut rng = Rng(71);
        for case in 0..24 {
            let starts = 1 + rng.below(5);
            let n_in = 1 + rng.below(40);
            let n_out = [1 + rng.below(60), COLUMNS + rng.below(300)][case % 2];
            let w = rng.vec(n_in * n_out);
            let b = rng.vec(n_out);
            let run: Vec<bool> = (0..starts).map(|s| s == 0 || rng.below(4) != 0).collect();
            let xs: Vec<Vec<f32>> = (0..starts)
                .map(|_| (0..n_in).map(|_| relu(rng.sym())).collect())
                .collect();
            let lists: Vec<(Vec<f32>, Vec<f32>)> = xs
                .iter()
                .map(|x| {
                    let (mut v, mut i) = (vec![0.0; n_in], vec![0.0; n_in]);
                    let n = compact_nonzero(x, &mut v, &mut i).unwrap();
                    (v[..n].to_vec(), i[..n].to_vec())
                })
                .collect();
            let inputs: Vec<Option<Listed>> = lists
                .iter()
                .zip(&run)
                .map(|((v, i), &r)| r.then_some(Listed { vals: v, idx: i }))
                .collect();
            let mut out = vec![f32::NAN; starts * n_out];
            dense_batch(&inputs, n_in, &w, &b, &mut out).unwrap();
            let gy = rng.vec(starts * n_out);
            let active: Vec<f32> = (0..starts * n_in).map(|_| rng.sym()).collect();
            let mut gx = vec![f32::NAN; starts * n_in];
            dense_input_grad_batch(&w, &gy, &active, &run, &mut gx).unwrap();
            for s in 0..starts {
                let (o, g) = (&out[s * n_out..][..n_out], &gx[s * n_in..][..n_in]);
                if !run[s] {
                    assert!(o.iter().chain(g).all(|v| v.is_nan()), "case {case}");
                    continue;
                }
                let mut want = vec![0.0; n_out];
                dense(&lists[s].0, &lists[s].1, n_in, &w, &b, &mut want).unwrap();
                assert!(same_bits(o, &want), "case {case} start {s}");
                let mut want = vec![0.0; n_in];
                let a = &active[s * n_in..][..n_in];
                dense_input_grad(&w, &gy[s * n_out..][..n_out], Some(a), &mut want).unwrap();
                assert!(same_bits(g, &want), "case {case} start {s}");
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let (w, b) = (vec![0.0f32; 6], vec![0.0f32; 3]);
        let listed = Listed {
            vals: &[1.0],
            idx: &[0.0],
        };
        let mut out = vec![0.0; 6];
        assert!(dense_batch(&[Some(listed), None], 2, &w, &b, &mut out).is_ok());
        assert!(dense_batch(&[Some(listed)], 2, &w, &b, &mut out).is_err());
        assert!(dense_batch(&[Some(listed), None], 3, &w, &b, &mut out).is_err());
        let bad = Listed {
            vals: &[1.0],
            idx: &[5.0],
        };
        assert!(dense_batch(&[Some(bad), None], 2, &w, &b, &mut out).is_err());
        let mut gx = vec![0.0; 4];
        let run = [true, true];
        assert!(dense_input_grad_batch(&w, &[0.0; 6], &[1.0; 4], &run, &mut gx).is_ok());
        assert!(dense_input_grad_batch(&w, &[0.0; 5], &[1.0; 4], &run, &mut gx).is_err());
        assert!(dense_input_grad_batch(&w, &[0.0; 6], &[1.0; 3], &run, &mut gx).is_err());
        assert!(dense_input_grad_batch(&w[1..], &[0.0; 6], &[1.0; 4], &run, &mut gx).is_err());
    }
}
