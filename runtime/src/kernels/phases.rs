//! The backward pass of the decoder's upsampling convolutions ([`super::upconv`]), on the
//! same flat correlation engine ([`super::flat`]).
//!
//! Forward, output pixel `(2y + py, 2x + px)` of channel `co` is
//! `b + Σ_ci Σ_dy Σ_dx f[p][co][ci][dy][dx] · in[ci][y + py + dy − 1][x + px + dx − 1]`
//! (unpadded input coordinates, `p = 2·py + px`). Hence the gradient with respect to input
//! pixel `(y, x)` of channel `ci` is a sum over the four phases, the output channels and the
//! four taps of `f[p][co][ci][dy][dx] · G_p[co][y + 1 − py − dy][x + 1 − px − dx]`, where
//! `G_p[co][y'][x']` is the output gradient at `(2y' + py, 2x' + px)` (zero outside the map).
//!
//! [`scatter_phases`] stores `G_p` in `(h + 2) × (w + 2)` planes, value `(y', x')` at
//! `(y' + py, x' + px)` and zero elsewhere; then for every phase the two rows read for input
//! row `y` are plane rows `y` and `y + 1` (`dy = 1`, `dy = 0`), and likewise for columns. So
//! the input gradient is one 2×2 correlation over `4·cout` input planes (plane `p·cout + co`)
//! with the kernel `k[ci][p·cout + co][r][c] = f[p][co][ci][1 − r][1 − c]` built by
//! [`transpose_fold`], summed from `+0.0` in ascending `(p, co, r, c)` order — that is,
//! ascending phase, output channel, then `dy` and `dx` **descending** — zero taps included.

use super::{ShapeMismatch, Weight};

/// Rearranges the phase-major folded kernels `fold[p][cout][cin][4]` (as
/// [`super::upconv::fold_phases`] writes them) into the backward kernels
/// `out[cin][p][cout][4]` with each 2×2 tap block reversed (`out[…][k] = fold[…][3 − k]`).
pub(crate) fn transpose_fold(
    fold: &[f32],
    cin: usize,
    cout: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    reverse_taps_into(fold, cin, cout, out, |ci, q, t| (ci * 4 * cout + q) * 4 + t)
}

/// Writes every 2×2 kernel of the phase-major `fold[p][cout][cin][4]` with its taps reversed:
/// `out[place(ci, q, t)] = fold[p][co][ci][3 − t]` for output plane `q = p · cout + co`.
pub(crate) fn reverse_taps_into(
    fold: &[f32],
    cin: usize,
    cout: usize,
    out: &mut [f32],
    place: impl Fn(usize, usize, usize) -> usize,
) -> Result<(), ShapeMismatch> {
    let n = cin
        .checked_mul(cout)
        .and_then(|v| v.checked_mul(16))
        .ok_or(ShapeMismatch)?;
    if cin == 0 {
        return Ok(());
    }
    let (src, _) = fold.get(..n).ok_or(ShapeMismatch)?.as_chunks::<4>();
    let out = out.get_mut(..n).ok_or(ShapeMismatch)?;
    // `src[q · cin + ci]` is the kernel of output plane `q` for input channel `ci`.
    for (i, taps) in src.iter().enumerate() {
        let (q, ci) = (i / cin, i % cin);
        for (t, &v) in taps.iter().rev().enumerate() {
            *out.get_mut(place(ci, q, t)).ok_or(ShapeMismatch)? = v;
        }
    }
    Ok(())
}

/// Length of the phase planes of `channels` maps of `h × w` (phase resolution).
pub(crate) fn phases_len(channels: usize, h: usize, w: usize) -> Option<usize> {
    channels
        .checked_mul(4)?
        .checked_mul(h.checked_add(2)?)?
        .checked_mul(w.checked_add(2)?)
}

/// A full-resolution gradient map, read one row at a time.
pub(crate) trait GradRows {
    /// Writes row `yy` of channel `ch` (`2w` values): even columns to `even`, odd columns
    /// to `odd` (`w` each).
    fn row(
        &self,
        ch: usize,
        yy: usize,
        even: &mut [f32],
        odd: &mut [f32],
    ) -> Result<(), ShapeMismatch>;
}

/// Writes the `channels × 2h × 2w` gradient `src` into phase planes (module documentation):
/// plane `p · channels + ch` of `(h + 2) × (w + 2)`, value `(Y, X)` at
/// `(Y / 2 + py, X / 2 + px)`; every other element of the `4 · channels` planes becomes
/// `+0.0`.
#[inline(always)]
pub(crate) fn scatter_phases(
    channels: usize,
    h: usize,
    w: usize,
    dst: &mut [f32],
    src: &impl GradRows,
) -> Result<(), ShapeMismatch> {
    let n = phases_len(channels, h, w).ok_or(ShapeMismatch)?;
    let dst = dst.get_mut(..n).ok_or(ShapeMismatch)?;
    dst.fill(0.0);
    let (wp, plane) = (w + 2, (h + 2) * (w + 2));
    for ch in 0..channels {
        for yy in 0..2 * h {
            let py = yy % 2;
            let at = |px: usize| ((py * 2 + px) * channels + ch) * plane + (yy / 2 + py) * wp + px;
            // Phase (py, 0) precedes phase (py, 1) by `channels` planes.
            let (first, second) = dst.split_at_mut_checked(at(1)).ok_or(ShapeMismatch)?;
            let even = first.get_mut(at(0)..at(0) + w).ok_or(ShapeMismatch)?;
            let odd = second.get_mut(..w).ok_or(ShapeMismatch)?;
            src.row(ch, yy, even, odd)?;
        }
    }
    Ok(())
}

/// `∂L/∂o` at the decoder's output pre-activation: with `r = sigmoid(o)` and
/// `L = Σ (x − r)²`, `∂L/∂o = (e + e) · (r · (1 − r))`, `e = r − x`; `recon` and `image`
/// are dense `[C][2h][2w]`.
pub(crate) struct OutputGrad<'a, W> {
    /// The reconstruction `r`.
    pub recon: &'a [f32],
    /// The input `x`.
    pub image: &'a [W],
    /// Full-resolution width `2w`.
    pub width: usize,
    /// Full-resolution height `2h`.
    pub height: usize,
}

impl<W: Weight> GradRows for OutputGrad<'_, W> {
    #[inline(always)]
    fn row(
        &self,
        ch: usize,
        yy: usize,
        even: &mut [f32],
        odd: &mut [f32],
    ) -> Result<(), ShapeMismatch> {
        let start = (ch * self.height + yy) * self.width;
        let r = self
            .recon
            .get(start..start + self.width)
            .ok_or(ShapeMismatch)?;
        let x = self
            .image
            .get(start..start + self.width)
            .ok_or(ShapeMismatch)?;
        let (r2, _) = r.as_chunks::<2>();
        let (x2, _) = x.as_chunks::<2>();
        for (((e, o), r), x) in even.iter_mut().zip(odd.iter_mut()).zip(r2).zip(x2) {
            *e = sigmoid_sq_error_grad(r[0], x[0]);
            *o = sigmoid_sq_error_grad(r[1], x[1]);
        }
        Ok(())
    }
}

/// A gradient in flat conv output planes (`C × 2h × (2w + 2)`, see [`super::conv3x3`]), kept
/// where the ReLU output saved in zero-padded planes (`C × (2h + 2) × (2w + 2)`) is positive
/// and `+0.0` elsewhere.
pub(crate) struct MaskedGrad<'a> {
    /// The gradient.
    pub grad: &'a [f32],
    /// The saved ReLU output.
    pub saved: &'a [f32],
    /// Full-resolution width `2w`.
    pub width: usize,
    /// Full-resolution height `2h`.
    pub height: usize,
}

impl MaskedGrad<'_> {
    /// Writes the masked gradient of the `out.len()` consecutive pixels of row `yy` of channel
    /// `ch` that start at column `x0`.
    #[inline(always)]
    pub(crate) fn values(
        &self,
        ch: usize,
        yy: usize,
        x0: usize,
        out: &mut [f32],
    ) -> Result<(), ShapeMismatch> {
        if x0.checked_add(out.len()).is_none_or(|end| end > self.width) {
            return Err(ShapeMismatch);
        }
        let wp = self.width + 2;
        let g0 = (ch * self.height + yy) * wp + x0;
        let s0 = (ch * (self.height + 2) + yy + 1) * wp + 1 + x0;
        let g = self.grad.get(g0..g0 + out.len()).ok_or(ShapeMismatch)?;
        let m = self.saved.get(s0..s0 + out.len()).ok_or(ShapeMismatch)?;
        for ((o, &g), &m) in out.iter_mut().zip(g).zip(m) {
            *o = if m > 0.0 { g } else { 0.0 };
        }
        Ok(())
    }
}

/// `∂L/∂o` for one pixel (see [`OutputGrad`]).
#[inline(always)]
pub(crate) fn sigmoid_sq_error_grad<W: Weight>(r: f32, x: W) -> f32 {
    let e = r - x.value();
    (e + e) * (r * (1.0 - r))
}

#[cfg(test)]
mod tests {
    use super::super::flat::{correlate, FlatConv, DEC_CO, DEC_P};
    use super::super::testutil::{assert_close, Rng};
    use super::super::upconv::{fold_len, fold_phases};
    use super::*;
    use std::vec::Vec;

    /// `grad` (flat conv output planes, `channels × h × (w + 2)`) at `(ch, y, x)`, kept where
    /// the ReLU output saved in zero-padded planes (`channels × (h + 2) × (w + 2)`) is positive,
    /// `+0.0` elsewhere.
    fn relu_masked(
        grad: &[f32],
        saved: &[f32],
        h: usize,
        w: usize,
        (ch, y, x): (usize, usize, usize),
    ) -> Result<f32, ShapeMismatch> {
        let wp = w + 2;
        let s = *saved
            .get((ch * (h + 2) + y + 1) * wp + x + 1)
            .ok_or(ShapeMismatch)?;
        let g = *grad.get((ch * h + y) * wp + x).ok_or(ShapeMismatch)?;
        Ok(if s > 0.0 { g } else { 0.0 })
    }

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

    #[test]
    fn input_gradient_matches_reference_and_documented_order() {
        let mut rng = Rng(41);
        for _ in 0..25 {
            let (cin, cout) = (1 + rng.below(9), 1 + rng.below(6));
            let (h, w) = (1 + rng.below(6), 1 + rng.below(8));
            let wt = rng.vec(cout * cin * 9);
            let go = rng.vec(cout * 4 * h * w);
            let mut fold = vec![0.0; fold_len(cin, cout).unwrap()];
            fold_phases(&wt, &mut fold).unwrap();
            let mut k = vec![0.0; fold.len()];
            transpose_fold(&fold, cin, cout, &mut k).unwrap();
            let mut planes = vec![f32::NAN; phases_len(cout, h, w).unwrap()];
            scatter_phases(
                cout,
                h,
                w,
                &mut planes,
                &Dense {
                    values: &go,
                    width: 2 * w,
                    height: 2 * h,
                },
            )
            .unwrap();
            let wp = w + 2;
            let g = FlatConv {
                cin: 4 * cout,
                cout: cin,
                in_plane: (h + 2) * wp,
                out_plane: h * wp,
                n_out: (h - 1) * wp + w,
            };
            let zeros = vec![0.0f32; cin];
            let mut out = vec![f32::NAN; cin * h * wp];
            correlate::<f32, f32, 2, 2, 4, DEC_CO, DEC_P>(
                &planes,
                &[0, wp],
                &k,
                &zeros,
                &mut out,
                &g,
            )
            .unwrap();
            let got: Vec<f32> = (0..cin * h * w)
                .map(|i| out[(i / w) * wp + i % w])
                .collect();
            assert_close(&got, &reference(&go, cin, h, w, &wt, cout), 1e-5);
            let exact = documented(&go, cin, h, w, &fold, cout);
            assert!(got
                .iter()
                .zip(&exact)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        let fold = vec![0.0; 2 * 3 * 16];
        let mut k = vec![0.0; 2 * 3 * 16];
        assert!(transpose_fold(&fold, 2, 3, &mut k).is_ok());
        assert!(transpose_fold(&fold[1..], 2, 3, &mut k).is_err());
        assert!(transpose_fold(&fold, 2, 3, &mut k[1..]).is_err());
        let mut planes = vec![0.0; phases_len(2, 3, 3).unwrap()];
        let ones = vec![1.0; 2 * 6 * 6];
        let src = Dense {
            values: &ones,
            width: 6,
            height: 6,
        };
        assert!(scatter_phases(2, 3, 3, &mut planes, &src).is_ok());
        assert!(scatter_phases(2, 3, 3, &mut planes[1..], &src).is_err());
        let short = Dense {
            values: &ones[1..],
            width: 6,
            height: 6,
        };
        assert!(scatter_phases(2, 3, 3, &mut planes, &short).is_err());
    }

    #[test]
    fn row_sources_match_their_pixel_definitions() {
        let mut rng = Rng(43);
        let (c, h, w) = (3, 4, 5);
        let (hh, ww) = (2 * h, 2 * w);
        let recon: Vec<f32> = rng.vec(c * hh * ww).iter().map(|v| v.abs()).collect();
        let image: Vec<f32> = rng.vec(c * hh * ww).iter().map(|v| v.abs()).collect();
        let grad = rng.vec(c * hh * (ww + 2));
        let saved = rng.vec(c * (hh + 2) * (ww + 2));
        let mut a = vec![0.0; phases_len(c, h, w).unwrap()];
        let mut b = a.clone();
        scatter_phases(
            c,
            h,
            w,
            &mut a,
            &OutputGrad {
                recon: &recon,
                image: &image,
                width: ww,
                height: hh,
            },
        )
        .unwrap();
        let direct: Vec<f32> = (0..c * hh * ww)
            .map(|i| sigmoid_sq_error_grad(recon[i], image[i]))
            .collect();
        scatter_phases(
            c,
            h,
            w,
            &mut b,
            &Dense {
                values: &direct,
                width: ww,
                height: hh,
            },
        )
        .unwrap();
        assert_eq!(a, b);
        let masked = MaskedGrad {
            grad: &grad,
            saved: &saved,
            width: ww,
            height: hh,
        };
        for ch in 0..c {
            for yy in 0..hh {
                for x0 in 0..ww {
                    let mut got = vec![f32::NAN; ww - x0];
                    masked.values(ch, yy, x0, &mut got).unwrap();
                    for (k, g) in got.iter().enumerate() {
                        let want = relu_masked(&grad, &saved, hh, ww, (ch, yy, x0 + k)).unwrap();
                        assert_eq!(g.to_bits(), want.to_bits());
                    }
                }
            }
        }
        assert!(masked.values(0, 0, 1, &mut vec![0.0; ww]).is_err());
    }

    /// A dense `[C][2h][2w]` map.
    struct Dense<'a> {
        values: &'a [f32],
        width: usize,
        height: usize,
    }

    impl GradRows for Dense<'_> {
        fn row(
            &self,
            ch: usize,
            yy: usize,
            even: &mut [f32],
            odd: &mut [f32],
        ) -> Result<(), ShapeMismatch> {
            let start = (ch * self.height + yy) * self.width;
            let r = self
                .values
                .get(start..start + self.width)
                .ok_or(ShapeMismatch)?;
            for (x, &v) in r.iter().enumerate() {
                if x % 2 == 0 {
                    even[x / 2] = v
                } else {
                    odd[x / 2] = v
                }
            }
            Ok(())
        }
    }
}
