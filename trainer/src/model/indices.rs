//! Gather index tables that express 3×3 "same" convolutions with stable dfdx ops.
//!
//! Activations are laid out feature-major with the batch innermost (`[features, batch]`), so a
//! gather along axis 0 copies whole batch rows. Every table refers to one extra all-zero row
//! appended after the source rows (index = number of source rows), which supplies the zero
//! padding.

/// Rows of the im2col matrix of a 3×3 "same" convolution over a `channels×height×width` input.
///
/// Output row `((i·9 + ky·3 + kx)·height + y)·width + x` holds input pixel
/// `(i, y+ky−1, x+kx−1)`, or the zero row outside the image. Reshaped to
/// `[channels·9, height·width·batch]` it multiplies a `[out, channels·9]` weight matrix whose
/// columns are ordered `(i, ky, kx)`.
pub fn im2col(channels: usize, height: usize, width: usize) -> Vec<usize> {
    let zero = channels * height * width;
    let mut rows = Vec::with_capacity(zero * 9);
    for i in 0..channels {
        for ky in 0..3 {
            for kx in 0..3 {
                for y in 0..height {
                    for x in 0..width {
                        let row = shifted(y, ky, height)
                            .zip(shifted(x, kx, width))
                            .map_or(zero, |(sy, sx)| (i * height + sy) * width + sx);
                        rows.push(row);
                    }
                }
            }
        }
    }
    rows
}

/// Rows that finish a 3×3 "same" convolution applied after a nearest 2× upsample, computed on
/// the small grid first.
///
/// The source holds `Y[k][o][ys][xs] = Σ_i w[o][i][k]·x[i][ys][xs]` for the nine taps `k`
/// (`[9·channels_out·small_h·small_w]` rows). Output row `((k·channels_out + o)·H + y)·W + x`
/// on the upsampled `H×W = 2·small_h × 2·small_w` grid holds `Y[k][o][(y+ky−1)/2][(x+kx−1)/2]`,
/// or the zero row outside the image; summing the nine `k` blocks gives the convolution.
/// Because upsampling copies pixels, running the matmul before it needs 4× fewer operations.
pub fn upsample_conv(channels_out: usize, small_h: usize, small_w: usize) -> Vec<usize> {
    let (height, width) = (small_h * 2, small_w * 2);
    let zero = 9 * channels_out * small_h * small_w;
    let mut rows = Vec::with_capacity(9 * channels_out * height * width);
    for k in 0..9 {
        let (ky, kx) = (k / 3, k % 3);
        for o in 0..channels_out {
            for y in 0..height {
                for x in 0..width {
                    let row = shifted(y, ky, height)
                        .zip(shifted(x, kx, width))
                        .map_or(zero, |(sy, sx)| {
                            ((k * channels_out + o) * small_h + sy / 2) * small_w + sx / 2
                        });
                    rows.push(row);
                }
            }
        }
    }
    rows
}

/// `pos + tap − 1` if it lies inside `0..len`.
fn shifted(pos: usize, tap: usize, len: usize) -> Option<usize> {
    (pos + tap).checked_sub(1).filter(|&p| p < len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive 3×3 same convolution of a `[c][h][w]` image with `[o][c][3][3]` weights.
    fn naive_conv(x: &[f32], (c, h, w): (usize, usize, usize), wt: &[f32], o: usize) -> Vec<f32> {
        let mut out = vec![0.0; o * h * w];
        for oc in 0..o {
            for y in 0..h {
                for xx in 0..w {
                    let mut acc = 0.0;
                    for ic in 0..c {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                if let (Some(sy), Some(sx)) =
                                    (shifted(y, ky, h), shifted(xx, kx, w))
                                {
                                    acc += wt[((oc * c + ic) * 3 + ky) * 3 + kx]
                                        * x[(ic * h + sy) * w + sx];
                                }
                            }
                        }
                    }
                    out[(oc * h + y) * w + xx] = acc;
                }
            }
        }
        out
    }

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn im2col_then_matmul_is_a_same_convolution() {
        let (c, h, w, o) = (2, 4, 5, 3);
        let x = pseudo_random(c * h * w, 1);
        let wt = pseudo_random(o * c * 9, 2);
        let mut padded = x.clone();
        padded.push(0.0);
        let cols: Vec<f32> = im2col(c, h, w).iter().map(|&r| padded[r]).collect();
        for oc in 0..o {
            for p in 0..h * w {
                let got: f32 = (0..c * 9)
                    .map(|k| wt[oc * c * 9 + k] * cols[k * h * w + p])
                    .sum();
                let want = naive_conv(&x, (c, h, w), &wt, o)[oc * h * w + p];
                assert!((got - want).abs() < 1e-5, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn matmul_then_upsample_gather_equals_conv_of_upsampled_input() {
        let (c, sh, sw, o) = (3, 2, 3, 2);
        let x = pseudo_random(c * sh * sw, 3);
        let wt = pseudo_random(o * c * 9, 4);
        let (h, w) = (2 * sh, 2 * sw);
        let up: Vec<f32> = (0..c * h * w)
            .map(|r| {
                let (i, y, xx) = (r / (h * w), r / w % h, r % w);
                x[(i * sh + y / 2) * sw + xx / 2]
            })
            .collect();
        let want = naive_conv(&up, (c, h, w), &wt, o);
        // Y[k][o][p] on the small grid, then gather and sum the nine taps.
        let mut y_small = Vec::new();
        for k in 0..9 {
            for oc in 0..o {
                for p in 0..sh * sw {
                    y_small.push(
                        (0..c)
                            .map(|i| wt[(oc * c + i) * 9 + k] * x[i * sh * sw + p])
                            .sum::<f32>(),
                    );
                }
            }
        }
        y_small.push(0.0);
        let rows = upsample_conv(o, sh, sw);
        for r in 0..o * h * w {
            let got: f32 = (0..9).map(|k| y_small[rows[k * o * h * w + r]]).sum();
            assert!((got - want[r]).abs() < 1e-5, "{got} vs {}", want[r]);
        }
    }
}
