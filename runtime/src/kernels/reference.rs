//! The tests' one `f64` reference convolution, straight from the definition: a 3×3
//! cross-correlation with zero padding 1 of an input or of its nearest 2× upsampling
//! (upsampled pixel `(Y, X)` is input pixel `(Y / 2, X / 2)`; the zero padding is that of
//! the upsampled image), and its input gradient — the same terms, transposed.
//!
//! Shared by the kernel tests (`kernels::reference`, `cfg(test)`) and the integration tests
//! (`tests/common`, through `#[path]`), so it uses nothing but `std`. Sums are in `f64`; the
//! bit-exact checks of the `f32` summation orders live with each kernel.

use std::vec::Vec;

/// Calls `term(out, input, weight)` for every term of the convolution of a `cin × h × w`
/// input into `cout` output planes — flat indices into the `[cout][H][W]` output, the
/// `[cin][h][w]` input and the `[cout][cin][3][3]` weights, `(H, W)` = `(h, w)` or, with
/// `upsample`, `(2h, 2w)` — skipping the taps that fall into the zero padding. The terms of
/// one output come in ascending `(ci, ky, kx)` order.
fn taps(
    (cin, cout, h, w): (usize, usize, usize, usize),
    upsample: bool,
    mut term: impl FnMut(usize, usize, usize),
) {
    let s = if upsample { 2 } else { 1 };
    let (hh, ww) = (s * h, s * w);
    for co in 0..cout {
        for y in 0..hh {
            for x in 0..ww {
                for ci in 0..cin {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            // Row `y + ky − 1` of the (upsampled) input; `0 − 1` wraps past it.
                            let (uy, ux) = ((y + ky).wrapping_sub(1), (x + kx).wrapping_sub(1));
                            if uy < hh && ux < ww {
                                let input = (ci * h + uy / s) * w + ux / s;
                                let weight = ((co * cin + ci) * 3 + ky) * 3 + kx;
                                term((co * hh + y) * ww + x, input, weight);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The convolution's output, each value from its bias.
fn forward<T: Copy + Into<f64>>(
    x: &[T],
    (cin, h, w): (usize, usize, usize),
    wt: &[T],
    b: &[T],
    cout: usize,
    upsample: bool,
) -> Vec<f64> {
    let plane = if upsample { 4 * h * w } else { h * w };
    let mut out: Vec<f64> = b
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b.into(), plane))
        .collect();
    assert_eq!(out.len(), cout * plane);
    taps((cin, cout, h, w), upsample, |o, i, k| {
        out[o] += wt[k].into() * x[i].into()
    });
    out
}

/// Same-size 3×3 convolution of `[cin][h][w]` (weights `[cout][cin][3][3]`, bias `[cout]`)
/// into `[cout][h][w]`.
pub fn conv3x3<T: Copy + Into<f64>>(
    x: &[T],
    cin: usize,
    h: usize,
    w: usize,
    wt: &[T],
    b: &[T],
    cout: usize,
) -> Vec<f64> {
    forward(x, (cin, h, w), wt, b, cout, false)
}

/// Nearest 2× upsampling of `[cin][h][w]`, then [`conv3x3`]: `[cout][2h][2w]`.
pub fn upsample_conv3x3<T: Copy + Into<f64>>(
    x: &[T],
    cin: usize,
    h: usize,
    w: usize,
    wt: &[T],
    b: &[T],
    cout: usize,
) -> Vec<f64> {
    forward(x, (cin, h, w), wt, b, cout, true)
}

/// The gradient of [`upsample_conv3x3`] with respect to its `[cin][h][w]` input, for the
/// output gradient `go` (`[cout][2h][2w]`): `∂L/∂x[i] = Σ w[k] · go[o]` over its terms.
pub fn upsample_conv3x3_input_grad<T: Copy + Into<f64>>(
    go: &[T],
    cin: usize,
    h: usize,
    w: usize,
    wt: &[T],
    cout: usize,
) -> Vec<f64> {
    let mut gin = vec![0.0f64; cin * h * w];
    taps((cin, cout, h, w), true, |o, i, k| {
        gin[i] += wt[k].into() * go[o].into()
    });
    gin
}
