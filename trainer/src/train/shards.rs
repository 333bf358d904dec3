//! Data-parallel training steps on the CPU: a batch is split into shards whose losses and
//! gradients are computed at the same time on separate threads, then summed.
//!
//! dfdx runs its element-wise kernels on the calling thread and only its matrix products use
//! rayon, so one training step keeps a single core busy most of the time. Each shard runs on
//! its own thread inside a private one-thread rayon pool (so its matrix products stay on that
//! thread too). The noise and augmentation are drawn for the whole batch before it is split,
//! so the numbers depend on the shard count but never on thread timing.

use super::batch::{self, HostBatch};
use super::loss::{self, LossTerms};
use crate::model::{Network, Params};
use dfdx::prelude::*;

/// One private single-thread pool per shard.
pub struct ShardPools {
    pools: Vec<rayon::ThreadPool>,
}

impl ShardPools {
    /// Pools for `shards` shards (at least one).
    pub fn new(shards: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pools = (0..shards.max(1))
            .map(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .collect::<Result<_, _>>()?;
        Ok(Self { pools })
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.pools.len()
    }

    /// Whether there are no shards (never: at least one pool is built).
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }
}

/// The loss terms and summed gradients of `host` (with encoder noise `noise`, `[latent, n]`)
/// split column-wise into `pools.len()` shards.
pub fn loss_and_gradients<D: Device<f32> + Send + Sync>(
    network: &Network<D>,
    params: &Params<D>,
    host: &HostBatch,
    noise: &[f32],
    alpha: f32,
    pools: &ShardPools,
) -> (LossTerms, Gradients<f32, D>) {
    let config = network.config();
    let dev = network.device();
    let n = host.size;
    let parts = batch::split_columns(n, pools.len());
    let results: Vec<(LossTerms, Gradients<f32, D>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .zip(&pools.pools)
            .map(|(&(start, len), pool)| {
                let columns = |m: &[f32], rows: usize| {
                    let part = batch::columns(m, rows, n, start, len);
                    dev.tensor_from_vec(part, (rows, len))
                };
                let images = columns(&host.images, config.pixels());
                let targets = columns(&host.targets, config.latent);
                let eps = columns(noise, config.latent);
                let weight = len as f32 / n as f32;
                scope.spawn(move || {
                    pool.install(|| {
                        let (terms, grads) =
                            loss::supervised(network, params, images, targets, eps, alpha, weight);
                        (terms, grads, len)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut terms = LossTerms::default();
    let mut total: Option<Gradients<f32, D>> = None;
    for (t, grads, len) in results {
        let w = len as f32 / n as f32;
        terms.reconstruction += w * t.reconstruction;
        terms.latent += w * t.latent;
        terms.total += w * t.total;
        total = Some(match total {
            None => grads,
            Some(acc) => add_gradients(params, acc, &grads),
        });
    }
    (terms, total.unwrap_or_else(Gradients::leaky))
}

/// `into + from` for every parameter's gradient, on any device: the gradient of
/// `Σ_p Σ(p ⊙ from_p)` is `from_p`, and dfdx's backward pass adds into existing gradients.
fn add_gradients<D: Device<f32>>(
    params: &Params<D>,
    into: Gradients<f32, D>,
    from: &Gradients<f32, D>,
) -> Gradients<f32, D> {
    let dev = params.encoder.conv1.weight.device().clone();
    let mut total = dev.zeros::<Rank0>().traced(into);
    for layer in params.layers() {
        let w = layer.weight.retaped::<OwnedTape<f32, D>>() * from.get(&layer.weight);
        let b = layer.bias.retaped::<OwnedTape<f32, D>>() * from.get(&layer.bias);
        total = total + w.sum() + b.sum();
    }
    total.backward()
}
