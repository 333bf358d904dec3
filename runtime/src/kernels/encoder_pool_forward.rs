//! The encoder's pools' forward pass: ReLU followed by 2×2 max pooling (stride 2), after
//! encoder conv1 and after conv2.
//!
//! `out[c][oy][ox] = max(max(a, b), max(c, d))` with `a, b, c, d` the ReLU of
//! `in[c][2oy][2ox]`, `in[c][2oy][2ox + 1]`, `in[c][2oy + 1][2ox]`, `in[c][2oy + 1][2ox + 1]`
//! and `max(p, q) = if p > q { p } else { q }`. ReLU and max commute for ordered values; applying
//! ReLU first also turns NaN into `+0.0` before any comparison.

use super::relu::relu;
use super::{Planes, ShapeMismatch};

#[inline(always)]
fn max(p: f32, q: f32) -> f32 {
    if p > q {
        p
    } else {
        q
    }
}

/// Pools `channels` planes to `out_h × out_w`, reading `src` and writing `dst` geometry.
pub(crate) fn relu_maxpool2(
    input: &[f32],
    src: Planes,
    channels: usize,
    out_h: usize,
    out_w: usize,
    out: &mut [f32],
    dst: Planes,
) -> Result<(), ShapeMismatch> {
    let in_h = out_h.checked_mul(2).ok_or(ShapeMismatch)?;
    let in_w = out_w.checked_mul(2).ok_or(ShapeMismatch)?;
    let in_end = src.end(channels, in_h, in_w).ok_or(ShapeMismatch)?;
    let out_end = dst.end(channels, out_h, out_w).ok_or(ShapeMismatch)?;
    if in_end > input.len() || out_end > out.len() {
        return Err(ShapeMismatch);
    }
    for c in 0..channels {
        for oy in 0..out_h {
            let r0 = c * src.plane + 2 * oy * src.row + src.origin;
            let top = input.get(r0..r0 + in_w).ok_or(ShapeMismatch)?;
            let bottom = input
                .get(r0 + src.row..r0 + src.row + in_w)
                .ok_or(ShapeMismatch)?;
            let o0 = c * dst.plane + oy * dst.row + dst.origin;
            let dest = out.get_mut(o0..o0 + out_w).ok_or(ShapeMismatch)?;
            let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (o, (t, b)) in dest.iter_mut().zip(pairs) {
                if let (&[a, bb], &[cc, d]) = (t, b) {
                    *o = max(max(relu(a), relu(bb)), max(relu(cc), relu(d)));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::*;

    #[test]
    fn matches_reference() {
        let mut rng = Rng(3);
        for _ in 0..20 {
            let (c, oh, ow) = (1 + rng.below(4), 1 + rng.below(6), 1 + rng.below(6));
            let (h, w) = (2 * oh, 2 * ow);
            let row = w + rng.below(3);
            let src = Planes {
                plane: h * row + rng.below(3),
                row,
                origin: rng.below(2),
            };
            let input = rng.vec(src.end(c, h, w).unwrap());
            let dst = Planes {
                plane: (oh + 2) * (ow + 2),
                row: ow + 2,
                origin: ow + 3,
            };
            let mut out = vec![-7.0; c * dst.plane];
            relu_maxpool2(&input, src, c, oh, ow, &mut out, dst).unwrap();
            for ci in 0..c {
                for y in 0..oh {
                    for x in 0..ow {
                        let at = |yy: usize, xx: usize| {
                            input[ci * src.plane + yy * src.row + xx + src.origin] as f64
                        };
                        let want = at(2 * y, 2 * x)
                            .max(at(2 * y, 2 * x + 1))
                            .max(at(2 * y + 1, 2 * x))
                            .max(at(2 * y + 1, 2 * x + 1))
                            .max(0.0);
                        assert_eq!(
                            out[ci * dst.plane + y * dst.row + x + dst.origin] as f64,
                            want
                        );
                    }
                }
                // Padding untouched.
                assert_eq!(out[ci * dst.plane], -7.0);
            }
        }
    }

    #[test]
    fn nan_becomes_zero_and_short_buffers_fail() {
        let input = [f32::NAN, -1.0, -2.0, -0.0];
        let mut out = [5.0];
        let p = Planes {
            plane: 4,
            row: 2,
            origin: 0,
        };
        let q = Planes {
            plane: 1,
            row: 1,
            origin: 0,
        };
        relu_maxpool2(&input, p, 1, 1, 1, &mut out, q).unwrap();
        assert_eq!(out[0].to_bits(), 0.0f32.to_bits());
        assert!(relu_maxpool2(&input[..3], p, 1, 1, 1, &mut out, q).is_err());
        assert!(relu_maxpool2(&input, p, 1, 1, 1, &mut [], q).is_err());
    }
}
