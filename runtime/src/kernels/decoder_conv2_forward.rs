//! Decoder conv2's forward pass: nearest-neighbour 2× upsampling followed by a same-size
//! 3×3 cross-correlation (zero padding 1, `c1 → C` channels), computed without
//! materialising the upsampled image.
//!
//! Each output phase `(py, px)` is a 2×2 correlation over the zero-padded input with the
//! folded kernel `f[py,px]` of [`super::folded_weights`]; in padded input coordinates,
//!
//! ```text
//! out[co][2y+py][2x+px] = act( bias[co] + Σ_{ci} Σ_{dy} Σ_{dx} f[py,px][co][ci][dy][dx] · in[ci][y+py+dy][x+px+dx] )
//! ```
//!
//! summed in ascending `(ci, dy, dx)` order by [`super::conv_engine`]. All four folded
//! kernels are computed first into `fold` (`4 · cout · cin · 4` values, phase-major,
//! [`fold_phases`]), in one pass over the original weights; then the phases (0,0), (0,1),
//! (1,0), (1,1) are each correlated into `tmp` (`cout` planes of `h × (w + 2)`) and
//! scattered to the output through `act`.

use super::conv_engine::{correlate, FlatConv, DEC_CO, DEC_P};
use super::folded_weights::{fold_len, fold_phases};
use super::{Planes, ShapeMismatch, Weight};

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
    use super::super::reference::upsample_conv3x3 as reference;
    use super::super::testutil::{assert_close, pad, Rng};
    use super::*;
    use std::vec::Vec;

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
