//! One encoder stage on the host: 3×3 "same" convolution, bias, ReLU and 2×2 max-pool in one
//! pass, and its backward pass (input, weight and bias gradients).
//!
//! Activations are `[features, batch]` row-major (batch innermost), features `(c, y, x)`; the
//! weight is `[out, in·9]` with columns `(i, ky, kx)`, as in [`super::super::params`].
//!
//! The convolution runs one pair of image rows at a time (the rows one pooled row reads): a
//! column block of `in·9` rows by `2·width·batch` values (an im2col of just those rows, built
//! from whole batch rows by copying) multiplied by the weight, then bias, ReLU and pooling on
//! the fresh product while it is in cache. The forward pass keeps, per pooled value, which of
//! its four inputs won; the backward pass routes the gradient through that one (the stable-op
//! graph gives it to every tied maximum, which only differs on exact ties) and rebuilds each
//! column block instead of storing all of them.

use super::matmul::{matmul, MatRef};
use super::scratch::Scratch;
use super::ParamGradients;

/// The sizes of one encoder stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvPoolDims {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Input height (even).
    pub height: usize,
    /// Input width (even).
    pub width: usize,
    /// Images in the batch.
    pub batch: usize,
}

impl ConvPoolDims {
    /// Rows of the column block (and columns of the weight).
    fn taps(&self) -> usize {
        self.channels_in * 9
    }

    /// Columns of the column block of one row pair.
    fn block_cols(&self) -> usize {
        2 * self.width * self.batch
    }

    /// Values of the input.
    pub fn input_len(&self) -> usize {
        self.channels_in * self.height * self.width * self.batch
    }

    /// Values of the pooled output.
    pub fn output_len(&self) -> usize {
        self.channels_out * (self.height / 2) * (self.width / 2) * self.batch
    }
}

/// The forward pass's results: the pooled output and, per output value, which input of its
/// 2×2 window won (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) or [`CLIPPED`]
/// where ReLU clipped the maximum to zero (no gradient flows back).
#[derive(Clone, Debug)]
pub struct ConvPoolOutput {
    /// `[out·(h/2)·(w/2), batch]`.
    pub output: Vec<f32>,
    /// The winning input of each output value.
    pub winner: Vec<u8>,
}

/// The winner of an output value that ReLU clipped to zero.
pub const CLIPPED: u8 = 4;

/// The position `pos + tap − 1` inside `0..len`, if it is inside.
fn shifted(pos: usize, tap: usize, len: usize) -> Option<usize> {
    (pos + tap).checked_sub(1).filter(|&p| p < len)
}

/// The column block of row pair `pair`: row `(i, ky, kx)`, column `(t, b)` holds input
/// `(i, y + ky − 1, x + kx − 1)` of image `b` for pixel `t = (y − 2·pair)·width + x`, or 0 in
/// the padding. `block` is `taps × block_cols`.
fn fill_block(x: &[f32], d: &ConvPoolDims, pair: usize, block: &mut [f32]) {
    let (h, w, b) = (d.height, d.width, d.batch);
    for (row, dst) in block.chunks_exact_mut(d.block_cols()).enumerate() {
        let (i, ky, kx) = (row / 9, row / 3 % 3, row % 3);
        for (t, cell) in dst.chunks_exact_mut(b).enumerate() {
            let (y, xx) = (2 * pair + t / w, t % w);
            match shifted(y, ky, h).zip(shifted(xx, kx, w)) {
                Some((sy, sx)) => {
                    let at = ((i * h + sy) * w + sx) * b;
                    cell.copy_from_slice(&x[at..at + b]);
                }
                None => cell.fill(0.0),
            }
        }
    }
}

/// Adds the column-block gradient `block` of row pair `pair` into the input gradient `dx`
/// (the transpose of [`fill_block`]).
fn add_block(dx: &mut [f32], d: &ConvPoolDims, pair: usize, block: &[f32]) {
    let (h, w, b) = (d.height, d.width, d.batch);
    for (row, src) in block.chunks_exact(d.block_cols()).enumerate() {
        let (i, ky, kx) = (row / 9, row / 3 % 3, row % 3);
        for (t, cell) in src.chunks_exact(b).enumerate() {
            let (y, xx) = (2 * pair + t / w, t % w);
            if let Some((sy, sx)) = shifted(y, ky, h).zip(shifted(xx, kx, w)) {
                let at = ((i * h + sy) * w + sx) * b;
                for (g, &v) in dx[at..at + b].iter_mut().zip(cell) {
                    *g += v;
                }
            }
        }
    }
}

/// Offsets, in a row pair's `[out, 2·width·batch]` product, of the four inputs of the window
/// whose top-left pixel is column `2j` (times the batch): top-left, top-right, bottom-left,
/// bottom-right.
fn window(j: usize, d: &ConvPoolDims) -> [usize; 4] {
    let (w, b) = (d.width, d.batch);
    let top = 2 * j * b;
    [top, top + b, top + w * b, top + w * b + b]
}

/// Convolution, bias, ReLU and 2×2 max-pool of `x` (`[in·h·w, batch]`).
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: ConvPoolDims) -> ConvPoolOutput {
    assert_eq!(x.len(), d.input_len(), "input size");
    assert_eq!(weight.len(), d.channels_out * d.taps(), "weight size");
    assert_eq!(bias.len(), d.channels_out, "bias size");
    let (cols, b) = (d.block_cols(), d.batch);
    let (ph, pw) = (d.height / 2, d.width / 2);
    let mut output = vec![0.0; d.output_len()];
    let mut winner = vec![0u8; d.output_len()];
    let mut block = Scratch::zeros(d.taps() * cols);
    let mut product = Scratch::zeros(d.channels_out * cols);
    let w = MatRef::row_major(weight, d.channels_out, d.taps());
    for pair in 0..ph {
        fill_block(x, &d, pair, &mut block);
        matmul(
            &mut product,
            w,
            MatRef::row_major(&block, d.taps(), cols),
            false,
        );
        for (o, row) in product.chunks_exact(cols).enumerate() {
            for j in 0..pw {
                let at = ((o * ph + pair) * pw + j) * b;
                let taps = window(j, &d);
                for k in 0..b {
                    let (mut best, mut which) = (row[taps[0] + k], 0u8);
                    for (n, &t) in taps.iter().enumerate().skip(1) {
                        if row[t + k] > best {
                            (best, which) = (row[t + k], n as u8);
                        }
                    }
                    let v = best + bias[o];
                    (output[at + k], winner[at + k]) =
                        if v > 0.0 { (v, which) } else { (0.0, CLIPPED) };
                }
            }
        }
    }
    ConvPoolOutput { output, winner }
}

/// The backward pass of [`forward`]: `grad` is the gradient of the pooled output, `winner`
/// what the forward pass recorded for the same `x` and `weight`; the input's gradient is added
/// into `input_grad` (`[in·h·w, batch]`).
pub fn backward(
    x: &[f32],
    weight: &[f32],
    winner: &[u8],
    grad: &[f32],
    d: ConvPoolDims,
    input_grad: &mut [f32],
) -> ParamGradients {
    assert_eq!(grad.len(), d.output_len(), "gradient size");
    assert_eq!(winner.len(), d.output_len(), "winner size");
    assert_eq!(input_grad.len(), d.input_len(), "input gradient size");
    let (cols, b, taps) = (d.block_cols(), d.batch, d.taps());
    let (ph, pw) = (d.height / 2, d.width / 2);
    let mut g = ParamGradients {
        weight: vec![0.0; weight.len()],
        bias: vec![0.0; d.channels_out],
    };
    let mut block = Scratch::zeros(taps * cols);
    let mut block_grad = Scratch::zeros(taps * cols);
    let mut product_grad = Scratch::zeros(d.channels_out * cols);
    for pair in 0..ph {
        // The product's gradient: each pooled value's to its winner, where ReLU passed it.
        product_grad.fill(0.0);
        for (o, row) in product_grad.chunks_exact_mut(cols).enumerate() {
            let mut bias_grad = 0.0;
            for j in 0..pw {
                let at = ((o * ph + pair) * pw + j) * b;
                let window = window(j, &d);
                for k in 0..b {
                    if let Some(&tap) = window.get(usize::from(winner[at + k])) {
                        let v = grad[at + k];
                        row[tap + k] = v;
                        bias_grad += v;
                    }
                }
            }
            g.bias[o] += bias_grad;
        }
        fill_block(x, &d, pair, &mut block);
        let product_grad_m = MatRef::row_major(&product_grad, d.channels_out, cols);
        // weight += product_grad · blockᵀ
        matmul(
            &mut g.weight,
            product_grad_m,
            MatRef::transposed(&block, cols, taps),
            true,
        );
        // block_grad = weightᵀ · product_grad
        matmul(
            &mut block_grad,
            MatRef::transposed(weight, taps, d.channels_out),
            product_grad_m,
            false,
        );
        add_block(input_grad, &d, pair, &block_grad);
    }
    g
}
