//! Nearest-neighbour 2× upsampling followed by a same-size 3×3 cross-correlation (zero
//! padding 1): the decoder's two convolutions, computed without materialising the upsampled
//! image.
//!
//! Output pixel `(2y + py, 2x + px)` (phase `py, px ∈ {0, 1}`) of the upsampled convolution
//! reads upsampled rows `2y + py − 1 ..= 2y + py + 1`, which are input rows
//! `y − 1, y, y` (`py = 0`) or `y, y, y + 1` (`py = 1`), and likewise for columns; the
//! upsampled image's zero padding is exactly the input's zero padding. So each phase is a 2×2
//! correlation over the zero-padded input whose taps are sums of the original taps:
//!
//! ```text
//! groups(0) = [{0}, {1, 2}]      groups(1) = [{0, 1}, {2}]
//! f[py,px][co][ci][dy][dx] = Σ_{ky ∈ groups(py)[dy]} ( Σ_{kx ∈ groups(px)[dx]} w[co][ci][ky][kx] )
//! ```
//!
//! with both sums taken left to right in ascending order (a 2×2 group is
//! `(w[a][c] + w[a][d]) + (w[b][c] + w[b][d])`). This is exact in real arithmetic; in `f32`
//! the folded weights are rounded once per add. Then, in padded input coordinates,
//!
//! ```text
//! out[co][2y+py][2x+px] = act( bias[co] + Σ_{ci} Σ_{dy} Σ_{dx} f[py,px][co][ci][dy][dx] · in[ci][y+py+dy][x+px+dx] )
//! ```
//!
//! summed in ascending `(ci, dy, dx)` order by [`super::flat`]. All four folded kernels are
//! computed first into `fold` (`4 · cout · cin · 4` values, phase-major), in one pass over the
//! original weights; then the phases (0,0), (0,1), (1,0), (1,1) are each correlated into
//! `tmp` (`cout` planes of `h × (w + 2)`) and scattered to the output through `act`.

use super::flat::{correlate, FlatConv, DEC_CO, DEC_P};
use super::{Planes, ShapeMismatch, Weight};

/// Folded-weight length for all four phases.
pub(crate) fn fold_len(cin: usize, cout: usize) -> Option<usize> {
    cin.checked_mul(cout)?.checked_mul(16)
}

/// Folds the `[cout][cin][3][3]` weights into the four phase kernels, stored phase-major:
/// `folded[((py · 2 + px) · cout · cin + co · cin + ci) · 4 + dy · 2 + dx]`.
#[inline(always)]
pub(crate) fn fold_phases<W: Weight>(
    weights: &[W],
    folded: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let (src, rest) = weights.as_chunks::<9>();
    let n = src.len();
    let (dst, _) = folded
        .get_mut(..n.checked_mul(16).ok_or(ShapeMismatch)?)
        .ok_or(ShapeMismatch)?
        .as_chunks_mut::<4>();
    if !rest.is_empty() {
        return Err(ShapeMismatch);
    }
    let (p00, dst) = dst.split_at_mut_checked(n).ok_or(ShapeMismatch)?;
    let (p01, dst) = dst.split_at_mut_checked(n).ok_or(ShapeMismatch)?;
    let (p10, p11) = dst.split_at_mut_checked(n).ok_or(ShapeMismatch)?;
    let phases = p00
        .iter_mut()
        .zip(p01.iter_mut())
        .zip(p10.iter_mut().zip(p11.iter_mut()));
    for (((f00, f01), (f10, f11)), w) in phases.zip(src) {
        [*f00, *f01, *f10, *f11] = fold_kernel(w);
    }
    Ok(())
}

/// One `3 × 3` kernel folded into the four phase kernels `[p][dy · 2 + dx]` (`p = 2·py + px`).
#[inline(always)]
pub(crate) fn fold_kernel<W: Weight>(w: &[W; 9]) -> [[f32; 4]; 4] {
    // `groups` of the module documentation spelled out per phase, in the documented order;
    // the tests compare the result with a generic implementation of the definition.
    let [a, b, c, d, e, f, g, h, i] = w.map(Weight::value);
    [
        [a, b + c, d + g, (e + f) + (h + i)],
        [a + b, c, (d + e) + (g + h), f + i],
        [a + d, (b + c) + (e + f), g, h + i],
        [(a + b) + (d + e), c + f, g + h, i],
    ]
}

/// Upsamples the zero-padded `[cin][h + 2][w + 2]` input 2× and convolves it with the
/// `[cout][cin][3][3]` weights; writes `act(value)` for output pixel `(Y, X)` of channel `co`
/// to `out[co · dst.plane + Y · dst.row + X + dst.origin]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn upsample_conv3x3<W: Weight>(
    input: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    weights: &[W],
    bias: &[W],
    cout: usize,
    fold: &mut [f32],
    tmp: &mut [f32],
    out: &mut [f32],
    dst: Planes,
    act: impl Fn(f32) -> f32,
) -> Result<(), ShapeMismatch> {
    if h == 0 || w == 0 {
        return Err(ShapeMismatch);
    }
    let wp = w.checked_add(2).ok_or(ShapeMismatch)?;
    let g = FlatConv {
        cin,
        cout,
        in_plane: h
            .checked_add(2)
            .and_then(|hp| hp.checked_mul(wp))
            .ok_or(ShapeMismatch)?,
        out_plane: h.checked_mul(wp).ok_or(ShapeMismatch)?,
        n_out: (h - 1) * wp + w,
    };
    let end = dst
        .end(
            cout,
            h.checked_mul(2).ok_or(ShapeMismatch)?,
            w.checked_mul(2).ok_or(ShapeMismatch)?,
        )
        .ok_or(ShapeMismatch)?;
    if end > out.len()
        || weights.len()
            != cout
                .checked_mul(cin)
                .and_then(|n| n.checked_mul(9))
                .ok_or(ShapeMismatch)?
    {
        return Err(ShapeMismatch);
    }
    let phase_len = fold_len(cin, cout).ok_or(ShapeMismatch)? / 4;
    fold_phases(weights, fold)?;
    for py in 0..2 {
        for px in 0..2 {
            let start = (py * 2 + px) * phase_len;
            let kernel = fold.get(start..start + phase_len).ok_or(ShapeMismatch)?;
            let rows = [py * wp + px, (py + 1) * wp + px];
            correlate::<f32, W, 2, 2, 4, DEC_CO, DEC_P>(input, &rows, kernel, bias, tmp, &g)?;
            for co in 0..cout {
                for y in 0..h {
                    let s = co * g.out_plane + y * wp;
                    let src = tmp.get(s..s + w).ok_or(ShapeMismatch)?;
                    let d = co * dst.plane + (2 * y + py) * dst.row + px + dst.origin;
                    let row = out.get_mut(d..d + 2 * w - 1).ok_or(ShapeMismatch)?;
                    for (o, &v) in row.iter_mut().step_by(2).zip(src) {
                        *o = act(v);
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::conv3x3::tests::pad;
    use super::super::testutil::{assert_close, Rng};
    use super::*;
    use std::vec::Vec;

    /// f64 reference: materialise the upsampled image, then a plain 3×3 same convolution.
    fn reference(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
    ) -> Vec<f64> {
        let (hh, ww) = (2 * h, 2 * w);
        let up = |ci: usize, yy: isize, xx: isize| -> f64 {
            if yy < 0 || xx < 0 || yy >= hh as isize || xx >= ww as isize {
                0.0
            } else {
                x[(ci * h + yy as usize / 2) * w + xx as usize / 2] as f64
            }
        };
        let mut out = vec![0.0; cout * hh * ww];
        for co in 0..cout {
            for yy in 0..hh {
                for xx in 0..ww {
                    let mut s = b[co] as f64;
                    for ci in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                s += wt[((co * cin + ci) * 3 + ky) * 3 + kx] as f64
                                    * up(
                                        ci,
                                        yy as isize + ky as isize - 1,
                                        xx as isize + kx as isize - 1,
                                    );
                            }
                        }
                    }
                    out[(co * hh + yy) * ww + xx] = s;
                }
            }
        }
        out
    }

    /// Scalar f32 version of the documented folded order, for bit-exact comparison.
    fn documented(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
    ) -> Vec<f32> {
        let groups: [[&[usize]; 2]; 2] = [[&[0], &[1, 2]], [&[0, 1], &[2]]];
        let xp = pad(x, cin, h, w);
        let (hp, wp) = (h + 2, w + 2);
        let mut out = vec![0.0; cout * 4 * h * w];
        for co in 0..cout {
            for yy in 0..2 * h {
                for xx in 0..2 * w {
                    let (y, py, xq, px) = (yy / 2, yy % 2, xx / 2, xx % 2);
                    let mut s = b[co];
                    for ci in 0..cin {
                        for dy in 0..2 {
                            for dx in 0..2 {
                                let mut f = None::<f32>;
                                for &ky in groups[py][dy] {
                                    let mut r = None::<f32>;
                                    for &kx in groups[px][dx] {
                                        let v = wt[((co * cin + ci) * 3 + ky) * 3 + kx];
                                        r = Some(r.map_or(v, |r| r + v));
                                    }
                                    f = Some(f.map_or(r.unwrap(), |f| f + r.unwrap()));
                                }
                                s += f.unwrap() * xp[(ci * hp + y + py + dy) * wp + xq + px + dx];
                            }
                        }
                    }
                    out[(co * 2 * h + yy) * 2 * w + xx] = s;
                }
            }
        }
        out
    }

    /// [`upsample_conv3x3`] of the unpadded `x` into dense `[cout][2h][2w]` planes through `act`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_dense(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
        act: impl Fn(f32) -> f32,
    ) -> Vec<f32> {
        let mut fold = vec![0.0; fold_len(cin, cout).unwrap()];
        let mut tmp = vec![0.0; cout * h * (w + 2)];
        let dst = Planes {
            plane: 4 * h * w,
            row: 2 * w,
            origin: 0,
        };
        let mut out = vec![f32::NAN; cout * 4 * h * w];
        let padded = pad(x, cin, h, w);
        upsample_conv3x3(
            &padded, cin, h, w, wt, b, cout, &mut fold, &mut tmp, &mut out, dst, act,
        )
        .unwrap();
        out
    }

    #[test]
    fn matches_reference_on_random_shapes() {
        let mut rng = Rng(13);
        for _ in 0..30 {
            let (cin, cout) = (1 + rng.below(6), 1 + rng.below(9));
            let (h, w) = (1 + rng.below(7), 1 + rng.below(9));
            let x = rng.vec(cin * h * w);
            let wt = rng.vec(cout * cin * 9);
            let b = rng.vec(cout);
            let out = run_dense(&x, cin, h, w, &wt, &b, cout, |v| v);
            assert_close(&out, &reference(&x, cin, h, w, &wt, &b, cout), 1e-5);
            let exact = documented(&x, cin, h, w, &wt, &b, cout);
            assert!(out
                .iter()
                .zip(&exact)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        let (cin, cout, h, w) = (2, 3, 2, 2);
        let x = vec![0.0; cin * 16];
        let wt = vec![0.0f32; cout * cin * 9];
        let b = vec![0.0f32; cout];
        let mut fold = vec![0.0; cout * cin * 16];
        let mut tmp = vec![0.0; cout * h * (w + 2)];
        let dst = Planes {
            plane: 16,
            row: 4,
            origin: 0,
        };
        let mut out = vec![0.0; cout * 16];
        let id = |v: f32| v;
        assert!(upsample_conv3x3(
            &x, cin, h, w, &wt, &b, cout, &mut fold, &mut tmp, &mut out, dst, id
        )
        .is_ok());
        assert!(upsample_conv3x3(
            &x,
            cin,
            h,
            w,
            &wt,
            &b,
            cout,
            &mut fold[1..],
            &mut tmp,
            &mut out,
            dst,
            id
        )
        .is_err());
        assert!(upsample_conv3x3(
            &x,
            cin,
            h,
            w,
            &wt,
            &b,
            cout,
            &mut fold,
            &mut tmp[3..],
            &mut out,
            dst,
            id
        )
        .is_err());
        assert!(upsample_conv3x3(
            &x,
            cin,
            h,
            w,
            &wt,
            &b,
            cout,
            &mut fold,
            &mut tmp,
            &mut out[1..],
            dst,
            id
        )
        .is_err());
        assert!(upsample_conv3x3(
            &x[1..],
            cin,
            h,
            w,
            &wt,
            &b,
            cout,
            &mut fold,
            &mut tmp,
            &mut out,
            dst,
            id
        )
        .is_err());
        assert!(upsample_conv3x3(
            &x,
            cin,
            h,
            w,
            &wt[1..],
            &b,
            cout,
            &mut fold,
            &mut tmp,
            &mut out,
            dst,
            id
        )
        .is_err());
    }
}
