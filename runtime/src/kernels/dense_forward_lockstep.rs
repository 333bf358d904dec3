//! Decoder fc2's forward pass for every start of a reclassification lockstep group at once.
//!
//! A matrix–vector product reads every weight once per vector: for the paper's MNIST decoder
//! that is 3.2 MB per pass, more than a core's L2 cache, so one start's pass through fc2 runs
//! at memory speed. [`dense_batch`] takes the inputs of every start that runs in lockstep and
//! walks the weights in blocks small enough to stay in cache while all starts use them, so
//! the weights cross the memory bus once per step instead of once per start (its input
//! gradient does the same: [`super::dense_input_grad_lockstep`]). Each start's arithmetic is
//! exactly that of the single-input kernel [`super::dense_forward::dense`] — the same terms,
//! added in the same order — so the results are the same bits, start by start.

use super::dense_forward::axpy_columns;
use super::{ShapeMismatch, Weight};

/// Output columns per weight block of [`dense_batch`]: each start's sums of one block stay in
/// registers, and the block's rows (`COLUMNS` values of every listed input) stay in L1 while
/// every start reads them.
const COLUMNS: usize = 1024;

/// One start's compacted input for [`dense_batch`]: its listed non-zero values and their
/// indices (ascending, as [`super::dense_forward::compact_nonzero`] writes them).
#[derive(Clone, Copy)]
pub(crate) struct Listed<'a> {
    /// The values.
    pub vals: &'a [f32],
    /// Their input indices, as exact `f32` values.
    pub idx: &'a [f32],
}

/// `out[s][j] = bias[j] + Σ_k vals_s[k] · w[idx_s[k]][j]` for every start `s` with an input
/// (`None`: the start does not run; its outputs are left alone), each sum from the bias in
/// list order, as [`super::dense_forward::dense`] adds them. `weights` is
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

#[cfg(test)]
mod tests {
    use super::super::dense_forward::{compact_nonzero, dense};
    use super::super::relu::relu;
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

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
            for s in 0..starts {
                let o = &out[s * n_out..][..n_out];
                if !run[s] {
                    assert!(o.iter().all(|v| v.is_nan()), "case {case}");
                    continue;
                }
                let mut want = vec![0.0; n_out];
                dense(&lists[s].0, &lists[s].1, n_in, &w, &b, &mut want).unwrap();
                let same = o.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "case {case} start {s}");
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
    }
}
