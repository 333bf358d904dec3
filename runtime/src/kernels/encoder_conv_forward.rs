//! Encoder conv1's and conv2's forward pass: a same-size 3×3 cross-correlation (zero
//! padding 1), on the correlation engine of [`super::conv_engine`].
//!
//! Input: `cin` planes, each zero-padded to `(h + 2) × (w + 2)` and stored row-major, one
//! after the other (plane stride `(h + 2)(w + 2)`, starting at index 0).
//! Output: `cout` planes in the flat row grid of the padded input: plane stride
//! `h (w + 2)`, row stride `w + 2`; element `(y, x)` of channel `co` is at
//! `co · h (w + 2) + y (w + 2) + x` for `x < w`; columns `w` and `w + 1` of each row are
//! scratch (see [`super::conv_engine`]).
//!
//! `out[co][y][x] = bias[co] + Σ_{ci} Σ_{ky} Σ_{kx} w[co][ci][ky][kx] · in[ci][y + ky − 1][x + kx − 1]`,
//! summed in ascending `(ci, ky, kx)` order, padding taps included.

use super::conv_engine::{correlate, FlatConv, ENC_CO, ENC_P};
use super::{ShapeMismatch, Weight};

/// Length of one zero-padded input plane.
pub(crate) const fn padded_plane(h: usize, w: usize) -> Option<usize> {
    match (h.checked_add(2), w.checked_add(2)) {
        (Some(a), Some(b)) => a.checked_mul(b),
        _ => None,
    }
}

/// Length of one output plane (`h` rows of stride `w + 2`).
pub(crate) const fn out_plane(h: usize, w: usize) -> Option<usize> {
    match w.checked_add(2) {
        Some(b) => h.checked_mul(b),
        None => None,
    }
}

/// Runs the convolution; `weights` is `[cout][cin][3][3]`, `bias` is `[cout]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn conv3x3_same<W: Weight>(
    input: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    weights: &[W],
    bias: &[W],
    out: &mut [f32],
    cout: usize,
) -> Result<(), ShapeMismatch> {
    if h == 0 || w == 0 {
        return Err(ShapeMismatch);
    }
    // `padded_plane` succeeding bounds `(h + 2)(w + 2)`, hence everything below.
    let in_plane = padded_plane(h, w).ok_or(ShapeMismatch)?;
    let wp = w + 2;
    let rows = [0, wp, 2 * wp];
    let g = FlatConv {
        cin,
        cout,
        in_plane,
        out_plane: out_plane(h, w).ok_or(ShapeMismatch)?,
        // The last row stops at column w - 1, so no tap reads past the padded plane.
        n_out: (h - 1) * wp + w,
    };
    correlate::<W, W, 3, 3, 9, ENC_CO, ENC_P>(input, &rows, weights, bias, out, &g)
}

#[cfg(test)]
mod tests {
    use super::super::reference::conv3x3 as reference;
    use super::super::testutil::{assert_close, pad, Rng};
    use super::*;
    use std::vec::Vec;

    /// Scalar f32 re-implementation of the documented order, for bit-exact comparison.
    fn documented(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
    ) -> Vec<f32> {
        let mut out = vec![0.0f32; cout * h * w];
        for co in 0..cout {
            for y in 0..h {
                for xx in 0..w {
                    let mut s = b[co];
                    for ci in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) =
                                    (y as isize + ky as isize - 1, xx as isize + kx as isize - 1);
                                let v = if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize
                                {
                                    0.0
                                } else {
                                    x[(ci * h + iy as usize) * w + ix as usize]
                                };
                                s += wt[((co * cin + ci) * 3 + ky) * 3 + kx] * v;
                            }
                        }
                    }
                    out[(co * h + y) * w + xx] = s;
                }
            }
        }
        out
    }

    fn unflat(o: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
        let wp = w + 2;
        let mut v = Vec::new();
        for ci in 0..c {
            for y in 0..h {
                v.extend_from_slice(&o[ci * h * wp + y * wp..][..w]);
            }
        }
        v
    }

    #[test]
    fn matches_reference_on_random_shapes() {
        let mut rng = Rng(7);
        for _ in 0..40 {
            let (cin, cout) = (1 + rng.below(6), 1 + rng.below(11));
            let (h, w) = (1 + rng.below(9), 1 + rng.below(20));
            let x = rng.vec(cin * h * w);
            let wt = rng.vec(cout * cin * 9);
            let b = rng.vec(cout);
            let mut out = vec![f32::NAN; cout * h * (w + 2)];
            conv3x3_same(&pad(&x, cin, h, w), cin, h, w, &wt, &b, &mut out, cout).unwrap();
            let got = unflat(&out, cout, h, w);
            assert_close(&got, &reference(&x, cin, h, w, &wt, &b, cout), 1e-5);
            let exact = documented(&x, cin, h, w, &wt, &b, cout);
            assert!(got
                .iter()
                .zip(&exact)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn little_endian_weights_give_the_same_bits() {
        let mut rng = Rng(8);
        let (cin, cout, h, w) = (3, 6, 5, 7);
        let x = pad(&rng.vec(cin * h * w), cin, h, w);
        let wt = rng.vec(cout * cin * 9);
        let b = rng.vec(cout);
        let le = |v: &[f32]| v.iter().map(|f| f.to_le_bytes()).collect::<Vec<_>>();
        let mut o1 = vec![0.0; cout * h * (w + 2)];
        let mut o2 = o1.clone();
        conv3x3_same(&x, cin, h, w, &wt, &b, &mut o1, cout).unwrap();
        conv3x3_same(&x, cin, h, w, &le(&wt), &le(&b), &mut o2, cout).unwrap();
        assert_eq!(o1, o2);
    }

    #[test]
    fn short_buffers_are_an_error_not_a_panic() {
        let x = vec![0.0; 2 * 16];
        let mut out = vec![0.0; 3 * 2 * 4];
        let wt = vec![0.0; 3 * 2 * 9];
        let b = vec![0.0; 3];
        assert!(conv3x3_same(&x, 2, 2, 2, &wt, &b, &mut out, 3).is_ok());
        assert!(conv3x3_same(&x[1..], 2, 2, 2, &wt, &b, &mut out, 3).is_err());
        assert!(conv3x3_same(&x, 2, 2, 2, &wt[1..], &b, &mut out, 3).is_err());
        assert!(conv3x3_same(&x, 2, 2, 2, &wt, &b[1..], &mut out, 3).is_err());
        assert!(conv3x3_same(&x, 2, 2, 2, &wt, &b, &mut out[3..], 3).is_err());
        assert!(conv3x3_same(&x, 2, 0, 2, &wt, &b, &mut out, 3).is_err());
    }
}
