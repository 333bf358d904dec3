//! Data-parallel training steps: a batch is split into shards whose losses and gradients are
//! computed at the same time on separate CPU threads, then summed.
//!
//! dfdx runs its element-wise kernels on the calling thread and only its matrix products use
//! rayon, so one training step keeps a single core busy most of the time. Each shard runs on
//! its own thread inside a private one-thread rayon pool (so its matrix products stay on that
//! thread too). The noise and augmentation are drawn for the whole batch before it is split,
//! so the numbers depend on the shard count but never on thread timing.

use super::adversarial::{latent_targets, perturb, AdversarialTarget, InnerAttack};
use super::batch::{self, HostBatch};
use super::loss::{self, LossTerms, LossWeights};
use crate::model::params::{Matrix, Vector};
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

/// A dfdx device the trainer can run a sharded training step on: in parallel threads on the
/// CPU, one shard after another where the device is not thread-safe (CUDA streams are not
/// `Send`), which gives the same numbers.
pub trait TrainDevice: Device<f32> {
    /// The loss terms and summed gradients of `host` (with encoder noise `noise`,
    /// `[latent, n]`) split column-wise into `pools.len()` shards: Eq. 7 when every label is
    /// used, the semi-supervised loss when `host.labeled` is set, the adversarial outer loss
    /// after the inner `attack` when one is given.
    #[allow(clippy::too_many_arguments)]
    fn loss_and_gradients(
        network: &Network<Self>,
        params: &Params<Self>,
        host: &HostBatch,
        noise: &[f32],
        attack: Option<&InnerAttack>,
        weights: &LossWeights,
        pools: &ShardPools,
    ) -> (LossTerms, Gradients<f32, Self>);
}

impl TrainDevice for Cpu {
    fn loss_and_gradients(
        network: &Network<Self>,
        params: &Params<Self>,
        host: &HostBatch,
        noise: &[f32],
        attack: Option<&InnerAttack>,
        weights: &LossWeights,
        pools: &ShardPools,
    ) -> (LossTerms, Gradients<f32, Self>) {
        let shards = shard_inputs(network, host, noise, attack, pools.len());
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = shards
                .into_iter()
                .zip(&pools.pools)
                .map(|(shard, pool)| {
                    scope.spawn(move || pool.install(|| shard.run(network, params, weights)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        combine(params, results)
    }
}

#[cfg(feature = "cuda")]
impl TrainDevice for Cuda {
    fn loss_and_gradients(
        network: &Network<Self>,
        params: &Params<Self>,
        host: &HostBatch,
        noise: &[f32],
        attack: Option<&InnerAttack>,
        weights: &LossWeights,
        pools: &ShardPools,
    ) -> (LossTerms, Gradients<f32, Self>) {
        let results = shard_inputs(network, host, noise, attack, pools.len())
            .into_iter()
            .map(|shard| shard.run(network, params, weights))
            .collect();
        combine(params, results)
    }
}

/// One shard's device inputs and its share of the batch.
struct Shard<D: Device<f32>> {
    images: Matrix<D>,
    targets: Matrix<D>,
    noise: Matrix<D>,
    labeled: Option<Vector<D>>,
    attack: Option<InnerAttack>,
    weight: f32,
}

impl<D: Device<f32>> Shard<D> {
    /// Loss terms and the gradients of `weight` times the shard's mean loss.
    fn run(
        self,
        network: &Network<D>,
        params: &Params<D>,
        weights: &LossWeights,
    ) -> ShardResult<D> {
        if let Some(attack) = &self.attack {
            // `TrainOptions::validate` allows adversarial training only with every label and
            // the fixed variance.
            let adversarial = perturb(network, params, &self.images, &self.targets, attack);
            let adversarial_targets = match attack.target {
                AdversarialTarget::TrueClass => self.targets.clone(),
                AdversarialTarget::Reject => {
                    let shape = *self.targets.shape();
                    let targets = latent_targets(
                        attack,
                        &self.images.as_vec(),
                        &adversarial.as_vec(),
                        &self.targets.as_vec(),
                        shape.1,
                        network.config().classes,
                    );
                    network.device().tensor_from_vec(targets, shape)
                }
            };
            let (terms, grads) = loss::supervised_adversarial(
                network,
                params,
                self.images,
                adversarial,
                self.targets,
                adversarial_targets,
                self.noise,
                weights.alpha,
                weights.adversarial,
                self.weight,
            );
            return (terms, grads, self.weight);
        }
        let (terms, grads) = match (self.labeled, &params.log_variance) {
            (None, Some(head)) => loss::supervised_learned_variance(
                network,
                params,
                head,
                self.images,
                self.targets,
                self.noise * (1.0 / weights.s2.sqrt()),
                weights,
                self.weight,
            ),
            (None, None) => loss::supervised(
                network,
                params,
                self.images,
                self.targets,
                self.noise,
                weights.alpha,
                self.weight,
            ),
            // `TrainOptions::validate` refuses a learned variance with semi-supervised
            // training, so the head is never present here.
            (Some(labeled), _) => loss::semi_supervised(
                network,
                params,
                self.images,
                self.targets,
                labeled,
                self.noise,
                weights,
                self.weight,
            ),
        };
        (terms, grads, self.weight)
    }
}

/// A shard's loss terms, gradients and weight.
type ShardResult<D> = (LossTerms, Gradients<f32, D>, f32);

/// Splits the batch's columns into `shards` device inputs.
fn shard_inputs<D: Device<f32>>(
    network: &Network<D>,
    host: &HostBatch,
    noise: &[f32],
    attack: Option<&InnerAttack>,
    shards: usize,
) -> Vec<Shard<D>> {
    let config = network.config();
    let dev = network.device();
    let n = host.size;
    batch::split_columns(n, shards)
        .into_iter()
        .map(|(start, len)| {
            let columns = |m: &[f32], rows: usize| {
                dev.tensor_from_vec(batch::columns(m, rows, n, start, len), (rows, len))
            };
            Shard {
                images: columns(&host.images, config.pixels()),
                targets: columns(&host.targets, config.latent),
                noise: columns(noise, config.latent),
                labeled: host.labeled.as_ref().map(|m| {
                    let part = m.get(start..start + len).unwrap_or(&[]).to_vec();
                    dev.tensor_from_vec(part, (len,))
                }),
                attack: attack.map(|a| a.columns(config.pixels(), n, start, len)),
                weight: len as f32 / n as f32,
            }
        })
        .collect()
}

/// Weighted loss terms and summed gradients of all shards, in shard order.
fn combine<D: Device<f32>>(
    params: &Params<D>,
    results: Vec<ShardResult<D>>,
) -> (LossTerms, Gradients<f32, D>) {
    let mut terms = LossTerms::default();
    let mut total: Option<Gradients<f32, D>> = None;
    for (t, grads, w) in results {
        terms.reconstruction += w * t.reconstruction;
        terms.latent += w * t.latent;
        terms.prior += w * t.prior;
        terms.variance_penalty += w * t.variance_penalty;
        terms.encoder_variance += w * t.encoder_variance;
        terms.adversarial_latent += w * t.adversarial_latent;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, Preset};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Largest gap between one shard's and two shards' summed gradients, relative to the
    /// largest gradient of the layer: both sum the same per-image terms, in another order.
    const SHARD_GRADIENT_TOLERANCE: f32 = 1e-5;

    /// Relative gap allowed between dfdx's loss and the f64 hand computation (f32 sums of
    /// 784-pixel squared errors).
    const LOSS_TOLERANCE: f64 = 1e-5;

    const ALPHA: f32 = 200.0;

    const WEIGHTS: LossWeights = LossWeights {
        alpha: ALPHA,
        prior: ALPHA,
        s2: 1.0 / 3000.0,
        adversarial: 1.0,
    };

    /// A tiny model, a batch of 6 random images with labels, and encoder noise.
    fn setup() -> (Network<Cpu>, Params<Cpu>, HostBatch, Vec<f32>) {
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
        let dev = Cpu::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let params = Params::init(&config, &dev, &mut rng);
        let n = 6;
        let labels: Vec<u8> = (0..n).map(|i| (i * 3 % 10) as u8).collect();
        let host = HostBatch {
            images: (0..config.pixels() * n).map(|_| rng.gen::<f32>()).collect(),
            targets: batch::one_hot_columns(labels.into_iter(), config.latent, n),
            size: n,
            labeled: None,
        };
        let noise = batch::noise(&mut rng, 1.0 / 3000.0, config.latent, n);
        (Network::new(config, &dev), params, host, noise)
    }

    /// The network's forward passes on the batch: `z = f(x)`, `z + ε` and `g(z + ε)`, each
    /// `[rows, n]` row-major.
    fn forward(
        network: &Network<Cpu>,
        params: &Params<Cpu>,
        host: &HostBatch,
        noise: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let config = network.config();
        let n = host.size;
        let dev = network.device();
        let x = dev.tensor_from_vec(host.images.clone(), (config.pixels(), n));
        let z = network.encode(params, x).as_vec();
        let noisy: Vec<f32> = z.iter().zip(noise).map(|(a, e)| a + e).collect();
        let g = network
            .decode(
                params,
                dev.tensor_from_vec(noisy.clone(), (config.latent, n)),
            )
            .as_vec();
        (z, noisy, g)
    }

    #[test]
    fn a_learned_variance_at_s2_is_eq7_and_its_penalty_is_the_scaled_kl_term() {
        let (network, params, host, noise) = setup();
        let config = *network.config();
        let pools = ShardPools::new(1).unwrap();
        let (fixed, fixed_grads) =
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &pools);
        // A head that outputs ln s2 everywhere: the same sample, the same loss, the same
        // gradients of the shared layers.
        let learned = params
            .clone()
            .with_log_variance_head(&config, f64::from(WEIGHTS.s2));
        let (terms, grads) =
            Cpu::loss_and_gradients(&network, &learned, &host, &noise, None, &WEIGHTS, &pools);
        let near = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs().max(1e-3);
        assert!(near(terms.total, fixed.total), "{terms:?} vs {fixed:?}");
        assert!(terms.variance_penalty.abs() < 1e-6, "{terms:?}");
        assert!(near(terms.encoder_variance, WEIGHTS.s2), "{terms:?}");
        for (a, b) in learned
            .mean_path_layers()
            .iter()
            .zip(params.mean_path_layers())
        {
            let (ga, gb) = (
                grads.get(&a.weight).as_vec(),
                fixed_grads.get(&b.weight).as_vec(),
            );
            let scale = gb.iter().fold(0f32, |m, v| m.max(v.abs()));
            let gap = ga
                .iter()
                .zip(&gb)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(gap <= 1e-4 * scale, "gap {gap} of {scale}");
        }
        // Twice the variance in every dimension: the penalty is latent·s2·(1 − ln 2) per
        // image, whatever the image.
        let (rows, cols, weight, bias) = learned.log_variance_to_host().unwrap();
        let doubled = bias.iter().map(|b| b + 2f32.ln()).collect();
        let wider = params.with_log_variance_from_host((rows, cols, weight, doubled));
        let (terms, _) =
            Cpu::loss_and_gradients(&network, &wider, &host, &noise, None, &WEIGHTS, &pools);
        let s2 = f64::from(WEIGHTS.s2);
        let expected = config.latent as f64 * s2 * (1.0 - 2f64.ln());
        assert!(
            (f64::from(terms.variance_penalty) - expected).abs() < 1e-3 * expected,
            "{} vs {expected}",
            terms.variance_penalty
        );
        assert!(near(terms.encoder_variance, 2.0 * WEIGHTS.s2), "{terms:?}");
    }

    #[test]
    fn eq7_loss_is_the_batch_mean_of_reconstruction_plus_alpha_latent_distance() {
        let (network, params, host, noise) = setup();
        let config = *network.config();
        let (n, pixels, latent) = (host.size, config.pixels(), config.latent);
        let pools = ShardPools::new(1).unwrap();
        let (terms, _) =
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &pools);

        // By hand: z = f(x) and g(z + ε) from the network's forward passes, then Eq. 7 in f64.
        let (z, _, g) = forward(&network, &params, &host, &noise);
        let column_sum = |values: &[f32], other: &[f32], rows: usize, col: usize| -> f64 {
            (0..rows)
                .map(|r| f64::from(values[r * n + col]) - f64::from(other[r * n + col]))
                .map(|d| d * d)
                .sum()
        };
        let rec: f64 = (0..n)
            .map(|c| column_sum(&host.images, &g, pixels, c))
            .sum::<f64>()
            / n as f64;
        let lat: f64 = (0..n)
            .map(|c| column_sum(&z, &host.targets, latent, c))
            .sum::<f64>()
            / n as f64;
        let total = rec + f64::from(ALPHA) * lat;
        let close = |ours: f32, hand: f64| (f64::from(ours) - hand).abs() <= LOSS_TOLERANCE * hand;
        assert!(
            close(terms.reconstruction, rec),
            "{} vs {rec}",
            terms.reconstruction
        );
        assert!(close(terms.latent, lat), "{} vs {lat}", terms.latent);
        assert!(close(terms.total, total), "{} vs {total}", terms.total);
        // A random model is far from the class means: both terms carry weight in the total.
        assert!(rec > 1.0 && f64::from(ALPHA) * lat > 1.0, "{rec} {lat}");
    }

    #[test]
    fn one_shard_and_two_shards_give_the_same_loss_and_summed_gradients() {
        let (network, params, host, noise) = setup();
        let run = |shards: usize| {
            let pools = ShardPools::new(shards).unwrap();
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &pools)
        };
        let (one, one_grads) = run(1);
        let (two, two_grads) = run(2);
        let rel = |a: f32, b: f32| (a - b).abs() / a.abs().max(1e-12);
        assert!(
            rel(one.total, two.total) < SHARD_GRADIENT_TOLERANCE,
            "{one:?} {two:?}"
        );
        for (k, layer) in params.layers().iter().enumerate() {
            for (name, a, b) in [
                (
                    "weight",
                    one_grads.get(&layer.weight).as_vec(),
                    two_grads.get(&layer.weight).as_vec(),
                ),
                (
                    "bias",
                    one_grads.get(&layer.bias).as_vec(),
                    two_grads.get(&layer.bias).as_vec(),
                ),
            ] {
                let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0, "layer {k} {name}: no gradient at all");
                let gap = a
                    .iter()
                    .zip(&b)
                    .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    gap <= SHARD_GRADIENT_TOLERANCE * scale,
                    "layer {k} {name}: gap {gap} of {scale}"
                );
            }
        }
    }
    #[test]
    fn semi_supervised_loss_is_eq7_for_labelled_and_reconstruction_plus_prior_for_unlabelled() {
        let (network, params, mut host, noise) = setup();
        let config = *network.config();
        let (n, pixels, latent) = (host.size, config.pixels(), config.latent);
        let mask = vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        host.labeled = Some(mask.clone());
        let pools = ShardPools::new(1).unwrap();
        let (terms, _) =
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &pools);

        let (z, noisy, g) = forward(&network, &params, &host, &noise);
        let column = |m: &[f32], rows: usize, c: usize| -> Vec<f64> {
            (0..rows).map(|r| f64::from(m[r * n + c])).collect()
        };
        let sq =
            |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
        let (mut rec, mut lat, mut prior, mut total) = (0.0, 0.0, 0.0, 0.0);
        for (c, &m) in mask.iter().enumerate() {
            let r = sq(&column(&host.images, pixels, c), &column(&g, pixels, c));
            rec += r;
            if m == 1.0 {
                let l = sq(&column(&z, latent, c), &column(&host.targets, latent, c));
                lat += l;
                total += r + f64::from(WEIGHTS.alpha) * l;
            } else {
                let u = loss::mixture_prior_reference(
                    &column(&noisy, latent, c),
                    config.classes,
                    f64::from(WEIGHTS.s2),
                );
                prior += u;
                total += r + f64::from(WEIGHTS.prior) * u;
            }
        }
        let nf = n as f64;
        let close = |ours: f32, hand: f64| {
            (f64::from(ours) - hand).abs() <= LOSS_TOLERANCE * hand.abs().max(1.0)
        };
        for (name, ours, hand) in [
            ("reconstruction", terms.reconstruction, rec),
            ("latent", terms.latent, lat),
            ("prior", terms.prior, prior),
            ("total", terms.total, total),
        ] {
            assert!(close(ours, hand / nf), "{name}: {ours} vs {}", hand / nf);
        }
        assert!(
            prior > 0.1 && lat > 0.1,
            "both terms carry weight: {prior} {lat}"
        );

        // Two shards sum the same per-image terms.
        let two = ShardPools::new(2).unwrap();
        let (split, _) =
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &two);
        let rel = |a: f32, b: f32| (a - b).abs() / a.abs().max(1e-12);
        assert!(
            rel(terms.total, split.total) < SHARD_GRADIENT_TOLERANCE,
            "{terms:?} {split:?}"
        );
        assert!(
            rel(terms.prior, split.prior) < SHARD_GRADIENT_TOLERANCE,
            "{terms:?} {split:?}"
        );
    }
    #[test]
    fn semi_supervised_gradients_reduce_to_eq7_when_every_image_is_labelled() {
        let (network, params, mut host, noise) = setup();
        let pools = ShardPools::new(1).unwrap();
        let (plain, plain_grads) =
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &pools);
        host.labeled = Some(vec![1.0; host.size]);
        let (semi, semi_grads) =
            Cpu::loss_and_gradients(&network, &params, &host, &noise, None, &WEIGHTS, &pools);
        let rel = |a: f32, b: f32| (a - b).abs() / a.abs().max(1e-12);
        assert!(
            rel(plain.total, semi.total) < SHARD_GRADIENT_TOLERANCE,
            "{plain:?} {semi:?}"
        );
        assert_eq!(semi.prior, 0.0);
        for (k, layer) in params.layers().iter().enumerate() {
            let a = plain_grads.get(&layer.weight).as_vec();
            let b = semi_grads.get(&layer.weight).as_vec();
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            let gap = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            // Exactly equal: the prior's zero weight adds nothing, and nothing it does on the
            // tape disturbs the other terms' gradients.
            assert!(scale > 0.0 && gap == 0.0, "layer {k}: {gap} of {scale}");
        }
    }
}
