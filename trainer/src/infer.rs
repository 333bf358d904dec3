//! Batched inference with the dfdx model: latent codes, reconstructions and their errors for a
//! whole dataset, held host-side as `ndarray` arrays.

use crate::data::Dataset;
use crate::model::params::Matrix;
use crate::model::{Network, Params};
use dfdx::prelude::*;
use ndarray::{Array1, Array2, ArrayView2, Axis as NdAxis};

/// Images per inference batch.
const BATCH: usize = 256;

/// Latent codes and reconstruction errors of a dataset.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// f(x), `(n, latent)`.
    pub latents: Array2<f32>,
    /// ||x − g(f(x))||² (no noise), `(n,)`.
    pub reconstruction_errors: Array1<f32>,
}

impl Encoded {
    /// The first row whose code or reconstruction error is not finite (a model whose weights
    /// overflow), if any.
    pub fn first_non_finite(&self) -> Option<usize> {
        self.latents
            .rows()
            .into_iter()
            .zip(&self.reconstruction_errors)
            .position(|(z, e)| !(e.is_finite() && z.iter().all(|v| v.is_finite())))
    }
}

/// f(x) for every image, `(n, latent)`.
pub fn encode_all<D: Device<f32>>(
    net: &Network<D>,
    params: &Params<D>,
    data: &Dataset,
) -> Array2<f32> {
    encode_images(net, params, data.images.view())
}

/// f(x) for every row of `images` (`(n, pixels)`), `(n, latent)`.
pub fn encode_images<D: Device<f32>>(
    net: &Network<D>,
    params: &Params<D>,
    images: ArrayView2<f32>,
) -> Array2<f32> {
    let latent = net.config().latent;
    let mut out = Array2::zeros((images.nrows(), latent));
    for (chunk, mut rows) in images
        .axis_chunks_iter(NdAxis(0), BATCH)
        .zip(out.axis_chunks_iter_mut(NdAxis(0), BATCH))
    {
        let z = net.encode(params, to_device(net.device(), chunk));
        rows.assign(&from_device(&z));
    }
    out
}

/// Latent codes and reconstruction errors for every row of `images`.
pub fn encode_and_reconstruct<D: Device<f32>>(
    net: &Network<D>,
    params: &Params<D>,
    images: ArrayView2<f32>,
) -> Encoded {
    let latent = net.config().latent;
    let mut latents = Array2::zeros((images.nrows(), latent));
    let mut errors = Array1::zeros(images.nrows());
    for ((chunk, mut zs), mut es) in images
        .axis_chunks_iter(NdAxis(0), BATCH)
        .zip(latents.axis_chunks_iter_mut(NdAxis(0), BATCH))
        .zip(errors.axis_chunks_iter_mut(NdAxis(0), BATCH))
    {
        let x = to_device(net.device(), chunk);
        let z = net.encode(params, x.clone());
        zs.assign(&from_device(&z));
        let err = (net.decode(params, z) - x).square().sum::<_, Axis<0>>();
        es.assign(&Array1::from(err.as_vec()));
    }
    Encoded {
        latents,
        reconstruction_errors: errors,
    }
}

/// g(z) for every row of `latents` (`(n, latent)`), `(n, pixels)`.
pub fn decode_all<D: Device<f32>>(
    net: &Network<D>,
    params: &Params<D>,
    latents: ArrayView2<f32>,
) -> Array2<f32> {
    let pixels = net.config().pixels();
    let mut out = Array2::zeros((latents.nrows(), pixels));
    for (chunk, mut rows) in latents
        .axis_chunks_iter(NdAxis(0), BATCH)
        .zip(out.axis_chunks_iter_mut(NdAxis(0), BATCH))
    {
        let x = net.decode(params, to_device(net.device(), chunk));
        rows.assign(&from_device(&x));
    }
    out
}

/// Index of the nearest class mean (one-hot e_k) for every latent row; ties go to the lowest
/// index.
pub fn nearest_means(latents: &Array2<f32>, classes: usize) -> Vec<usize> {
    latents
        .rows()
        .into_iter()
        .map(|z| {
            let norm: f32 = z.iter().map(|v| v * v).sum();
            // ||z − e_k||² = ||z||² − 2·z_k + 1: smallest for the largest z_k.
            (0..classes)
                .map(|k| (k, norm - 2.0 * z[k] + 1.0))
                .fold(
                    (0, f32::INFINITY),
                    |best, cur| if cur.1 < best.1 { cur } else { best },
                )
                .0
        })
        .collect()
}

/// Fraction of `predictions` equal to the dataset's labels.
pub fn accuracy(predictions: &[usize], data: &Dataset) -> f64 {
    let correct = predictions
        .iter()
        .zip(data.labels.iter())
        .filter(|(p, l)| **p == usize::from(**l))
        .count();
    correct as f64 / predictions.len().max(1) as f64
}

/// Rows `(n, features)` → a device matrix `[features, n]`.
fn to_device<D: Device<f32>>(dev: &D, rows: ArrayView2<f32>) -> Matrix<D> {
    let (n, features) = rows.dim();
    let columns: Vec<f32> = rows.t().iter().copied().collect();
    dev.tensor_from_vec(columns, (features, n))
}

/// A device matrix `[features, n]` → rows `(n, features)`.
fn from_device<D: Device<f32>>(m: &Matrix<D>) -> Array2<f32> {
    let (features, n) = *m.shape();
    Array2::from_shape_vec((features, n), m.as_vec())
        .expect("shape matches the tensor")
        .reversed_axes()
}
