//! The trainable tensors of a model and their initialisation.

use super::config::ModelConfig;
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::{Distribution, Uniform};

/// A dynamically sized matrix on device `D`.
pub type Matrix<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;
/// A dynamically sized vector on device `D`.
pub type Vector<D, T = NoneTape> = Tensor<(usize,), f32, D, T>;

/// A weight matrix and a bias vector. How the matrix is read depends on the layer:
/// dense `[out, in]`, encoder conv `[out, in·9]` (columns `(i, ky, kx)`), decoder up-conv
/// `[9·out, in]` (rows `(ky, kx, o)`).
#[derive(Clone, Debug)]
pub struct Affine<D: Storage<f32>> {
    /// The weight matrix.
    pub weight: Matrix<D>,
    /// The bias, one per output unit or channel.
    pub bias: Vector<D>,
}

/// Encoder f: two conv/pool stages and two dense layers; outputs the latent mean.
#[derive(Clone, Debug)]
pub struct Encoder<D: Storage<f32>> {
    /// 3×3 conv, image channels → conv1.
    pub conv1: Affine<D>,
    /// 3×3 conv, conv1 → conv2.
    pub conv2: Affine<D>,
    /// Dense, flat features → hidden.
    pub fc1: Affine<D>,
    /// Dense, hidden → latent.
    pub fc2: Affine<D>,
}

/// Decoder g: two dense layers and two upsample-conv stages; outputs pixels in (0, 1).
#[derive(Clone, Debug)]
pub struct Decoder<D: Storage<f32>> {
    /// Dense, latent → hidden.
    pub fc1: Affine<D>,
    /// Dense, hidden → flat features.
    pub fc2: Affine<D>,
    /// Upsample, then 3×3 conv conv2 → conv1.
    pub conv1: Affine<D>,
    /// Upsample, then 3×3 conv conv1 → image channels.
    pub conv2: Affine<D>,
}

/// All trainable tensors of one model.
#[derive(Clone, Debug)]
pub struct Params<D: Storage<f32>> {
    /// The encoder f.
    pub encoder: Encoder<D>,
    /// The decoder g.
    pub decoder: Decoder<D>,
    /// The log-variance head (dense, hidden → latent, beside `encoder.fc2`) of the ablation
    /// with a learned encoder variance; `None` with the paper's fixed variance. Never exported:
    /// classification uses only the mean.
    pub log_variance: Option<Affine<D>>,
}

/// Layer names in a fixed order, used by checkpoints, exports and the optimizer.
pub const LAYER_NAMES: [&str; 8] = [
    "enc.conv1",
    "enc.conv2",
    "enc.fc1",
    "enc.fc2",
    "dec.fc1",
    "dec.fc2",
    "dec.conv1",
    "dec.conv2",
];

/// Host copy of one layer: `(weight rows, weight cols, weight data, bias data)`.
pub type HostLayer = (usize, usize, Vec<f32>, Vec<f32>);

impl<D: Device<f32>> Params<D> {
    /// Fresh parameters: PyTorch's default scheme, U(−1/√fan_in, 1/√fan_in), from `rng`.
    pub fn init(config: &ModelConfig, dev: &D, rng: &mut impl Rng) -> Self {
        let layers = layer_shapes(config).map(|shape| {
            let bound = 1.0 / (shape.fan_in as f32).sqrt();
            let uniform = Uniform::new_inclusive(-bound, bound);
            let mut draw = |n: usize| (0..n).map(|_| uniform.sample(rng)).collect::<Vec<f32>>();
            let weight = draw(shape.rows * shape.cols);
            let bias = draw(shape.bias);
            (shape.rows, shape.cols, weight, bias)
        });
        Self::from_host(dev, layers)
    }

    /// Parameters from host copies in [`LAYER_NAMES`] order.
    pub fn from_host(dev: &D, layers: [HostLayer; 8]) -> Self {
        let [a, b, c, d, e, f, g, h] = layers.map(|(rows, cols, weight, bias)| {
            let n = bias.len();
            Affine {
                weight: dev.tensor_from_vec(weight, (rows, cols)),
                bias: dev.tensor_from_vec(bias, (n,)),
            }
        });
        Self {
            encoder: Encoder {
                conv1: a,
                conv2: b,
                fc1: c,
                fc2: d,
            },
            decoder: Decoder {
                fc1: e,
                fc2: f,
                conv1: g,
                conv2: h,
            },
            log_variance: None,
        }
    }

    /// The same parameters with a fresh log-variance head that starts at the fixed variance:
    /// zero weights and every bias `ln(s2)`, so the first step is the fixed model's.
    pub fn with_log_variance_head(mut self, config: &ModelConfig, s2: f64) -> Self {
        let shape = log_variance_shape(config);
        let dev = self.encoder.fc2.weight.device().clone();
        self.log_variance = Some(Affine {
            weight: dev.zeros_like(&(shape.rows, shape.cols)),
            bias: dev.tensor_from_vec(vec![s2.ln() as f32; shape.bias], (shape.bias,)),
        });
        self
    }

    /// Host copy of the log-variance head, if there is one.
    pub fn log_variance_to_host(&self) -> Option<HostLayer> {
        self.log_variance.as_ref().map(|layer| {
            let (rows, cols) = *layer.weight.shape();
            (rows, cols, layer.weight.as_vec(), layer.bias.as_vec())
        })
    }

    /// The same parameters with the log-variance head restored from a host copy.
    pub fn with_log_variance_from_host(mut self, (rows, cols, weight, bias): HostLayer) -> Self {
        let dev = self.encoder.fc2.weight.device().clone();
        let n = bias.len();
        self.log_variance = Some(Affine {
            weight: dev.tensor_from_vec(weight, (rows, cols)),
            bias: dev.tensor_from_vec(bias, (n,)),
        });
        self
    }

    /// Host copies of the encoder's mean path and the decoder, in [`LAYER_NAMES`] order
    /// (without the log-variance head).
    pub fn to_host(&self) -> [HostLayer; 8] {
        self.mean_path_layers().map(|layer| {
            let (rows, cols) = *layer.weight.shape();
            (rows, cols, layer.weight.as_vec(), layer.bias.as_vec())
        })
    }

    /// The mean path's and decoder's layers in [`LAYER_NAMES`] order.
    pub fn mean_path_layers(&self) -> [&Affine<D>; 8] {
        let (e, d) = (&self.encoder, &self.decoder);
        [
            &e.conv1, &e.conv2, &e.fc1, &e.fc2, &d.fc1, &d.fc2, &d.conv1, &d.conv2,
        ]
    }

    /// Every trained layer: [`Params::mean_path_layers`], then the log-variance head if any.
    pub fn layers(&self) -> Vec<&Affine<D>> {
        let mut layers = self.mean_path_layers().to_vec();
        layers.extend(self.log_variance.as_ref());
        layers
    }

    /// Every trained layer in [`Params::layers`] order, mutably.
    pub fn layers_mut(&mut self) -> Vec<&mut Affine<D>> {
        let (e, d) = (&mut self.encoder, &mut self.decoder);
        let mut layers = vec![
            &mut e.conv1,
            &mut e.conv2,
            &mut e.fc1,
            &mut e.fc2,
            &mut d.fc1,
            &mut d.fc2,
            &mut d.conv1,
            &mut d.conv2,
        ];
        layers.extend(self.log_variance.as_mut());
        layers
    }
}

/// The storage shape of one layer's tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerShape {
    /// Weight matrix rows.
    pub rows: usize,
    /// Weight matrix columns.
    pub cols: usize,
    /// Inputs feeding one output (for initialisation).
    pub fan_in: usize,
    /// Bias length.
    pub bias: usize,
}

/// The storage shape of the log-variance head: dense, hidden → latent.
pub fn log_variance_shape(c: &ModelConfig) -> LayerShape {
    LayerShape {
        rows: c.latent,
        cols: c.hidden,
        fan_in: c.hidden,
        bias: c.latent,
    }
}

/// The storage shapes of every layer in [`LAYER_NAMES`] order.
pub fn layer_shapes(c: &ModelConfig) -> [LayerShape; 8] {
    let f = c.flat_features();
    let dense = |input: usize, output: usize| LayerShape {
        rows: output,
        cols: input,
        fan_in: input,
        bias: output,
    };
    let conv = |input: usize, output: usize| LayerShape {
        rows: output,
        cols: input * 9,
        fan_in: input * 9,
        bias: output,
    };
    let up_conv = |input: usize, output: usize| LayerShape {
        rows: 9 * output,
        cols: input,
        fan_in: input * 9,
        bias: output,
    };
    [
        conv(c.in_channels, c.conv1),
        conv(c.conv1, c.conv2),
        dense(f, c.hidden),
        dense(c.hidden, c.latent),
        dense(c.latent, c.hidden),
        dense(c.hidden, f),
        up_conv(c.conv2, c.conv1),
        up_conv(c.conv1, c.in_channels),
    ]
}
