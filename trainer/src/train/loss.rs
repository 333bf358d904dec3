//! The supervised objective of the paper (Eq. 7).

use crate::model::params::Matrix;
use crate::model::{Network, Params};
use dfdx::prelude::*;

/// Per-batch loss terms, averaged over the batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossTerms {
    /// Mean of ||x − g(f(x)+ε)||².
    pub reconstruction: f32,
    /// Mean of ||f(x) − μ_y||².
    pub latent: f32,
    /// Mean of the total, reconstruction + α·latent.
    pub total: f32,
}

/// Loss of Eq. 7 for a batch, `||x − g(f(x)+ε)||² + α·||f(x) − μ_y||²` averaged over the batch,
/// with the gradients of `weight` times it (a shard of a larger batch passes its share).
pub fn supervised<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    images: Matrix<D>,
    targets: Matrix<D>,
    noise: Matrix<D>,
    alpha: f32,
    weight: f32,
) -> (LossTerms, Gradients<f32, D>) {
    let z = network.encode(params, images.clone().traced(Gradients::leaky()));
    let latent = (z.with_empty_tape() - targets).square().sum::<_, Axis<0>>();
    let reconstruction = (network.decode(params, z + noise) - images)
        .square()
        .sum::<_, Axis<0>>();
    let (r, l) = (
        scalar(&reconstruction.retaped::<NoneTape>().mean()),
        scalar(&latent.retaped::<NoneTape>().mean()),
    );
    let loss = (reconstruction + latent * alpha).mean();
    let total = scalar(&loss.retaped::<NoneTape>());
    let grads = (loss * weight).backward();
    (
        LossTerms {
            reconstruction: r,
            latent: l,
            total,
        },
        grads,
    )
}

/// The value of a scalar tensor.
fn scalar<D: Device<f32>>(t: &Tensor<(), f32, D>) -> f32 {
    t.as_vec().first().copied().unwrap_or(f32::NAN)
}
