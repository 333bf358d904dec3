//! One decoder stage on the host: nearest 2× upsampling, 3×3 "same" convolution, bias and
//! activation in one pass, and its backward pass (input, weight and bias gradients).
//!
//! The convolution of the upsampled image is computed on the small grid, as the stable-op graph
//! computes it: every tap's product `weight · x` (`[9·out, small·batch]`, one multiply per
//! tap, channel pair and *small* pixel: a quarter of a convolution over the upsampled grid),
//! then each big pixel sums the nine tap products of the small pixels its shifted taps fall
//! on. That sum, the bias and the activation run in one loop over whole batch rows (no index
//! tables, no upsampled buffer); the backward pass spreads the gradient back over the same
//! taps and runs the two transposed products.
//!
//! Activations are `[features, batch]` row-major (batch innermost), features `(c, y, x)`; the
//! weight is `[9·out, in]` with rows `(ky, kx, o)`, as in [`super::super::params`].

use super::matmul::{matmul, MatRef};
use super::scratch::Scratch;
use super::ParamGradients;

/// The activation that follows the convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `max(v, 0)`.
    Relu,
    /// `1 / (1 + e^−v)`.
    Sigmoid,
}

impl Activation {
    fn apply(self, v: f32) -> f32 {
        match self {
            Self::Relu => v.max(0.0),
            Self::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        }
    }

    /// The derivative at the point whose output is `out`.
    fn slope(self, out: f32) -> f32 {
        match self {
            Self::Relu => {
                if out > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Sigmoid => out * (1.0 - out),
        }
    }
}

/// The sizes of one decoder stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpsampleConvDims {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Input (small grid) height; the output is twice as high.
    pub small_height: usize,
    /// Input (small grid) width; the output is twice as wide.
    pub small_width: usize,
    /// Images in the batch.
    pub batch: usize,
}

impl UpsampleConvDims {
    fn small(&self) -> usize {
        self.small_height * self.small_width
    }

    /// Values of the input.
    pub fn input_len(&self) -> usize {
        self.channels_in * self.small() * self.batch
    }

    /// Values of the output.
    pub fn output_len(&self) -> usize {
        self.channels_out * 4 * self.small() * self.batch
    }

    /// Rows of the tap products.
    fn tap_rows(&self) -> usize {
        9 * self.channels_out
    }
}

/// For big-grid position `pos` (of `2·small_len`) and tap `tap` (0..3), the small-grid
/// position the shifted tap reads, if inside.
fn small_source(pos: usize, tap: usize, small_len: usize) -> Option<usize> {
    (pos + tap)
        .checked_sub(1)
        .filter(|&p| p < 2 * small_len)
        .map(|p| p / 2)
}

/// Calls `visit(tap_row_offset, out_offset)` for every (tap, big pixel) pair of output
/// channel `o` whose shifted tap lands inside the image: offsets (times the batch) of the
/// tap product's small pixel and of the output pixel.
fn for_each_tap(d: &UpsampleConvDims, o: usize, mut visit: impl FnMut(usize, usize)) {
    let (sh, sw, b) = (d.small_height, d.small_width, d.batch);
    let (bh, bw) = (2 * sh, 2 * sw);
    for k in 0..9 {
        let (ky, kx) = (k / 3, k % 3);
        let tap_row = (k * d.channels_out + o) * d.small();
        for y in 0..bh {
            let Some(sy) = small_source(y, ky, sh) else {
                continue;
            };
            for x in 0..bw {
                if let Some(sx) = small_source(x, kx, sw) {
                    visit((tap_row + sy * sw + sx) * b, ((o * bh + y) * bw + x) * b);
                }
            }
        }
    }
}

/// Upsampling, convolution, bias and `activation` of `x` (`[in·small, batch]`); returns the
/// output `[out·4·small, batch]`.
pub fn forward(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
    d: UpsampleConvDims,
) -> Vec<f32> {
    assert_eq!(x.len(), d.input_len(), "input size");
    assert_eq!(weight.len(), d.tap_rows() * d.channels_in, "weight size");
    assert_eq!(bias.len(), d.channels_out, "bias size");
    let cols = d.small() * d.batch;
    let mut taps = Scratch::zeros(d.tap_rows() * cols);
    matmul(
        &mut taps,
        MatRef::row_major(weight, d.tap_rows(), d.channels_in),
        MatRef::row_major(x, d.channels_in, cols),
        false,
    );
    let b = d.batch;
    let mut out = vec![0.0; d.output_len()];
    let plane = 4 * d.small() * b;
    for o in 0..d.channels_out {
        out[o * plane..(o + 1) * plane].fill(bias[o]);
        for_each_tap(&d, o, |src, dst| {
            for (v, &t) in out[dst..dst + b].iter_mut().zip(&taps[src..src + b]) {
                *v += t;
            }
        });
    }
    for v in &mut out {
        *v = activation.apply(*v);
    }
    out
}

/// The backward pass of [`forward`]: `output` is what it returned for the same `x` and
/// `weight`, `grad` the gradient of that output; the input's gradient is added into
/// `input_grad` (`[in·small, batch]`).
pub fn backward(
    x: &[f32],
    weight: &[f32],
    output: &[f32],
    grad: &[f32],
    activation: Activation,
    d: UpsampleConvDims,
    input_grad: &mut [f32],
) -> ParamGradients {
    assert_eq!(grad.len(), d.output_len(), "gradient size");
    assert_eq!(output.len(), d.output_len(), "output size");
    assert_eq!(input_grad.len(), d.input_len(), "input gradient size");
    let (b, cols) = (d.batch, d.small() * d.batch);
    let mut pre = Scratch::zeros(output.len());
    for ((p, &o), &g) in pre.iter_mut().zip(output).zip(grad) {
        *p = g * activation.slope(o);
    }
    let plane = 4 * d.small() * b;
    let bias = pre.chunks_exact(plane).map(|p| p.iter().sum()).collect();
    let mut taps_grad = Scratch::zeros(d.tap_rows() * cols);
    for o in 0..d.channels_out {
        for_each_tap(&d, o, |src, dst| {
            for (t, &g) in taps_grad[src..src + b].iter_mut().zip(&pre[dst..dst + b]) {
                *t += g;
            }
        });
    }
    let taps_grad_m = MatRef::row_major(&taps_grad, d.tap_rows(), cols);
    let mut weight_grad = vec![0.0; weight.len()];
    // weight = taps_grad · xᵀ
    matmul(
        &mut weight_grad,
        taps_grad_m,
        MatRef::transposed(x, cols, d.channels_in),
        false,
    );
    // input += weightᵀ · taps_grad
    matmul(
        input_grad,
        MatRef::transposed(weight, d.channels_in, d.tap_rows()),
        taps_grad_m,
        true,
    );
    ParamGradients {
        weight: weight_grad,
        bias,
    }
}
