//! The gradient of the reconstruction error `L = Σ (x − r)²` through the decoder's sigmoid
//! `r = sigmoid(o)`, at decoder conv2's output pre-activation `o` — the start of
//! reclassification's backward pass — written as the phase planes that decoder conv2's input
//! gradient reads ([`super::decoder_conv2_input_grad`]).
//!
//! Per pixel, `∂L/∂o = (e + e) · (r · (1 − r))` with `e = r − x` ([`sigmoid_sq_error_grad`]).
//! [`scatter_phases`] stores the `channels × 2h × 2w` map as `4 · channels` zero-padded planes
//! of `(h + 2) × (w + 2)` ([`super::phase_planes_len`] values), one per phase and channel:
//! plane `p · channels + ch` holds the pixels `(2y' + py, 2x' + px)` at `(y' + py, x' + px)`.

use super::{phase_planes_len, ShapeMismatch, Weight};

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
    let n = phase_planes_len(channels, h, w).ok_or(ShapeMismatch)?;
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

/// `∂L/∂o` for one pixel (see [`OutputGrad`]).
#[inline(always)]
pub(crate) fn sigmoid_sq_error_grad<W: Weight>(r: f32, x: W) -> f32 {
    let e = r - x.value();
    (e + e) * (r * (1.0 - r))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn short_buffers_are_errors() {
        let mut planes = vec![0.0; phase_planes_len(2, 3, 3).unwrap()];
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
    fn the_output_gradient_source_matches_its_pixel_definition() {
        let mut rng = Rng(43);
        let (c, h, w) = (3, 4, 5);
        let (hh, ww) = (2 * h, 2 * w);
        let recon: Vec<f32> = rng.vec(c * hh * ww).iter().map(|v| v.abs()).collect();
        let image: Vec<f32> = rng.vec(c * hh * ww).iter().map(|v| v.abs()).collect();
        let mut a = vec![0.0; phase_planes_len(c, h, w).unwrap()];
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
