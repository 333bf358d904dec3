//! The forward pass of every dense layer — encoder fc1 and fc2 (the latent), decoder fc1 and
//! fc2 — for one input: weights input-major `[n_in][n_out]`, zero inputs skipped.
//! (Reclassification runs decoder fc2 for several starts at once:
//! [`super::dense_forward_lockstep`].)
//!
//! `y[j] = bias[j] + Σ_{i ascending, x[i] ≠ 0} x[i] · w[i][j]`, accumulated left to right in
//! `f32` (one rounding per multiply and per add). Inputs that are exactly zero (`+0.0` or
//! `−0.0`) contribute no term at all; after a ReLU that is about half of them. With finite
//! weights a skipped term could only have changed the sign of an exact-zero sum.
//!
//! Implementation: [`compact_nonzero`] first lists the non-zero inputs and their indices in
//! ascending order (indices are stored as exactly representable `f32` values, so the input
//! length must stay below 2²⁴); [`dense`] then walks the list once per block of outputs,
//! reading one contiguous weight-row segment per listed input. Up to 4096 outputs the block
//! is the whole row (accumulators in L1, weight rows streamed whole); wider layers use
//! register blocks of 64 outputs.

use super::{append_if_nonzero, ShapeMismatch, Weight};

/// Largest input length whose indices `f32` represents exactly.
pub(crate) const MAX_INPUTS: usize = 1 << 24;

const BLOCK: usize = 64;
const TAIL: usize = 8;

/// Writes the non-zero entries of `x` to `vals` and their indices to `idx` (both in ascending
/// index order) and returns how many there are. `vals` and `idx` need `x.len()` entries.
#[inline(always)]
pub(crate) fn compact_nonzero(
    x: &[f32],
    vals: &mut [f32],
    idx: &mut [f32],
) -> Result<usize, ShapeMismatch> {
    if x.len() > MAX_INPUTS || vals.len() < x.len() || idx.len() < x.len() {
        return Err(ShapeMismatch);
    }
    let mut n = 0usize;
    for (i, &v) in x.iter().enumerate() {
        // `n <= i < x.len()`: both lists have room.
        n = append_if_nonzero(vals, idx, n, v, i as f32);
    }
    Ok(n)
}

/// Computes `out[j]` for all `j < n_out = out.len()` from the compacted input `vals`/`idx`.
/// `weights` is `[n_in][n_out]`, `bias` is `[n_out]`.
#[inline(always)]
pub(crate) fn dense<W: Weight>(
    vals: &[f32],
    idx: &[f32],
    n_in: usize,
    weights: &[W],
    bias: &[W],
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n_out = out.len();
    if vals.len() != idx.len()
        || n_in > MAX_INPUTS
        || bias.len() != n_out
        || n_in.checked_mul(n_out) != Some(weights.len())
    {
        return Err(ShapeMismatch);
    }
    if n_out <= AXPY_MAX_OUT {
        return axpy(vals, idx, n_in, weights, bias, out);
    }
    let mut j = 0;
    while j + BLOCK <= n_out {
        block::<W, BLOCK>(vals, idx, n_in, n_out, j, weights, bias, out)?;
        j += BLOCK;
    }
    while j + TAIL <= n_out {
        block::<W, TAIL>(vals, idx, n_in, n_out, j, weights, bias, out)?;
        j += TAIL;
    }
    while j < n_out {
        block::<W, 1>(vals, idx, n_in, n_out, j, weights, bias, out)?;
        j += 1;
    }
    Ok(())
}

/// Largest output count handled by [`axpy`] (its accumulators, 16 KiB, stay in L1).
const AXPY_MAX_OUT: usize = 4096;

/// Whole-row variant: `out += v · w[i][..]` for each listed input, reading each weight row
/// as one contiguous stream; `out` (the accumulators) stays in L1.
#[inline(always)]
fn axpy<W: Weight>(
    vals: &[f32],
    idx: &[f32],
    n_in: usize,
    weights: &[W],
    bias: &[W],
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    axpy_columns(vals, idx, (n_in, out.len(), 0), weights, bias, out)
}

/// Columns `j0 .. j0 + out.len()` of a dense layer with `n_in` inputs and `n_out` outputs:
/// `out` starts at `bias` (that many values) and adds `v · w[i][j0..]` for each listed input,
/// each weight-row segment read as one contiguous stream.
#[inline(always)]
pub(crate) fn axpy_columns<W: Weight>(
    vals: &[f32],
    idx: &[f32],
    (n_in, n_out, j0): (usize, usize, usize),
    weights: &[W],
    bias: &[W],
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    for (o, b) in out.iter_mut().zip(bias) {
        *o = b.value();
    }
    let width = out.len();
    let row = |i: f32| {
        // Clamping keeps the product within `n_in · n_out`; an index `>= n_in` then fails
        // the `get`.
        let start = (i as usize).min(n_in) * n_out + j0;
        weights.get(start..start + width).ok_or(ShapeMismatch)
    };
    // Four listed inputs per pass over `out`: each output still adds their terms one after
    // the other in ascending input order (the same roundings), with a quarter of the loads
    // and stores of the accumulators.
    let (v4, v_rest) = vals.as_chunks::<4>();
    let (i4, i_rest) = idx.as_chunks::<4>();
    for (&[v0, v1, v2, v3], &[i0, i1, i2, i3]) in v4.iter().zip(i4) {
        let (r0, r1, r2, r3) = (row(i0)?, row(i1)?, row(i2)?, row(i3)?);
        for ((((o, w0), w1), w2), w3) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            *o = (((*o + v0 * w0.value()) + v1 * w1.value()) + v2 * w2.value()) + v3 * w3.value();
        }
    }
    for (&v, &i) in v_rest.iter().zip(i_rest) {
        for (o, w) in out.iter_mut().zip(row(i)?) {
            *o += v * w.value();
        }
    }
    Ok(())
}

/// Outputs `j0 .. j0 + B`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block<W: Weight, const B: usize>(
    vals: &[f32],
    idx: &[f32],
    n_in: usize,
    n_out: usize,
    j0: usize,
    weights: &[W],
    bias: &[W],
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let b: &[W; B] = bias
        .get(j0..j0 + B)
        .and_then(|s| s.try_into().ok())
        .ok_or(ShapeMismatch)?;
    let mut acc = [0.0f32; B];
    for (a, w) in acc.iter_mut().zip(b) {
        *a = w.value();
    }
    for (&v, &i) in vals.iter().zip(idx) {
        // Clamping to `n_in` keeps the product within `n_in · n_out = weights.len()` (checked
        // above), so it cannot overflow; an index `>= n_in` then fails the `get`.
        let start = (i as usize).min(n_in) * n_out + j0;
        let row: &[W; B] = weights
            .get(start..start + B)
            .and_then(|s| s.try_into().ok())
            .ok_or(ShapeMismatch)?;
        for (a, w) in acc.iter_mut().zip(row) {
            *a += v * w.value();
        }
    }
    out.get_mut(j0..j0 + B)
        .ok_or(ShapeMismatch)?
        .copy_from_slice(&acc);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::relu::relu;
    use super::super::testutil::{assert_close, Rng};
    use super::*;
    use std::vec::Vec;

    #[test]
    fn matches_reference_and_documented_order() {
        let mut rng = Rng(5);
        for _ in 0..40 {
            let (n_in, n_out) = if rng.below(4) == 0 {
                (1 + rng.below(20), AXPY_MAX_OUT - 70 + rng.below(150))
            } else {
                (1 + rng.below(200), 1 + rng.below(150))
            };
            let x: Vec<f32> = (0..n_in).map(|_| relu(rng.sym())).collect();
            let w = rng.vec(n_in * n_out);
            let b = rng.vec(n_out);
            let (mut vals, mut idx) = (vec![0.0; n_in], vec![0.0; n_in]);
            let n = compact_nonzero(&x, &mut vals, &mut idx).unwrap();
            assert_eq!(n, x.iter().filter(|v| **v != 0.0).count());
            let mut out = vec![0.0; n_out];
            let le: Vec<[u8; 4]> = w.iter().map(|v| v.to_le_bytes()).collect();
            let bl: Vec<[u8; 4]> = b.iter().map(|v| v.to_le_bytes()).collect();
            dense(&vals[..n], &idx[..n], n_in, &le, &bl, &mut out).unwrap();
            let want: Vec<f64> = (0..n_out)
                .map(|j| {
                    b[j] as f64
                        + (0..n_in)
                            .map(|i| x[i] as f64 * w[i * n_out + j] as f64)
                            .sum::<f64>()
                })
                .collect();
            assert_close(&out, &want, 1e-5);
            for j in 0..n_out {
                let mut s = b[j];
                for i in 0..n_in {
                    if x[i] != 0.0 {
                        s += x[i] * w[i * n_out + j];
                    }
                }
                assert_eq!(s.to_bits(), out[j].to_bits());
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let mut out = [0.0; 3];
        let w = [0.0f32; 6];
        assert!(dense(&[1.0], &[0.0], 2, &w, &[0.0; 3], &mut out).is_ok());
        assert!(dense(&[1.0], &[2.0], 2, &w, &[0.0; 3], &mut out).is_err());
        assert!(dense(&[1.0], &[0.0], 2, &w[1..], &[0.0; 3], &mut out).is_err());
        assert!(dense(&[1.0], &[], 2, &w, &[0.0; 3], &mut out).is_err());
        assert!(dense(&[1.0], &[0.0], 2, &w, &[0.0; 2], &mut out).is_err());
        assert!(compact_nonzero(&[1.0, 2.0], &mut [0.0], &mut [0.0; 2]).is_err());
    }
}
