//! The input gradient of the decoder's first upsampling convolution, from its non-zero output
//! gradients only, masked by the ReLU in front of it.
//!
//! [`super::phases`] defines the sum: the gradient at input pixel `(y, x)` of channel `ci` is
//! `Σ_{p, co, r, c ascending} k[ci][p·cout + co][r][c] · G[p·cout + co][y + r][x + c]`, from
//! `+0.0`, over the phase planes `G` of the output gradient. Behind a ReLU many `G` values
//! are exactly zero (about 40 % on the paper's MNIST model), and a sum that starts at `+0.0`
//! never changes when `±0.0` is added to it (round-to-nearest gives `+0.0 + −0.0 = +0.0`, and
//! the sum can only become `−0.0` by adding `−0.0` to `−0.0`). So leaving those terms out gives
//! the bits of the full correlation for a fraction of the work.
//!
//! For each input position `(y, x)`: list the non-zero `G` values it reads, in the ascending
//! `(p, co, r, c)` order (branch-free); then add each one's products with all input channels
//! at once — `acc[..] += k[row][..] · g`, with the kernel stored channel-minor so that this is
//! one contiguous multiply-add, which vectorises; finally keep `acc[ci]` where the forward
//! ReLU output `saved[ci][y][x]` is positive and write `+0.0` elsewhere.

use super::phases::reverse_taps_into;
use super::{append_if_nonzero, index_slot, slot_index, ShapeMismatch};

/// Rearranges the phase-major folded kernels `fold[p][cout][cin][4]` (as
/// [`super::upconv::fold_phases`] writes them) into `out[(p · cout + co) · 4 + t][ci] =
/// fold[p][co][ci][3 − t]`: the backward kernel of [`super::phases::transpose_fold`] with the
/// input channel innermost.
pub(crate) fn transpose_fold_channel_minor(
    fold: &[f32],
    cin: usize,
    cout: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    reverse_taps_into(fold, cin, cout, out, |ci, q, t| (q * 4 + t) * cin + ci)
}

/// The operands of one masked input-gradient computation.
pub(crate) struct GatherGrad<'a> {
    /// The output gradient as `4 · cout` phase planes of `(h + 2) × (w + 2)`
    /// ([`super::phases::scatter_phases`]).
    pub grad: &'a [f32],
    /// The kernel from [`transpose_fold_channel_minor`].
    pub kernel: &'a [f32],
    /// The forward ReLU output, zero-padded planes `[cin][h + 2][w + 2]`.
    pub saved: &'a [f32],
    /// Input channels (of the forward convolution).
    pub cin: usize,
    /// Output channels (of the forward convolution).
    pub cout: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
}

/// Scratch of [`gather_grad`]: `values` and `rows` need `16 · cout` entries each, `acc`
/// needs `cin`.
pub(crate) struct GatherScratch<'a> {
    /// The listed non-zero gradient values.
    pub values: &'a mut [f32],
    /// Their kernel rows `(p · cout + co) · 4 + r · 2 + c` ([`super::index_slot`]).
    pub rows: &'a mut [f32],
    /// One position's sums over the input channels.
    pub acc: &'a mut [f32],
}

/// Writes the masked input gradient to `out` as dense `[cin][h][w]`.
pub(crate) fn gather_grad(
    op: &GatherGrad<'_>,
    scratch: GatherScratch<'_>,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let &GatherGrad {
        grad,
        kernel,
        saved,
        cin,
        cout,
        h,
        w,
    } = op;
    let wp = w.checked_add(2).ok_or(ShapeMismatch)?;
    let plane = h.checked_add(2).and_then(|v| v.checked_mul(wp));
    let terms = cout.checked_mul(16).ok_or(ShapeMismatch)?;
    let shapes_ok = plane.and_then(|p| p.checked_mul(cout)?.checked_mul(4)) == Some(grad.len())
        && plane.and_then(|p| p.checked_mul(cin)) == Some(saved.len())
        && cin.checked_mul(terms) == Some(kernel.len())
        && scratch.values.len() >= terms
        && scratch.rows.len() >= terms
        && scratch.acc.len() >= cin
        && cin.checked_mul(h).and_then(|v| v.checked_mul(w)) == Some(out.len());
    if !shapes_ok {
        return Err(ShapeMismatch);
    }
    let plane = plane.ok_or(ShapeMismatch)?;
    let acc = scratch.acc.get_mut(..cin).ok_or(ShapeMismatch)?;
    for y in 0..h {
        for x in 0..w {
            let n = list_terms(grad, plane, wp, (y, x), scratch.values, scratch.rows)?;
            let values = scratch.values.get(..n).ok_or(ShapeMismatch)?;
            let rows = scratch.rows.get(..n).ok_or(ShapeMismatch)?;
            let terms = (values, rows);
            let mut ci0 = 0;
            while ci0 + 32 <= cin {
                store(acc, ci0, &channels::<32>(kernel, cin, ci0, terms)?)?;
                ci0 += 32;
            }
            while ci0 + 8 <= cin {
                store(acc, ci0, &channels::<8>(kernel, cin, ci0, terms)?)?;
                ci0 += 8;
            }
            while ci0 < cin {
                store(acc, ci0, &channels::<1>(kernel, cin, ci0, terms)?)?;
                ci0 += 1;
            }
            let at = (y + 1) * wp + x + 1;
            for (ci, &a) in acc.iter().enumerate() {
                let on = *saved.get(ci * plane + at).ok_or(ShapeMismatch)? > 0.0;
                *out.get_mut((ci * h + y) * w + x).ok_or(ShapeMismatch)? = if on { a } else { 0.0 };
            }
        }
    }
    Ok(())
}

/// The sums of input channels `ci0 .. ci0 + B` over the listed terms (in list order), in
/// registers.
#[inline(always)]
fn channels<const B: usize>(
    kernel: &[f32],
    cin: usize,
    ci0: usize,
    (values, rows): (&[f32], &[f32]),
) -> Result<[f32; B], ShapeMismatch> {
    let mut acc = [0.0f32; B];
    for (&g, &row) in values.iter().zip(rows) {
        // Wrapping: a slot that held no valid row lands far outside `kernel`, and `get`
        // turns that into an error instead of an overflow panic in debug builds.
        let start = slot_index(row).wrapping_mul(cin).wrapping_add(ci0);
        let k: &[f32; B] = kernel
            .get(start..start.wrapping_add(B))
            .and_then(|k| k.try_into().ok())
            .ok_or(ShapeMismatch)?;
        for (a, &k) in acc.iter_mut().zip(k) {
            *a += k * g;
        }
    }
    Ok(acc)
}

/// Copies a block of sums into `acc` at `ci0`.
fn store<const B: usize>(
    acc: &mut [f32],
    ci0: usize,
    block: &[f32; B],
) -> Result<(), ShapeMismatch> {
    acc.get_mut(ci0..ci0 + B)
        .ok_or(ShapeMismatch)?
        .copy_from_slice(block);
    Ok(())
}

/// Lists the non-zero gradient values input position `(y, x)` reads, in ascending
/// `(p, co, r, c)` order, with their kernel rows; returns how many there are.
fn list_terms(
    grad: &[f32],
    plane: usize,
    wp: usize,
    (y, x): (usize, usize),
    values: &mut [f32],
    rows: &mut [f32],
) -> Result<usize, ShapeMismatch> {
    let mut n = 0usize;
    for (q, g) in grad.chunks_exact(plane).enumerate() {
        for r in 0..2 {
            let start = (y + r) * wp + x;
            let pair = g.get(start..start + 2).ok_or(ShapeMismatch)?;
            for (c, &v) in pair.iter().enumerate() {
                // At most `16 · cout` entries: the scratch length checked on entry.
                n = append_if_nonzero(values, rows, n, v, index_slot(q * 4 + r * 2 + c));
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::flat::{correlate, FlatConv, DEC_CO, DEC_P};
    use super::super::phases::transpose_fold;
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

    /// Random values, about `zero_share` of them exactly `+0.0`.
    fn sparse(rng: &mut Rng, n: usize, zero_share: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let v = rng.sym();
                if (rng.sym() + 1.0) / 2.0 < zero_share {
                    0.0
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn same_bits_as_the_dense_correlation_then_the_mask() {
        let mut rng = Rng(53);
        for case in 0..40 {
            let (cin, cout) = (1 + rng.below(9), 1 + rng.below(7));
            let (h, w) = (1 + rng.below(6), 1 + rng.below(7));
            let (wp, plane) = (w + 2, (h + 2) * (w + 2));
            let share = [0.0, 0.4, 0.9, 1.0][case % 4];
            let grad = sparse(&mut rng, 4 * cout * plane, share);
            let saved = sparse(&mut rng, cin * plane, 0.75);
            let fold = rng.vec(cin * cout * 16);

            let mut k = vec![0.0; fold.len()];
            transpose_fold(&fold, cin, cout, &mut k).unwrap();
            let g = FlatConv {
                cin: 4 * cout,
                cout: cin,
                in_plane: plane,
                out_plane: h * wp,
                n_out: (h - 1) * wp + w,
            };
            let mut flat = vec![f32::NAN; cin * h * wp];
            let zeros = vec![0.0f32; cin];
            correlate::<f32, f32, 2, 2, 4, DEC_CO, DEC_P>(
                &grad,
                &[0, wp],
                &k,
                &zeros,
                &mut flat,
                &g,
            )
            .unwrap();
            let want: Vec<f32> = (0..cin * h * w)
                .map(|i| {
                    let (ci, y, x) = (i / (h * w), (i / w) % h, i % w);
                    let on = saved[ci * plane + (y + 1) * wp + x + 1] > 0.0;
                    if on {
                        flat[(ci * h + y) * wp + x]
                    } else {
                        0.0
                    }
                })
                .collect();

            let mut kernel = vec![f32::NAN; fold.len()];
            transpose_fold_channel_minor(&fold, cin, cout, &mut kernel).unwrap();
            let (mut values, mut rows) = (vec![0.0; 16 * cout], vec![0.0; 16 * cout]);
            let mut acc = vec![0.0; cin];
            let mut got = vec![f32::NAN; cin * h * w];
            let op = GatherGrad {
                grad: &grad,
                kernel: &kernel,
                saved: &saved,
                cin,
                cout,
                h,
                w,
            };
            let scratch = GatherScratch {
                values: &mut values,
                rows: &mut rows,
                acc: &mut acc,
            };
            gather_grad(&op, scratch, &mut got).unwrap();
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "case {case}: {cin} <- {cout} at {h}x{w}");
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        let (cin, cout, h, w) = (3, 2, 2, 3);
        let plane = (h + 2) * (w + 2);
        let grad = vec![1.0; 4 * cout * plane];
        let saved = vec![1.0; cin * plane];
        let kernel = vec![1.0; 16 * cin * cout];
        let attempt =
            |grad: &[f32], saved: &[f32], kernel: &[f32], terms: usize, acc: usize, out: usize| {
                let op = GatherGrad {
                    grad,
                    kernel,
                    saved,
                    cin,
                    cout,
                    h,
                    w,
                };
                let (mut values, mut rows) = (vec![0.0; terms], vec![0.0; terms]);
                let mut acc = vec![0.0; acc];
                let scratch = GatherScratch {
                    values: &mut values,
                    rows: &mut rows,
                    acc: &mut acc,
                };
                gather_grad(&op, scratch, &mut vec![0.0; out])
            };
        let (t, n) = (16 * cout, cin * h * w);
        assert!(attempt(&grad, &saved, &kernel, t, cin, n).is_ok());
        assert!(attempt(&grad[1..], &saved, &kernel, t, cin, n).is_err());
        assert!(attempt(&grad, &saved[1..], &kernel, t, cin, n).is_err());
        assert!(attempt(&grad, &saved, &kernel[1..], t, cin, n).is_err());
        assert!(attempt(&grad, &saved, &kernel, t - 1, cin, n).is_err());
        assert!(attempt(&grad, &saved, &kernel, t, cin - 1, n).is_err());
        assert!(attempt(&grad, &saved, &kernel, t, cin, n - 1).is_err());
        let mut short = vec![0.0; kernel.len() - 1];
        assert!(transpose_fold_channel_minor(&kernel, cin, cout, &mut short).is_err());
    }
}
