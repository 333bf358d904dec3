//! The input gradient of the decoder's second upsampling convolution, masked by the ReLU in
//! front of it and written straight into the phase grid that decoder conv1's input gradient
//! ([`super::active_grad`]) reads.
//!
//! [`super::phases`] defines the sum: the gradient at input pixel `(y, x)` of channel `ci` is
//! `Σ_{q, r, c ascending} k[ci][q][r][c] · G[q][y + r][x + c]`, from `+0.0`, over the phase
//! planes `G` (plane `q = p · cout + co`, [`super::phases::scatter_phases`]) with the
//! tap-reversed kernel ([`super::phases::reverse_taps_into`]). This kernel computes exactly
//! that sum for a block of input channels at once — each input pixel's sums in registers,
//! the kernel stored with the input channel innermost so that every term is one contiguous
//! multiply-add — then keeps `ci`'s value where the ReLU output `saved[ci][y][x]` is
//! positive (`+0.0` elsewhere) and stores it at its place in the phase grid of
//! [`super::active_grad`]: pixel `(y, x)` of the `h × w` map is cell
//! `(y / 2 + y % 2, x / 2 + x % 2)` of phase `2 · (y % 2) + x % 2`, channel innermost.

use super::active_grad::phase_grid_len;
use super::phases::reverse_taps_into;
use super::{channel_blocks, multiply_add, ShapeMismatch};

/// Rearranges the phase-major folded kernels `fold[p][cout][cin][4]` (as
/// [`super::upconv::fold_phases`] writes them) into `out[(p · cout + co) · 4 + t][ci] =
/// fold[p][co][ci][3 − t]`: each 2×2 kernel tap-reversed, the input channel innermost.
pub(crate) fn transpose_fold_channel_minor(
    fold: &[f32],
    cin: usize,
    cout: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    reverse_taps_into(fold, cin, cout, out, |ci, q, t| (q * 4 + t) * cin + ci)
}

/// The operands of one masked input gradient.
pub(crate) struct GridGrad<'a> {
    /// The output gradient (of the `2h × 2w` output) as `4 · cout` phase planes of
    /// `(h + 2) × (w + 2)`, as [`super::phases::scatter_phases`] writes them.
    pub grad: &'a [f32],
    /// The kernel from [`transpose_fold_channel_minor`].
    pub kernel: &'a [f32],
    /// The forward ReLU output (the convolution's input), zero-padded `[cin][h + 2][w + 2]`.
    pub saved: &'a [f32],
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Input height (even).
    pub h: usize,
    /// Input width (even).
    pub w: usize,
}

/// Writes the masked input gradient into the phase grid `out` of `cin` maps of
/// `(h / 2) × (w / 2)` ([`phase_grid_len`] values; every cell no pixel maps to is `+0.0`).
#[inline(always)]
pub(crate) fn grid_grad(op: &GridGrad<'_>, out: &mut [f32]) -> Result<(), ShapeMismatch> {
    let &GridGrad {
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
    let grid_len = phase_grid_len(cin, h / 2, w / 2);
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
    use super::super::conv3x3::tests::pad;
    use super::super::testutil::{assert_close, Rng};
    use super::super::upconv::{fold_len, fold_phases};
    use super::*;
    use std::vec::Vec;

    /// f64 reference: the input gradient of "upsample 2×, conv 3×3 (zero padding 1)" on a
    /// `cin × h × w` input for output gradient `go` (`cout × 2h × 2w`), by the chain rule on
    /// the explicit upsampled image.
    fn reference(go: &[f32], cin: usize, h: usize, w: usize, wt: &[f32], cout: usize) -> Vec<f64> {
        let (hh, ww) = (2 * h, 2 * w);
        let mut gin = vec![0.0f64; cin * h * w];
        for co in 0..cout {
            for yy in 0..hh {
                for xx in 0..ww {
                    let g = go[(co * hh + yy) * ww + xx] as f64;
                    for ci in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (uy, ux) = (yy as isize + ky - 1, xx as isize + kx - 1);
                                if uy < 0 || ux < 0 || uy >= hh as isize || ux >= ww as isize {
                                    continue;
                                }
                                let wv = wt[((co * cin + ci) * 3 + ky as usize) * 3 + kx as usize];
                                gin[(ci * h + uy as usize / 2) * w + ux as usize / 2] +=
                                    wv as f64 * g;
                            }
                        }
                    }
                }
            }
        }
        gin
    }

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

    /// `go` (`cout × 2h × 2w`) as the phase planes of [`super::super::phases::scatter_phases`].
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
            let op = GridGrad {
                grad: &planes,
                kernel: &kernel,
                saved: &saved_pad,
                cin,
                cout,
                h,
                w,
            };
            let mut grid = vec![f32::NAN; phase_grid_len(cin, h / 2, w / 2).unwrap()];
            grid_grad(&op, &mut grid).unwrap();

            let exact = documented(&go, cin, h, w, &fold, cout);
            let close = reference(&go, cin, h, w, &wt, cout);
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
        let n = phase_grid_len(cin, h / 2, w / 2).unwrap();
        let attempt = |grad: &[f32], kernel: &[f32], saved: &[f32], h: usize, out: usize| {
            let op = GridGrad {
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
