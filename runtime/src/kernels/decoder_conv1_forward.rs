//! Decoder conv1's forward pass: nearest 2× upsampling followed by a 3×3 convolution (zero
//! padding 1, `c2 → c1` channels) with the folded phase kernels of [`super::folded_weights`],
//! as decoder conv2 ([`super::decoder_conv2_forward`]) — but computed from its non-zero inputs
//! only, one output pixel at a time with a block of output channels in registers.
//!
//! Its input is the ReLU output of the decoder's wide dense layer, and most of it is zero
//! (about three quarters on the paper's MNIST model). Its sum is defined tap-major
//! (`NUMERICS.md`): output pixel `(2y + py, 2x + px)` of channel `co`, phase `p = 2·py + px`,
//! is
//!
//! ```text
//! act( bias[co] + Σ_{dy} Σ_{dx} Σ_{ci} f[p][co][ci][dy][dx] · in[ci][y + py + dy − 1][x + px + dx − 1] )
//! ```
//!
//! taken left to right in ascending `(dy, dx, ci)` order, leaving out every term whose input
//! is zero or lies in the zero padding. A left-out term is `f · 0 = ±0.0`, and adding `±0.0`
//! changes at most the sign of a sum that is itself zero, which the ReLU after it maps to
//! `+0.0` either way: the result is that of the full sum in the same order.
//!
//! Tap-major order makes every tap's terms one contiguous list: the non-zero inputs of one
//! input position in ascending `ci`. So the kernel first lists, once, every position's
//! non-zero inputs with their weight offsets (branch-free); then each output pixel starts a
//! block of output channels at their biases and walks the lists of its four taps, adding
//! `f[ci][p][t][block] · v` — a contiguous multiply-add over the output channels, which
//! vectorises, with the sums held in registers from the first term to the last.

use super::{
    append_if_nonzero, channel_blocks, index_slot, multiply_add, slot_index, Planes, ShapeMismatch,
    Weight,
};

/// The operands of one sparse upsampling convolution.
pub(crate) struct WindowUpconv<'a, W> {
    /// Zero-padded input planes `[cin][h + 2][w + 2]`.
    pub input: &'a [f32],
    /// Input channels.
    pub cin: usize,
    /// Input height (the output is `2h` high).
    pub h: usize,
    /// Input width (the output is `2w` wide).
    pub w: usize,
    /// Folded weights from [`super::folded_weights::fold_channel_minor`].
    pub folded: &'a [f32],
    /// `[cout]`.
    pub bias: &'a [W],
    /// Output channels.
    pub cout: usize,
}

/// Scratch of [`window_upconv`]: every input position's non-zero inputs.
pub(crate) struct WindowScratch<'a> {
    /// Their values, position after position (`cin · h · w` entries).
    pub values: &'a mut [f32],
    /// Their weight offsets `ci · 16 · cout` ([`super::index_slot`]; as many entries).
    pub offsets: &'a mut [f32],
    /// Where the list of position `y · w + x` starts, and where the last one ends
    /// ([`super::index_slot`]; `h · w + 1` entries).
    pub starts: &'a mut [f32],
}

/// Length of [`WindowScratch::starts`] for an `h × w` input.
pub(crate) fn starts_len(h: usize, w: usize) -> Option<usize> {
    h.checked_mul(w)?.checked_add(1)
}

/// Writes `act(value)` for output pixel `(Y, X)` of channel `co` to
/// `out[co · dst.plane + Y · dst.row + X + dst.origin]` (the placement of
/// [`super::decoder_conv2_forward::upsample_conv3x3`]); `act` must map `±0.0` to the same value (the module
/// documentation says why).
#[inline(always)]
pub(crate) fn window_upconv<W: Weight>(
    conv: &WindowUpconv<'_, W>,
    mut scratch: WindowScratch<'_>,
    out: &mut [f32],
    dst: Planes,
    act: impl Fn(f32) -> f32,
) -> Result<(), ShapeMismatch> {
    let &WindowUpconv {
        input,
        cin,
        h,
        w,
        folded,
        bias,
        cout,
    } = conv;
    let wp = w.checked_add(2).ok_or(ShapeMismatch)?;
    let plane = h.checked_add(2).ok_or(ShapeMismatch)?.checked_mul(wp);
    let inputs = cin.checked_mul(h).and_then(|v| v.checked_mul(w));
    let end = dst.end(cout, h.checked_mul(2).ok_or(ShapeMismatch)?, 2 * w);
    let shapes_ok = plane.and_then(|p| p.checked_mul(cin)) == Some(input.len())
        && Some(folded.len()) == cin.checked_mul(cout).and_then(|v| v.checked_mul(16))
        && bias.len() == cout
        && inputs.is_some_and(|n| n <= scratch.values.len() && n <= scratch.offsets.len())
        && starts_len(h, w).is_some_and(|n| n <= scratch.starts.len())
        && end.is_some_and(|e| e <= out.len());
    if !shapes_ok {
        return Err(ShapeMismatch);
    }
    let plane = plane.ok_or(ShapeMismatch)?;
    list_positions(input, (cin, h, w, plane, cout), &mut scratch)?;
    let lists = Lists {
        values: scratch.values,
        offsets: scratch.offsets,
        starts: scratch.starts,
    };
    for y in 0..h {
        for x in 0..w {
            for (py, px) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                // Tap (dy, dx) reads input position (y + py + dy − 1, x + px + dx − 1).
                let taps = [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(dy, dx)| {
                    let iy = (y + py + dy).checked_sub(1).filter(|&v| v < h);
                    let ix = (x + px + dx).checked_sub(1).filter(|&v| v < w);
                    iy.zip(ix).map(|(iy, ix)| iy * w + ix)
                });
                let pixel = Pixel {
                    phase: py * 2 + px,
                    taps,
                    at: (2 * y + py) * dst.row + 2 * x + px + dst.origin,
                };
                output_pixel(folded, bias, &lists, &pixel, cout, out, dst, &act)?;
            }
        }
    }
    Ok(())
}

/// The listed non-zero inputs (see [`WindowScratch`]).
struct Lists<'a> {
    values: &'a [f32],
    offsets: &'a [f32],
    starts: &'a [f32],
}

impl Lists<'_> {
    /// The values and weight offsets of position `q`'s non-zero inputs.
    #[inline(always)]
    fn of(&self, q: usize) -> Result<(&[f32], &[f32]), ShapeMismatch> {
        let from = slot_index(*self.starts.get(q).ok_or(ShapeMismatch)?);
        let to = slot_index(*self.starts.get(q + 1).ok_or(ShapeMismatch)?);
        let values = self.values.get(from..to).ok_or(ShapeMismatch)?;
        let offsets = self.offsets.get(from..to).ok_or(ShapeMismatch)?;
        Ok((values, offsets))
    }
}

/// One output pixel: its phase, the input position each tap reads (`None`: padding), and
/// its offset in channel 0's output plane.
struct Pixel {
    phase: usize,
    taps: [Option<usize>; 4],
    at: usize,
}

/// Every output channel of one pixel, a register block at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_pixel<W: Weight>(
    folded: &[f32],
    bias: &[W],
    lists: &Lists<'_>,
    pixel: &Pixel,
    cout: usize,
    out: &mut [f32],
    dst: Planes,
    act: &impl Fn(f32) -> f32,
) -> Result<(), ShapeMismatch> {
    channel_blocks!(cout, |co, B| {
        let sums = channels::<W, B>(folded, bias, lists, pixel, (co, cout))?;
        store(out, dst, pixel.at, co, &sums, act)?
    });
    Ok(())
}

/// The sums of output channels `co .. co + B` of one pixel: from their biases, the terms of
/// every tap in tap order, each tap's in list order.
#[inline(always)]
fn channels<W: Weight, const B: usize>(
    folded: &[f32],
    bias: &[W],
    lists: &Lists<'_>,
    pixel: &Pixel,
    (co, cout): (usize, usize),
) -> Result<[f32; B], ShapeMismatch> {
    let b: &[W; B] = bias
        .get(co..co + B)
        .and_then(|b| b.try_into().ok())
        .ok_or(ShapeMismatch)?;
    let mut acc = b.map(Weight::value);
    for (t, q) in pixel.taps.iter().enumerate() {
        let Some(q) = *q else { continue };
        let (values, offsets) = lists.of(q)?;
        // The weights of input channel `ci` (offset `ci · 16 · cout`) for this phase and tap
        // start at `(ci · 16 + p · 4 + t) · cout + co`.
        let shift = ((pixel.phase * 4 + t) * cout).wrapping_add(co);
        for (&v, &offset) in values.iter().zip(offsets) {
            // Wrapping: a slot that held no valid offset lands far outside `folded`, and `get`
            // refuses it instead of an overflow panic in debug builds.
            let start = slot_index(offset).wrapping_add(shift);
            let f: &[f32; B] = folded
                .get(start..start.wrapping_add(B))
                .and_then(|f| f.try_into().ok())
                .ok_or(ShapeMismatch)?;
            multiply_add(&mut acc, f, v);
        }
    }
    Ok(acc)
}

/// Writes `act` of a block of sums to its output channels' planes.
#[inline(always)]
fn store<const B: usize>(
    out: &mut [f32],
    dst: Planes,
    at: usize,
    co: usize,
    sums: &[f32; B],
    act: &impl Fn(f32) -> f32,
) -> Result<(), ShapeMismatch> {
    for (k, &s) in sums.iter().enumerate() {
        let i = (co + k)
            .checked_mul(dst.plane)
            .and_then(|v| v.checked_add(at))
            .ok_or(ShapeMismatch)?;
        *out.get_mut(i).ok_or(ShapeMismatch)? = act(s);
    }
    Ok(())
}

/// Lists every interior input position's non-zero inputs in ascending `ci`, position
/// `y · w + x` after position, with their weight offsets `ci · 16 · cout`, and where each
/// position's list starts.
#[inline(always)]
fn list_positions(
    input: &[f32],
    (cin, h, w, plane, cout): (usize, usize, usize, usize, usize),
    scratch: &mut WindowScratch<'_>,
) -> Result<(), ShapeMismatch> {
    let wp = w + 2;
    let mut n = 0usize;
    for q in 0..h * w {
        *scratch.starts.get_mut(q).ok_or(ShapeMismatch)? = index_slot(n);
        let at = (q / w + 1) * wp + q % w + 1;
        for ci in 0..cin {
            let v = *input.get(ci * plane + at).ok_or(ShapeMismatch)?;
            // `n ≤ cin · q + ci < cin · h · w`: both lists have room.
            n = append_if_nonzero(
                scratch.values,
                scratch.offsets,
                n,
                v,
                index_slot(ci * 16 * cout),
            );
        }
    }
    *scratch.starts.get_mut(h * w).ok_or(ShapeMismatch)? = index_slot(n);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::decoder_conv2_forward::tests::run_dense;
    use super::super::folded_weights::{fold_channel_minor, fold_len, fold_phases};
    use super::super::relu::relu;
    use super::super::testutil::{assert_close, pad, Rng};
    use super::*;
    use std::vec::Vec;

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
        let (mut values, mut offsets) = (vec![0.0; cin * h * w], vec![0.0; cin * h * w]);
        let mut starts = vec![0.0; starts_len(h, w).unwrap()];
        let dst = Planes {
            plane: 4 * h * w,
            row: 2 * w,
            origin: 0,
        };
        let mut out = vec![f32::NAN; cout * 4 * h * w];
        let padded = pad(x, cin, h, w);
        let conv = WindowUpconv {
            input: &padded,
            cin,
            h,
            w,
            folded: &folded,
            bias: b,
            cout,
        };
        let scratch = WindowScratch {
            values: &mut values,
            offsets: &mut offsets,
            starts: &mut starts,
        };
        window_upconv(&conv, scratch, &mut out, dst, relu).unwrap();
        out
    }

    /// The module documentation's sum, term by term, zero and padding terms included.
    fn documented(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
    ) -> Vec<f32> {
        let mut fold = vec![0.0; fold_len(cin, cout).unwrap()];
        fold_phases(wt, &mut fold).unwrap();
        let padded = pad(x, cin, h, w);
        let (wp, plane) = (w + 2, (h + 2) * (w + 2));
        let mut out = vec![0.0; cout * 4 * h * w];
        for co in 0..cout {
            for p in 0..4 {
                let (py, px) = (p / 2, p % 2);
                for y in 0..h {
                    for xx in 0..w {
                        let mut s = b[co];
                        for t in 0..4 {
                            let (dy, dx) = (t / 2, t % 2);
                            for ci in 0..cin {
                                let f = fold[((p * cout + co) * cin + ci) * 4 + t];
                                let v = padded[ci * plane + (y + py + dy) * wp + xx + px + dx];
                                s += f * v;
                            }
                        }
                        out[(co * 2 * h + 2 * y + py) * 2 * w + 2 * xx + px] = relu(s);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn same_bits_as_the_documented_sum_and_close_to_the_dense_convolution() {
        let mut rng = Rng(29);
        for case in 0..48 {
            // Channel counts that exercise the 32-, 8- and 1-channel blocks.
            let cin = 1 + rng.below(9);
            let cout = [1 + rng.below(11), 32 + rng.below(12)][case % 2];
            let (h, w) = (1 + rng.below(7), 1 + rng.below(8));
            let share = [0.0, 0.5, 0.75, 1.0][case % 4];
            let x = rng.relu_like(cin * h * w, share);
            let wt = rng.vec(cout * cin * 9);
            let b = rng.vec(cout);
            let got = run(&x, cin, h, w, &wt, &b, cout);
            let want = documented(&x, cin, h, w, &wt, &b, cout);
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "case {case}: {cin}->{cout} at {h}x{w}");
            let dense = run_dense(&x, cin, h, w, &wt, &b, cout, relu);
            let dense: Vec<f64> = dense.iter().map(|&v| f64::from(v)).collect();
            assert_close(&got, &dense, 1e-5);
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
        let attempt = |input: &[f32], folded: &[f32], list: usize, starts: usize, out: usize| {
            let conv = WindowUpconv {
                input,
                cin,
                h,
                w,
                folded,
                bias: &bias,
                cout,
            };
            let (mut values, mut offsets) = (vec![0.0; list], vec![0.0; list]);
            let mut starts = vec![0.0; starts];
            let scratch = WindowScratch {
                values: &mut values,
                offsets: &mut offsets,
                starts: &mut starts,
            };
            window_upconv(&conv, scratch, &mut vec![0.0; out], dst, relu)
        };
        let (list, starts, out) = (cin * h * w, h * w + 1, cout * 16);
        assert!(attempt(&input, &folded, list, starts, out).is_ok());
        assert!(attempt(&input[1..], &folded, list, starts, out).is_err());
        assert!(attempt(&input, &folded[1..], list, starts, out).is_err());
        assert!(attempt(&input, &folded, list - 1, starts, out).is_err());
        assert!(attempt(&input, &folded, list, starts - 1, out).is_err());
        assert!(attempt(&input, &folded, list, starts, out - 1).is_err());
    }
}
