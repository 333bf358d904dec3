//! Decoder conv2's input gradient (reclassification's backward pass), masked by the ReLU in
//! front of it — decoder conv1's — and written straight into the phase grid that decoder
//! conv1's input gradient ([`super::decoder_conv1_input_grad`]) reads.
//!
//! Forward ([`super::decoder_conv2_forward`]), output pixel `(2y + py, 2x + px)` of channel
//! `co` is `b + Σ_ci Σ_dy Σ_dx f[p][co][ci][dy][dx] · in[ci][y + py + dy − 1][x + px + dx − 1]`
//! (unpadded input coordinates, `p = 2·py + px`). Hence the gradient with respect to input
//! pixel `(y, x)` of channel `ci` is a sum over the four phases, the output channels and the
//! four taps of `f[p][co][ci][dy][dx] · G_p[co][y + 1 − py − dy][x + 1 − px − dx]`, where
//! `G_p[co][y'][x']` is the output gradient at `(2y' + py, 2x' + px)` (zero outside the map).
//!
//! The output gradient arrives as *phase planes* ([`super::reconstruction_error_grad`] writes
//! them): `G_p` in `(h + 2) × (w + 2)` planes (plane `q = p · cout + co`), value `(y', x')`
//! at `(y' + py, x' + px)` and zero elsewhere. Then for every phase the two rows read for
//! input row `y` are plane rows `y` and `y + 1` (`dy = 1`, `dy = 0`), and likewise for
//! columns. So the input gradient is one 2×2 correlation over the `4·cout` planes with the
//! kernel `k[ci][q][r][c] = f[p][co][ci][1 − r][1 − c]` (the taps reversed,
//! [`super::folded_weights::transpose_fold_channel_minor`]):
//! `Σ_{q, r, c ascending} k[ci][q][r][c] · G[q][y + r][x + c]`, from `+0.0` — that is,
//! ascending phase, output channel, then `dy` and `dx` **descending** — zero taps included.
//!
//! This kernel computes exactly that sum for a block of input channels at once — each input
//! pixel's sums in registers, the kernel stored with the input channel innermost so that
//! every term is one contiguous multiply-add — then keeps `ci`'s value where the ReLU output
//! `saved[ci][y][x]` is positive (`+0.0` elsewhere) and stores it at its place in the phase
//! grid of [`super::decoder_conv1_input_grad`]: pixel `(y, x)` of the `h × w` map is cell
//! `(y / 2 + y % 2, x / 2 + x % 2)` of phase `2 · (y % 2) + x % 2`, channel innermost.

use super::{channel_blocks, multiply_add, phase_planes_len, MaskedInputGrad, ShapeMismatch};

/// Writes the masked input gradient into the phase grid `out` of `cin` maps of
/// `(h / 2) × (w / 2)` ([`phase_planes_len`] values; every cell no pixel maps to is `+0.0`).
/// `op.grad` holds the `4 · cout` phase planes of the output gradient (of the `2h × 2w`
/// output), `op.kernel` the tap-reversed folded kernel (module documentation); `h`, `w` are
/// even.
#[inline(always)]
pub(crate) fn grid_grad(op: &MaskedInputGrad<'_>, out: &mut [f32]) -> Result<(), ShapeMismatch> {
    let &MaskedInputGrad {
        grad,
        kernel,
        saved,
        cin,
        cout,
        h,
        w,
    } = op;
    let (wp, hp) = (
        w.checked_add(2).ok_or(ShapeMismatch)?,
        h.checked_add(2).ok_or(ShapeMismatch)?,
    );
    let plane = hp.checked_mul(wp).ok_or(ShapeMismatch)?;
    let planes = cout.checked_mul(4).ok_or(ShapeMismatch)?;
    let grid_len = phase_planes_len(cin, h / 2, w / 2);
    let shapes_ok = h % 2 == 0
        && w % 2 == 0
        && planes.checked_mul(plane) == Some(grad.len())
        && planes.checked_mul(4).and_then(|t| t.checked_mul(cin)) == Some(kernel.len())
        && plane.checked_mul(cin) == Some(saved.len())
        && grid_len.is_some_and(|n| n <= out.len());
    if !shapes_ok {
        return Err(ShapeMismatch);
    }
    let out = out
        .get_mut(..grid_len.ok_or(ShapeMismatch)?)
        .ok_or(ShapeMismatch)?;
    out.fill(0.0);
    let (gw, gh) = (w / 2 + 2, h / 2 + 2);
    for y in 0..h {
        for x in 0..w {
            let phase = (y % 2) * 2 + x % 2;
            let cell = (phase * gh + y / 2 + y % 2) * gw + x / 2 + x % 2;
            let pixel = Pixel {
                at: y * wp + x,
                mask: (y + 1) * wp + x + 1,
                cell: cell * cin,
            };
            let geometry = (plane, wp, planes, cin);
            channel_blocks!(cin, |ci, B| {
                channels::<B>(grad, kernel, saved, geometry, &pixel, ci, out)?
            });
        }
    }
    Ok(())
}

/// One input pixel: its first gradient tap in a phase plane, its place in a padded input
/// plane, and its first value in the grid.
struct Pixel {
    at: usize,
    mask: usize,
    cell: usize,
}

/// Input channels `ci0 .. ci0 + B` of one pixel: the sums, masked, into the grid.
#[inline(always)]
fn channels<const B: usize>(
    grad: &[f32],
    kernel: &[f32],
    saved: &[f32],
    (plane, wp, planes, cin): (usize, usize, usize, usize),
    pixel: &Pixel,
    ci0: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let sums = sums::<B>(grad, kernel, (plane, wp, planes, cin), pixel.at, ci0)?;
    let dst: &mut [f32; B] = out
        .get_mut(pixel.cell + ci0..pixel.cell + ci0 + B)
        .and_then(|d| d.try_into().ok())
        .ok_or(ShapeMismatch)?;
    for (k, (d, s)) in dst.iter_mut().zip(sums).enumerate() {
        let on = *saved
            .get((ci0 + k) * plane + pixel.mask)
            .ok_or(ShapeMismatch)?
            > 0.0;
        *d = if on { s } else { 0.0 };
    }
    Ok(())
}

/// The sums of input channels `ci0 .. ci0 + B` at flat position `at`, in registers.
#[inline(always)]
fn sums<const B: usize>(
    grad: &[f32],
    kernel: &[f32],
    (plane, wp, planes, cin): (usize, usize, usize, usize),
    at: usize,
    ci0: usize,
) -> Result<[f32; B], ShapeMismatch> {
    let mut acc = [0.0f32; B];
    for q in 0..planes {
        // The four taps of plane `q`: rows `at` and `at + wp`, two values each.
        let top = q * plane + at;
        let upper: &[f32; 2] = grad
            .get(top..top + 2)
            .and_then(|g| g.try_into().ok())
            .ok_or(ShapeMismatch)?;
        let lower: &[f32; 2] = grad
            .get(top + wp..top + wp + 2)
            .and_then(|g| g.try_into().ok())
            .ok_or(ShapeMismatch)?;
        let ([g0, g1], [g2, g3]) = (*upper, *lower);
        for (t, g) in [g0, g1, g2, g3].into_iter().enumerate() {
            let start = (q * 4 + t) * cin + ci0;
            let k: &[f32; B] = kernel
                .get(start..start + B)
                .and_then(|k| k.try_into().ok())
                .ok_or(ShapeMismatch)?;
            multiply_add(&mut acc, k, g);
        }
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::super::folded_weights::{fold_len, fold_phases, transpose_fold_channel_minor};
    use super::super::reference::upsample_conv3x3_input_grad;
    use super::super::testutil::{assert_close, pad, Rng};
    use super::*;
    use std::vec::Vec;

    /// Scalar f32 version of the documented order.
    fn documented(
        go: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        fold: &[f32],
        cout: usize,
    ) -> Vec<f32> {
        let mut out = vec![0.0f32; cin * h * w];
        for ci in 0..cin {
            for y in 0..h {
                for x in 0..w {
                    let mut s = 0.0f32;
                    for p in 0..4 {
                        let (py, px) = (p / 2, p % 2);
                        for co in 0..cout {
                            for dy in (0..2).rev() {
                                for dx in (0..2).rev() {
                                    let f = fold[((p * cout + co) * cin + ci) * 4 + dy * 2 + dx];
                                    let (yo, xo) = (
                                        y as isize + 1 - py as isize - dy as isize,
                                        x as isize + 1 - px as isize - dx as isize,
                                    );
                                    let g =
                                        if yo < 0 || xo < 0 || yo >= h as isize || xo >= w as isize
                                        {
                                            0.0
                                        } else {
                                            go[(co * 2 * h + 2 * yo as usize + py) * 2 * w
                                                + 2 * xo as usize
                                                + px]
                                        };
                                    s += f * g;
                                }
                            }
                        }
                    }
                    out[(ci * h + y) * w + x] = s;
                }
            }
        }
        out
    }

    /// `go` (`cout × 2h × 2w`) as the phase planes of
    /// [`super::super::reconstruction_error_grad::scatter_phases`].
    fn phase_planes(go: &[f32], cout: usize, h: usize, w: usize) -> Vec<f32> {
        let (wp, plane) = (w + 2, (h + 2) * (w + 2));
        let mut planes = vec![0.0; 4 * cout * plane];
        for co in 0..cout {
            for yy in 0..2 * h {
                for xx in 0..2 * w {
                    let (py, px) = (yy % 2, xx % 2);
                    let q = (py * 2 + px) * cout + co;
                    planes[q * plane + (yy / 2 + py) * wp + xx / 2 + px] =
                        go[(co * 2 * h + yy) * 2 * w + xx];
                }
            }
        }
        planes
    }

    /// Where input pixel `(ci, y, x)` of an `h × w` map lands in the phase grid.
    fn grid_index(cin: usize, h: usize, w: usize, (ci, y, x): (usize, usize, usize)) -> usize {
        let p = (y % 2) * 2 + x % 2;
        ((p * (h / 2 + 2) + y / 2 + y % 2) * (w / 2 + 2) + x / 2 + x % 2) * cin + ci
    }

    #[test]
    fn matches_the_chain_rule_and_the_documented_order_where_active() {
        let mut rng = Rng(41);
        for case in 0..30 {
            // Channel counts that exercise the 32-, 8- and 1-channel blocks.
            let cin = [1 + rng.below(9), 32 + rng.below(12)][case % 2];
            let cout = 1 + rng.below(3);
            let (h, w) = (2 * (1 + rng.below(4)), 2 * (1 + rng.below(4)));
            let wt = rng.vec(cout * cin * 9);
            let go = rng.vec(cout * 4 * h * w);
            let saved: Vec<f32> = rng.vec(cin * h * w);
            let mut fold = vec![0.0; fold_len(cin, cout).unwrap()];
            fold_phases(&wt, &mut fold).unwrap();
            let mut kernel = vec![f32::NAN; fold.len()];
            transpose_fold_channel_minor(&fold, cin, cout, &mut kernel).unwrap();
            let saved_pad = pad(&saved, cin, h, w);
            let planes = phase_planes(&go, cout, h, w);
            let op = MaskedInputGrad {
                grad: &planes,
                kernel: &kernel,
                saved: &saved_pad,
                cin,
                cout,
                h,
                w,
            };
            let mut grid = vec![f32::NAN; phase_planes_len(cin, h / 2, w / 2).unwrap()];
            grid_grad(&op, &mut grid).unwrap();

            let exact = documented(&go, cin, h, w, &fold, cout);
            let close = upsample_conv3x3_input_grad(&go, cin, h, w, &wt, cout);
            let mut want_grid = vec![0.0f32; grid.len()];
            let (mut got, mut want) = (Vec::new(), Vec::new());
            for ci in 0..cin {
                for y in 0..h {
                    for x in 0..w {
                        let i = (ci * h + y) * w + x;
                        let on = saved[i] > 0.0;
                        want_grid[grid_index(cin, h, w, (ci, y, x))] =
                            if on { exact[i] } else { 0.0 };
                        got.push(grid[grid_index(cin, h, w, (ci, y, x))]);
                        want.push(if on { close[i] } else { 0.0 });
                    }
                }
            }
            assert!(
                grid.iter()
                    .zip(&want_grid)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "case {case}: {cin}<-{cout} at {h}x{w}"
            );
            assert_close(&got, &want, 1e-5);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let (cin, cout, h, w) = (3, 1, 2, 4);
        let grad = vec![0.0; 4 * cout * (h + 2) * (w + 2)];
        let kernel = vec![0.0; 16 * cout * cin];
        let saved = vec![0.0; cin * (h + 2) * (w + 2)];
        let n = phase_planes_len(cin, h / 2, w / 2).unwrap();
        let attempt = |grad: &[f32], kernel: &[f32], saved: &[f32], h: usize, out: usize| {
            let op = MaskedInputGrad {
                grad,
                kernel,
                saved,
                cin,
                cout,
                h,
                w,
            };
            grid_grad(&op, &mut vec![0.0; out])
        };
        assert!(attempt(&grad, &kernel, &saved, h, n).is_ok());
        assert!(attempt(&grad[1..], &kernel, &saved, h, n).is_err());
        assert!(attempt(&grad, &kernel[1..], &saved, h, n).is_err());
        assert!(attempt(&grad, &kernel, &saved[1..], h, n).is_err());
        assert!(attempt(&grad, &kernel, &saved, h, n - 1).is_err());
        // Odd sizes have no phase grid.
        let odd_grad = vec![0.0; 4 * cout * (h + 3) * (w + 2)];
        let odd_saved = vec![0.0; cin * (h + 3) * (w + 2)];
        assert!(attempt(&odd_grad, &kernel, &odd_saved, h + 1, n).is_err());
    }
}
