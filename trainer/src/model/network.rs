//! The forward pass of encoder f and decoder g. On the CPU the convolution stages run as
//! fused kernels ([`super::fused`]); the stable-op graph here (gather, matmul, reshape, max,
//! sum) runs them on every other device, and on the CPU too with
//! [`LayerKernels::StableOps`], as the reference the fused kernels are tested against.
//!
//! Activations are `[features, batch]` matrices (batch innermost).

use super::config::ModelConfig;
use super::fused::{
    self, Activation, ConvPoolDims, DecoderStage, EncoderStage, LayerKernels, UpsampleConvDims,
};
use super::indices;
use super::params::{Affine, Matrix, Params, Vector};
use dfdx::prelude::*;

/// A tape the network's passes accept: dfdx's recording tape or none.
pub trait GraphTape<D: Device<f32>>: Tape<f32, D> + Merge<NoneTape> + 'static {}

impl<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape> + 'static> GraphTape<D> for T {}

/// Index tables for one model size, kept on the device.
#[derive(Clone, Debug)]
pub struct Network<D: Device<f32>> {
    config: ModelConfig,
    dev: D,
    enc_conv1: Tensor<(usize,), usize, D>,
    enc_conv2: Tensor<(usize,), usize, D>,
    dec_conv1: Tensor<(usize,), usize, D>,
    dec_conv2: Tensor<(usize,), usize, D>,
    kernels: LayerKernels,
}

impl<D: Device<f32>> Network<D> {
    /// Builds the index tables for `config` on `dev`.
    pub fn new(config: ModelConfig, dev: &D) -> Self {
        let c = &config;
        let (h, w) = (c.height, c.width);
        let table = |rows: Vec<usize>| {
            let n = rows.len();
            dev.tensor_from_vec(rows, (n,))
        };
        Self {
            config,
            dev: dev.clone(),
            enc_conv1: table(indices::im2col(c.in_channels, h, w)),
            enc_conv2: table(indices::im2col(c.conv1, h / 2, w / 2)),
            dec_conv1: table(indices::upsample_conv(c.conv1, h / 4, w / 4)),
            dec_conv2: table(indices::upsample_conv(c.in_channels, h / 2, w / 2)),
            kernels: LayerKernels::Fused,
        }
    }

    /// The same network with the convolution stages run by `kernels`.
    pub fn with_kernels(mut self, kernels: LayerKernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// Which implementation runs the convolution stages.
    pub fn kernels(&self) -> LayerKernels {
        self.kernels
    }

    /// The model sizes.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the tables live on.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Encoder f: images `[pixels, batch]` → latent means `[latent, batch]`.
    pub fn encode<T: GraphTape<D>>(&self, p: &Params<D>, x: Matrix<D, T>) -> Matrix<D, T> {
        dense(&p.encoder.fc2, self.encode_hidden(p, x))
    }

    /// The encoder up to its last hidden layer: images `[pixels, batch]` → `[hidden, batch]`,
    /// which the mean layer (and, with a learned variance, the log-variance head) read.
    pub fn encode_hidden<T: GraphTape<D>>(&self, p: &Params<D>, x: Matrix<D, T>) -> Matrix<D, T> {
        let c = &self.config;
        let (h, w) = (c.height, c.width);
        let e = &p.encoder;
        let x = self.conv_relu_pool(x, &e.conv1, &self.enc_conv1, (c.in_channels, h, w));
        let x = self.conv_relu_pool(x, &e.conv2, &self.enc_conv2, (c.conv1, h / 2, w / 2));
        dense(&e.fc1, x).relu()
    }

    /// Decoder g: latent codes `[latent, batch]` → images `[pixels, batch]` in (0, 1).
    pub fn decode<T: GraphTape<D>>(&self, p: &Params<D>, z: Matrix<D, T>) -> Matrix<D, T> {
        let c = &self.config;
        let (h, w) = (c.height, c.width);
        let d = &p.decoder;
        let x = dense(&d.fc1, z).relu();
        let x = dense(&d.fc2, x).relu();
        let x = self.upsample_conv(
            x,
            &d.conv1,
            &self.dec_conv1,
            Activation::Relu,
            (c.conv2, c.conv1, h / 4, w / 4),
        );
        self.upsample_conv(
            x,
            &d.conv2,
            &self.dec_conv2,
            Activation::Sigmoid,
            (c.conv1, c.in_channels, h / 2, w / 2),
        )
    }

    /// 3×3 "same" conv (im2col gather + matmul), ReLU, 2×2 max-pool.
    fn conv_relu_pool<T: GraphTape<D>>(
        &self,
        x: Matrix<D, T>,
        layer: &Affine<D>,
        rows: &Tensor<(usize,), usize, D>,
        (channels, h, w): (usize, usize, usize),
    ) -> Matrix<D, T> {
        let batch = x.shape().1;
        let out = layer.bias.shape().0;
        let x = match (self.kernels, fused::cpu_layer(layer)) {
            (LayerKernels::Fused, Some(cpu)) => {
                let dims = ConvPoolDims {
                    channels_in: channels,
                    channels_out: out,
                    height: h,
                    width: w,
                    batch,
                };
                match fused::run_on_cpu(x, &EncoderStage { layer: cpu, dims }) {
                    Ok(y) => return y,
                    Err(x) => x,
                }
            }
            _ => x,
        };
        let cols = self
            .with_zero_row(x)
            .gather(rows.clone())
            .reshape_like(&(channels * 9, h * w * batch));
        let y = layer.weight.retaped::<T>().matmul(cols);
        let y = add_bias(y, &layer.bias).relu();
        let y = y
            .reshape_like(&(out * h / 2, 2usize, w, batch))
            .max::<_, Axis<1>>()
            .reshape_like(&(out * h / 2 * w / 2, 2usize, batch))
            .max::<_, Axis<1>>();
        y.reshape_like(&(out * (h / 2) * (w / 2), batch))
    }

    /// Nearest 2× upsample followed by a 3×3 "same" conv and `activation`, computed as matmul
    /// on the small grid, then one gather that upsamples, shifts and pads, and a sum over the
    /// nine taps.
    fn upsample_conv<T: GraphTape<D>>(
        &self,
        x: Matrix<D, T>,
        layer: &Affine<D>,
        rows: &Tensor<(usize,), usize, D>,
        activation: Activation,
        (channels_in, channels_out, small_h, small_w): (usize, usize, usize, usize),
    ) -> Matrix<D, T> {
        let batch = x.shape().1;
        let x = match (self.kernels, fused::cpu_layer(layer)) {
            (LayerKernels::Fused, Some(cpu)) => {
                let dims = UpsampleConvDims {
                    channels_in,
                    channels_out,
                    small_height: small_h,
                    small_width: small_w,
                    batch,
                };
                let stage = DecoderStage {
                    layer: cpu,
                    activation,
                    dims,
                };
                match fused::run_on_cpu(x, &stage) {
                    Ok(y) => return y,
                    Err(x) => x,
                }
            }
            _ => x,
        };
        let small = small_h * small_w;
        let big = 4 * small;
        let x = x.reshape_like(&(channels_in, small * batch));
        let y = layer
            .weight
            .retaped::<T>()
            .matmul(x)
            .reshape_like(&(9 * channels_out * small, batch));
        let taps = self
            .with_zero_row(y)
            .gather(rows.clone())
            .reshape_like(&(9usize, channels_out * big * batch))
            .sum::<_, Axis<0>>()
            .reshape_like(&(channels_out, big * batch));
        let y = add_bias(taps, &layer.bias).reshape_like(&(channels_out * big, batch));
        match activation {
            Activation::Relu => y.relu(),
            Activation::Sigmoid => y.sigmoid(),
        }
    }

    /// Appends one all-zero row (the padding source of the gather tables).
    fn with_zero_row<T: GraphTape<D>>(&self, x: Matrix<D, T>) -> Matrix<D, T> {
        let batch = x.shape().1;
        let zeros: Matrix<D> = self.dev.zeros_like(&(1, batch));
        (x, zeros).concat_along(Axis::<0>)
    }
}

/// `weight · x + bias` for `x` of shape `[in, batch]`.
pub(crate) fn dense<D: Device<f32>, T: Tape<f32, D>>(
    layer: &Affine<D>,
    x: Matrix<D, T>,
) -> Matrix<D, T> {
    add_bias(layer.weight.retaped::<T>().matmul(x), &layer.bias)
}

/// Adds a per-row bias to `[rows, cols]`.
fn add_bias<D: Device<f32>, T: Tape<f32, D>>(y: Matrix<D, T>, bias: &Vector<D>) -> Matrix<D, T> {
    let shape = *y.shape();
    let b = bias.retaped::<T>().broadcast_like::<_, Axis<1>>(&shape);
    y + b
}
