//! The decoder's first upsampling convolution ([`super::upconv`]) computed from its non-zero
//! inputs only.
//!
//! Its input is the ReLU output of the decoder's wide dense layer, and most of it is zero
//! (about three quarters on the paper's MNIST model). A zero input adds the terms `f · 0` to
//! every output it reaches, and adding `±0.0` to a sum changes at most the sign of a sum that
//! is itself zero; this kernel's activation (the ReLU) maps both zeros to `+0.0`. So skipping
//! those terms gives exactly the outputs of [`super::upconv::upsample_conv3x3`] — the same
//! folded weights, the same ascending `(ci, dy, dx)` order of every output's sum — for a
//! fraction of the multiplications.
//!
//! Loop order: phase `p`; input channel `ci` (its non-zero pixels listed first, branch-free);
//! tap `(dy, dx)`; a block of output channels; the listed pixels. Through the tap a pixel
//! adds `f[ci][p][dy][dx][block] · v` to the accumulator row `acc[y][x][block]` of the one
//! output it reaches — a contiguous multiply-add over the output channels, which vectorises,
//! with the block's weights held in registers. An output receives, within channel `ci`, one
//! term per tap, in tap order; so its terms arrive in ascending `ci`, then `dy`, then `dx`.

use super::upconv::fold_kernel;
use super::{append_if_nonzero, index_slot, slot_index, Planes, ShapeMismatch, Weight};

/// Folds the `[cout][cin][3][3]` weights into the four phase kernels, stored input-channel
/// major with the output channel innermost: `out[((ci · 4 + p) · 4 + dy · 2 + dx) · cout + co]`
/// (the values of [`super::upconv::fold_phases`], rearranged).
pub(crate) fn fold_channel_minor<W: Weight>(
    weights: &[W],
    cin: usize,
    cout: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n = cin.checked_mul(cout).ok_or(ShapeMismatch)?;
    let (src, rest) = weights.as_chunks::<9>();
    if src.len() != n || !rest.is_empty() {
        return Err(ShapeMismatch);
    }
    let block = cout.checked_mul(16).ok_or(ShapeMismatch)?;
    let out = out
        .get_mut(..n.checked_mul(16).ok_or(ShapeMismatch)?)
        .ok_or(ShapeMismatch)?;
    if block == 0 {
        return Ok(());
    }
    for (ci, dst) in out.chunks_exact_mut(block).enumerate() {
        for co in 0..cout {
            let w = src.get(co * cin + ci).ok_or(ShapeMismatch)?;
            for (t, v) in fold_kernel(w).as_flattened().iter().enumerate() {
                if let Some(d) = dst.get_mut(t * cout + co) {
                    *d = *v;
                }
            }
        }
    }
    Ok(())
}

/// The operands of one sparse upsampling convolution.
pub(crate) struct ScatterUpconv<'a, W> {
    /// Zero-padded input planes `[cin][h + 2][w + 2]`.
    pub input: &'a [f32],
    /// Input channels.
    pub cin: usize,
    /// Input height (the output is `2h` high).
    pub h: usize,
    /// Input width (the output is `2w` wide).
    pub w: usize,
    /// Folded weights from [`fold_channel_minor`].
    pub folded: &'a [f32],
    /// `[cout]`.
    pub bias: &'a [W],
    /// Output channels.
    pub cout: usize,
}

/// Scratch of [`scatter_upconv`]: `values` and `positions` need `h · w` entries each (one
/// input plane's non-zero pixels), `acc` needs `(h + 2) · (w + 2) · cout`.
pub(crate) struct ScatterScratch<'a> {
    /// Values of the listed pixels.
    pub values: &'a mut [f32],
    /// Their positions in the padded plane ([`super::index_slot`]).
    pub positions: &'a mut [f32],
    /// Accumulators of one phase, `[h + 2][w + 2][cout]`.
    pub acc: &'a mut [f32],
}

/// Writes `act(value)` for output pixel `(Y, X)` of channel `co` to
/// `out[co · dst.plane + Y · dst.row + X + dst.origin]`, as
/// [`super::upconv::upsample_conv3x3`] does; `act` must map `±0.0` to the same value (the
/// module documentation says why).
pub(crate) fn scatter_upconv<W: Weight>(
    conv: &ScatterUpconv<'_, W>,
    scratch: ScatterScratch<'_>,
    out: &mut [f32],
    dst: Planes,
    act: impl Fn(f32) -> f32,
) -> Result<(), ShapeMismatch> {
    let &ScatterUpconv {
        input,
        cin,
        h,
        w,
        folded,
        bias,
        cout,
    } = conv;
    let (wp, hw) = (
        w.checked_add(2).ok_or(ShapeMismatch)?,
        h.checked_mul(w).ok_or(ShapeMismatch)?,
    );
    let plane = h.checked_add(2).ok_or(ShapeMismatch)?.checked_mul(wp);
    let acc_len = plane.and_then(|p| p.checked_mul(cout));
    let end = dst.end(cout, h.checked_mul(2).ok_or(ShapeMismatch)?, 2 * w);
    let shapes_ok = plane.and_then(|p| p.checked_mul(cin)) == Some(input.len())
        && Some(folded.len()) == cin.checked_mul(cout).and_then(|v| v.checked_mul(16))
        && bias.len() == cout
        && scratch.values.len() >= hw
        && scratch.positions.len() >= hw
        && acc_len.is_some_and(|n| n <= scratch.acc.len())
        && end.is_some_and(|e| e <= out.len());
    if !shapes_ok || hw == 0 || cout == 0 {
        return if shapes_ok {
            Ok(())
        } else {
            Err(ShapeMismatch)
        };
    }
    let plane = plane.ok_or(ShapeMismatch)?;
    // One phase at a time, its accumulators on the padded grid `[h + 2][w + 2][cout]` (small
    // enough for L1): every tap of every interior pixel lands inside the grid, so the loop
    // needs no edge tests; the border is never read.
    let acc = scratch.acc.get_mut(..plane * cout).ok_or(ShapeMismatch)?;
    for p in 0..4 {
        let (py, px) = (p / 2, p % 2);
        for row in acc.chunks_exact_mut(cout) {
            for (a, b) in row.iter_mut().zip(bias) {
                *a = b.value();
            }
        }
        // Tap (dy, dx) sends padded pixel (iy, ix) to padded cell (iy + 1 − py − dy,
        // ix + 1 − px − dx): grid index `pos + wp + 1 − back[t]` for `pos = iy · wp + ix`
        // (never negative: `pos ≥ wp + 1` and `back[t] ≤ 2 · wp + 2`).
        let mut back = [0usize; 4];
        for (t, b) in back.iter_mut().enumerate() {
            *b = (py + t / 2) * wp + px + t % 2;
        }
        for ci in 0..cin {
            let interior = input
                .get(ci * plane..(ci + 1) * plane)
                .ok_or(ShapeMismatch)?;
            let n = list_nonzero(interior, h, w, scratch.values, scratch.positions)?;
            let values = scratch.values.get(..n).ok_or(ShapeMismatch)?;
            let positions = scratch.positions.get(..n).ok_or(ShapeMismatch)?;
            let k0 = (ci * 4 + p) * 4 * cout;
            let kernels = folded.get(k0..k0 + 4 * cout).ok_or(ShapeMismatch)?;
            let pixels = (values, positions);
            let rows = (wp, &back);
            scatter_pixels(acc, kernels, pixels, rows, cout)?;
        }
        // Out to the interleaved output planes, one output channel at a time (contiguous
        // writes; the strided reads stay in the small accumulator grid).
        for co in 0..cout {
            for y in 0..h {
                let at = co * dst.plane + (2 * y + py) * dst.row + px + dst.origin;
                let row = out.get_mut(at..at + 2 * w - 1).ok_or(ShapeMismatch)?;
                let first = ((y + 1) * wp + 1) * cout + co;
                let cells = acc.get(first..).ok_or(ShapeMismatch)?.iter().step_by(cout);
                for (o, &v) in row.iter_mut().step_by(2).zip(cells.take(w)) {
                    *o = act(v);
                }
            }
        }
    }
    Ok(())
}

/// Adds every listed pixel's four tap contributions to the phase accumulators: tap by tap,
/// a block of output channels at a time (its weights stay in registers while the pixels
/// stream past).
#[inline(always)]
fn scatter_pixels(
    acc: &mut [f32],
    kernels: &[f32],
    pixels: (&[f32], &[f32]),
    (wp, back): (usize, &[usize; 4]),
    cout: usize,
) -> Result<(), ShapeMismatch> {
    for (f, &b) in kernels.chunks_exact(cout).zip(back) {
        // Grid cell of a pixel through this tap: `pos + wp + 1 − b` (see the caller).
        let shift = (wp + 1, b);
        let mut co = 0;
        while co + 32 <= cout {
            tap_block::<32>(acc, f, pixels, shift, (co, cout))?;
            co += 32;
        }
        while co + 8 <= cout {
            tap_block::<8>(acc, f, pixels, shift, (co, cout))?;
            co += 8;
        }
        while co < cout {
            tap_block::<1>(acc, f, pixels, shift, (co, cout))?;
            co += 1;
        }
    }
    Ok(())
}

/// One tap's contribution of every listed pixel to output channels `co .. co + B`.
#[inline(always)]
fn tap_block<const B: usize>(
    acc: &mut [f32],
    f: &[f32],
    (values, positions): (&[f32], &[f32]),
    (plus, minus): (usize, usize),
    (co, cout): (usize, usize),
) -> Result<(), ShapeMismatch> {
    let f: [f32; B] = f
        .get(co..co + B)
        .and_then(|f| f.try_into().ok())
        .ok_or(ShapeMismatch)?;
    for (&v, &pos) in values.iter().zip(positions) {
        // Never below zero for a listed pixel (see the caller); wrapping keeps any other slot
        // an out-of-range index for `get` to refuse instead of an overflow panic.
        let cell = slot_index(pos).wrapping_add(plus).wrapping_sub(minus);
        let start = cell.wrapping_mul(cout).wrapping_add(co);
        let row: &mut [f32; B] = acc
            .get_mut(start..start.wrapping_add(B))
            .and_then(|r| r.try_into().ok())
            .ok_or(ShapeMismatch)?;
        for (a, &f) in row.iter_mut().zip(&f) {
            *a += f * v;
        }
    }
    Ok(())
}

/// Lists the non-zero interior pixels of one zero-padded `(h + 2) × (w + 2)` plane and their
/// padded positions `(y + 1) · (w + 2) + x + 1`, in ascending position; returns how many
/// there are.
fn list_nonzero(
    plane: &[f32],
    h: usize,
    w: usize,
    values: &mut [f32],
    positions: &mut [f32],
) -> Result<usize, ShapeMismatch> {
    let mut n = 0usize;
    for y in 0..h {
        let start = (y + 1) * (w + 2) + 1;
        let row = plane.get(start..start + w).ok_or(ShapeMismatch)?;
        for (x, &v) in row.iter().enumerate() {
            // `n ≤ y · w + x < h · w`: both lists have room.
            n = append_if_nonzero(values, positions, n, v, index_slot(start + x));
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::conv3x3::tests::pad;
    use super::super::relu::relu;
    use super::super::testutil::Rng;
    use super::super::upconv::fold_len;
    use super::super::upconv::tests::run_dense;
    use super::*;
    use std::vec::Vec;

    /// Random ReLU-like input: about `zero_share` of the values exactly `+0.0`.
    fn sparse_input(rng: &mut Rng, n: usize, zero_share: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let keep = (rng.sym() + 1.0) / 2.0 >= zero_share;
                if keep {
                    rng.sym().abs() + 1e-3
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn run(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
    ) -> Vec<f32> {
        let mut folded = vec![f32::NAN; fold_len(cin, cout).unwrap()];
        fold_channel_minor(wt, cin, cout, &mut folded).unwrap();
        let (mut values, mut positions) = (vec![0.0; h * w], vec![0.0; h * w]);
        let mut acc = vec![f32::NAN; (h + 2) * (w + 2) * cout];
        let dst = Planes {
            plane: 4 * h * w,
            row: 2 * w,
            origin: 0,
        };
        let mut out = vec![f32::NAN; cout * 4 * h * w];
        let padded = pad(x, cin, h, w);
        let conv = ScatterUpconv {
            input: &padded,
            cin,
            h,
            w,
            folded: &folded,
            bias: b,
            cout,
        };
        let scratch = ScatterScratch {
            values: &mut values,
            positions: &mut positions,
            acc: &mut acc,
        };
        scatter_upconv(&conv, scratch, &mut out, dst, relu).unwrap();
        out
    }

    #[test]
    fn same_bits_as_the_dense_upsampling_convolution() {
        let mut rng = Rng(29);
        for case in 0..40 {
            let (cin, cout) = (1 + rng.below(9), 1 + rng.below(11));
            let (h, w) = (1 + rng.below(7), 1 + rng.below(8));
            let share = [0.0, 0.5, 0.75, 1.0][case % 4];
            let x = sparse_input(&mut rng, cin * h * w, share);
            let wt = rng.vec(cout * cin * 9);
            let b = rng.vec(cout);
            let got = run(&x, cin, h, w, &wt, &b, cout);
            let want = run_dense(&x, cin, h, w, &wt, &b, cout, relu);
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "case {case}: {cin}->{cout} at {h}x{w}");
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        let (cin, cout, h, w) = (2, 3, 2, 2);
        let input = vec![1.0; cin * 16];
        let folded = vec![0.0; cin * cout * 16];
        let bias = vec![0.0f32; cout];
        let dst = Planes {
            plane: 16,
            row: 4,
            origin: 0,
        };
        let attempt = |input: &[f32], folded: &[f32], list: usize, acc: usize, out: usize| {
            let conv = ScatterUpconv {
                input,
                cin,
                h,
                w,
                folded,
                bias: &bias,
                cout,
            };
            let (mut values, mut positions) = (vec![0.0; list], vec![0.0; list]);
            let mut acc = vec![0.0; acc];
            let scratch = ScatterScratch {
                values: &mut values,
                positions: &mut positions,
                acc: &mut acc,
            };
            scatter_upconv(&conv, scratch, &mut vec![0.0; out], dst, relu)
        };
        let acc = (h + 2) * (w + 2) * cout;
        assert!(attempt(&input, &folded, h * w, acc, cout * 16).is_ok());
        assert!(attempt(&input[1..], &folded, h * w, acc, cout * 16).is_err());
        assert!(attempt(&input, &folded[1..], h * w, acc, cout * 16).is_err());
        assert!(attempt(&input, &folded, h * w - 1, acc, cout * 16).is_err());
        assert!(attempt(&input, &folded, h * w, acc - 1, cout * 16).is_err());
        assert!(attempt(&input, &folded, h * w, acc, cout * 16 - 1).is_err());
        let mut short = vec![0.0; cin * cout * 16 - 1];
        assert!(fold_channel_minor(&vec![0.0f32; cin * cout * 9], cin, cout, &mut short).is_err());
    }
}
