//! Adam with moments the trainer owns, so checkpoints can store and restore them exactly.

use crate::model::params::Affine;
use crate::model::Params;
use dfdx::prelude::*;

/// Adam state: dfdx's fused update kernel with moment buffers kept in two [`Gradients`] maps
/// keyed by parameter.
#[derive(Debug)]
pub struct Adam<D: Device<f32>> {
    config: AdamConfig,
    step: i32,
    first: Gradients<f32, D>,
    second: Gradients<f32, D>,
}

/// Host copy of the optimizer state: step count and, per layer, the first and second moments of
/// the weight and the bias.
pub type HostAdam = (i32, Vec<[Vec<f32>; 4]>);

impl<D: Device<f32>> Adam<D> {
    /// A fresh optimizer with learning rate `lr` and the usual betas (0.9, 0.999).
    pub fn new(lr: f64) -> Self {
        Self {
            config: AdamConfig {
                lr,
                ..Default::default()
            },
            step: 0,
            first: Gradients::leaky(),
            second: Gradients::leaky(),
        }
    }

    /// Updates every parameter from `grads` (a missing gradient counts as zero).
    pub fn update(
        &mut self,
        params: &mut Params<D>,
        grads: &mut Gradients<f32, D>,
    ) -> Result<(), D::Err> {
        self.step += 1;
        for layer in params.layers_mut() {
            self.update_tensor(&mut layer.weight, grads)?;
            self.update_tensor(&mut layer.bias, grads)?;
        }
        Ok(())
    }

    fn update_tensor<S: Shape>(
        &mut self,
        t: &mut Tensor<S, f32, D>,
        grads: &mut Gradients<f32, D>,
    ) -> Result<(), D::Err> {
        let g = grads.get_or_alloc_mut(t)?;
        let m = self.first.get_or_alloc_mut(t)?;
        let v = self.second.get_or_alloc_mut(t)?;
        self.config.try_update(self.step, t, m, v, g)
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> i32 {
        self.step
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Sets the learning rate of the next updates.
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// Host copy of the state, for checkpoints.
    pub fn to_host(&self, params: &Params<D>) -> HostAdam {
        let moments = params
            .layers()
            .iter()
            .map(|layer| {
                if self.step == 0 {
                    // No update yet: every moment is still zero (and unallocated).
                    let (w, b) = (layer.weight.shape().num_elements(), layer.bias.shape().0);
                    return [vec![0.0; w], vec![0.0; b], vec![0.0; w], vec![0.0; b]];
                }
                [
                    self.first.get(&layer.weight).as_vec(),
                    self.first.get(&layer.bias).as_vec(),
                    self.second.get(&layer.weight).as_vec(),
                    self.second.get(&layer.bias).as_vec(),
                ]
            })
            .collect();
        (self.step, moments)
    }

    /// Restores a state saved by [`Adam::to_host`] for `params`.
    ///
    /// dfdx exposes no setter for gradient buffers, so each moment map is rebuilt as the
    /// gradient of `Σ_p Σ(p ⊙ m_p)` with respect to the parameters, which is exactly `m_p`; this
    /// works the same on every device.
    pub fn from_host(lr: f64, params: &Params<D>, (step, moments): &HostAdam) -> Self {
        let pick = |which: usize| -> Gradients<f32, D> {
            let dev = params.encoder.conv1.weight.device().clone();
            let mut total = dev.zeros::<Rank0>().retaped::<OwnedTape<f32, D>>();
            for (layer, m) in params.layers().iter().zip(moments) {
                total = total + dot_with(layer, m[which].clone(), m[which + 1].clone());
            }
            total.backward()
        };
        Self {
            config: AdamConfig {
                lr,
                ..Default::default()
            },
            step: *step,
            first: pick(0),
            second: pick(2),
        }
    }
}

/// `Σ(weight ⊙ w) + Σ(bias ⊙ b)` traced into a fresh tape.
fn dot_with<D: Device<f32>>(
    layer: &Affine<D>,
    w: Vec<f32>,
    b: Vec<f32>,
) -> Tensor<(), f32, D, OwnedTape<f32, D>> {
    let dev = layer.weight.device().clone();
    let wm = dev.tensor_from_vec(w, *layer.weight.shape());
    let bm = dev.tensor_from_vec(b, *layer.bias.shape());
    let tw = (layer.weight.retaped::<OwnedTape<f32, D>>() * wm).sum();
    let tb = (layer.bias.retaped::<OwnedTape<f32, D>>() * bm).sum();
    tw + tb
}
