//! Training: the supervised objective and the semi-supervised one, Adam, seeded batches,
//! progress and checkpoints.

pub mod adam;
pub mod adversarial;
pub mod batch;
pub mod checkpoint;
mod error;
pub mod fit;
mod inner_loss;
pub mod loss;
pub mod recalibrate;
pub mod semi;
pub mod shards;
pub mod step_bench;

use crate::data::Dataset;
use crate::infer;
use crate::model::{ModelConfig, Network, Params};
use crate::progress::Progress;
use adam::Adam;
use batch::HostBatch;
use dfdx::prelude::*;
pub use error::{TrainError, MAX_BATCH_SIZE, MAX_EPOCHS, MAX_S2, MAX_SHARDS, MIN_S2};
pub use fit::{train_and_calibrate, Fitted, TrainConfig, DEFAULT_OPTIONS};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use shards::ShardPools;
pub use shards::TrainDevice;
use std::time::Instant;

/// Hyper-parameters of a training run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Passes over the training split.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Weight α of the latent term ||f(x) − μ_y||².
    pub alpha: f32,
    /// Fixed encoder variance s2 (noise ε ~ N(0, s2·I)).
    pub s2: f64,
    /// Seed for initialisation, shuffling and noise.
    pub seed: u64,
    /// Random transforms applied to training images.
    pub augment: batch::Augment,
    /// Learning-rate schedule over the whole run.
    pub schedule: LrSchedule,
    /// Parts each batch is split into and computed in parallel (CPU threads); the result
    /// depends on this number but not on thread timing.
    pub shards: usize,
    /// Semi-supervised training with a few labels per class (`None`: every label is used).
    #[serde(default)]
    pub semi: Option<semi::SemiSupervised>,
    /// The paper's fixed encoder variance, or the ablation's learned one (Figure 5).
    #[serde(default)]
    pub encoder_variance: EncoderVariance,
    /// Adversarial training (`None`: the paper's training).
    #[serde(default)]
    pub adversarial: Option<adversarial::AdversarialTraining>,
}

/// The encoder variance the paper's rule gives a latent of `latent` dimensions: 1/3000 up to
/// 10 dimensions (MNIST's), and `(10 / latent)·(1/3000)` beyond, which keeps the noise's
/// expected energy `E||ε||² = latent·s2` at MNIST's 1/300, so a sample stays as far from the
/// other class means (√2 away) as on MNIST. The paper: "1/3000 for MNIST, reduced as the
/// latent dimensionality increases" (SVHN, latent 32: 1/9600; COIL-100, latent 100: 1/30000).
pub fn default_s2(latent: usize) -> f64 {
    const MNIST_S2: f64 = 1.0 / 3000.0;
    if latent <= 10 {
        MNIST_S2
    } else {
        MNIST_S2 * 10.0 / latent as f64
    }
}

/// How the encoder's variance is set during training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncoderVariance {
    /// The paper's design: a fixed s2 for every input, so the encoder entropy is constant
    /// and only the mean is learned (Eq. 7).
    #[default]
    Fixed,
    /// The ablation of §4 (Figure 5): a log-variance head learns σ²(x) per input and the loss
    /// keeps the entropy term of the VAE bound ([`loss::supervised_learned_variance`]).
    /// Supervised training only; the exported model holds the mean path alone.
    Learned,
}

crate::choice::choice!(EncoderVariance {
    Fixed => "fixed", "the paper's fixed variance s2 (constant encoder entropy)";
    Learned => "learned", "the ablation: a learned per-input variance with the VAE entropy term";
});

/// How the learning rate changes over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant,
    /// Cosine decay from the rate to zero over all epochs' steps.
    Cosine,
}

crate::choice::choice!(LrSchedule {
    Constant => "constant", "the same rate throughout";
    Cosine => "cosine", "cosine decay from the rate to zero over the run";
});

impl TrainOptions {
    /// Checks the values the training loop relies on before any work: a batch size of 1 to
    /// [`MAX_BATCH_SIZE`], 1 to [`MAX_SHARDS`] shards, s2 in [[`MIN_S2`], [`MAX_S2`]], a learning rate in (0, 1], a
    /// positive finite α, 1 to [`MAX_EPOCHS`] epochs and sane augmentation ranges.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(1..=error::MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(TrainError::BatchSize(self.batch_size));
        }
        if !(1..=error::MAX_SHARDS).contains(&self.shards) {
            return Err(TrainError::Shards(self.shards));
        }
        if !(error::MIN_S2..=error::MAX_S2).contains(&self.s2) {
            return Err(TrainError::S2(self.s2));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return Err(TrainError::LearningRate(self.lr));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(TrainError::Alpha(self.alpha));
        }
        if !(1..=error::MAX_EPOCHS).contains(&self.epochs) {
            return Err(TrainError::Epochs {
                value: self.epochs,
                max: error::MAX_EPOCHS,
            });
        }
        if let Some(semi) = &self.semi {
            semi.validate(self.batch_size)?;
            if self.encoder_variance == EncoderVariance::Learned {
                return Err(TrainError::LearnedVarianceSemiSupervised);
            }
        }
        if let Some(adversarial) = &self.adversarial {
            adversarial.validate()?;
            if self.semi.is_some() || self.encoder_variance == EncoderVariance::Learned {
                return Err(TrainError::AdversarialCombination);
            }
        }
        self.augment.validate()
    }

    /// The learning rate for optimizer step `step` (0-based) of a run of `total` steps.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                0.5 * self.lr * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
        }
    }
}

/// What one epoch did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss terms over the epoch's batches.
    pub reconstruction: f32,
    /// Mean latent term (of the labelled images in semi-supervised training).
    pub latent: f32,
    /// Mean mixture prior term of the unlabelled images (0 in supervised training; absent
    /// from older checkpoints).
    #[serde(default)]
    pub prior: f32,
    /// Mean learned-variance penalty (0 with the fixed variance; absent from older
    /// checkpoints).
    #[serde(default)]
    pub variance_penalty: f32,
    /// Mean learned encoder variance σ² (0 with the fixed variance; absent from older
    /// checkpoints).
    #[serde(default)]
    pub encoder_variance: f32,
    /// Mean ||f(x') − μ_y||² of the perturbed images (0 without adversarial training; absent
    /// from older checkpoints).
    #[serde(default)]
    pub adversarial_latent: f32,
    /// Mean total loss.
    pub total: f32,
    /// Training throughput.
    pub images_per_second: f64,
    /// Accuracy of the nearest class mean on the monitoring split, if one was given.
    pub monitor_accuracy: Option<f64>,
    /// In adversarial training: the nearest-mean accuracy under FGSM at the full budget on
    /// the first [`ROBUST_MONITOR_IMAGES`] monitoring images.
    #[serde(default)]
    pub fgsm_accuracy: Option<f64>,
    /// In adversarial training: the same under PGD-10 (step 0.25·ε).
    #[serde(default)]
    pub pgd_accuracy: Option<f64>,
}

/// Monitoring images attacked after each adversarial epoch.
pub const ROBUST_MONITOR_IMAGES: usize = 200;

/// A model being trained and everything needed to continue it.
pub struct Trainer<D: Device<f32>> {
    /// Index tables and sizes.
    pub network: Network<D>,
    /// The parameters.
    pub params: Params<D>,
    /// The optimizer.
    pub adam: Adam<D>,
    /// The hyper-parameters.
    pub options: TrainOptions,
    /// Per-epoch statistics so far.
    pub history: Vec<EpochStats>,
    /// Worker pools of the data-parallel shards.
    pools: ShardPools,
    /// The budget of the next step's inner attack (adversarial training, after the ramp).
    adversarial_eps: f32,
}

impl<D: TrainDevice> Trainer<D> {
    /// A fresh model initialised from `options.seed`.
    pub fn new(config: ModelConfig, options: TrainOptions, dev: &D) -> Result<Self, TrainError> {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut params = Params::init(&config, dev, &mut rng);
        if options.encoder_variance == EncoderVariance::Learned {
            params = params.with_log_variance_head(&config, options.s2);
        }
        Self::resume(
            Network::new(config, dev),
            params,
            Adam::new(options.lr),
            options,
            Vec::new(),
        )
    }

    /// A trainer continuing from saved state.
    pub fn resume(
        network: Network<D>,
        params: Params<D>,
        adam: Adam<D>,
        options: TrainOptions,
        history: Vec<EpochStats>,
    ) -> Result<Self, TrainError> {
        options.validate()?;
        let pools = ShardPools::new(options.shards).map_err(|source| TrainError::Threads {
            shards: options.shards,
            source,
        })?;
        Ok(Self {
            network,
            params,
            adam,
            options,
            history,
            pools,
            adversarial_eps: options.adversarial.map_or(0.0, |a| a.eps),
        })
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.history.len()
    }

    /// One optimizer step on the training images at `indices` (augmented, with fresh encoder
    /// noise, both drawn from `rng`); returns the batch's loss terms.
    pub fn step(
        &mut self,
        train: &Dataset,
        indices: &[usize],
        rng: &mut impl rand::Rng,
    ) -> Result<loss::LossTerms, D::Err> {
        let config = *self.network.config();
        let host = HostBatch::gather(train, indices, &config, &self.options.augment, rng);
        self.step_on(host, rng)
    }

    /// One semi-supervised optimizer step: the first `labeled` of `indices` are trained with
    /// their labels, the others without; the latent and prior terms returned are the means
    /// over the labelled and the unlabelled images.
    pub fn step_partly_labeled(
        &mut self,
        train: &Dataset,
        indices: &[usize],
        labeled: usize,
        rng: &mut impl rand::Rng,
    ) -> Result<loss::LossTerms, D::Err> {
        let config = *self.network.config();
        let host = HostBatch::gather_partly_labeled(
            train,
            indices,
            labeled,
            &config,
            &self.options.augment,
            rng,
        );
        let n = host.size as f32;
        let mut terms = self.step_on(host, rng)?;
        let unlabeled = indices.len().saturating_sub(labeled);
        terms.latent *= n / labeled.max(1) as f32;
        terms.prior *= n / unlabeled.max(1) as f32;
        Ok(terms)
    }

    /// The loss weights of this run's options.
    pub fn loss_weights(&self) -> loss::LossWeights {
        loss::LossWeights {
            alpha: self.options.alpha,
            prior: self.options.semi.map_or(0.0, |s| s.prior_weight),
            s2: self.options.s2 as f32,
            adversarial: self.options.adversarial.map_or(0.0, |a| a.weight),
        }
    }

    /// The optimizer step on an assembled batch.
    fn step_on(
        &mut self,
        host: HostBatch,
        rng: &mut impl rand::Rng,
    ) -> Result<loss::LossTerms, D::Err> {
        let config = *self.network.config();
        let eps = batch::noise(rng, self.options.s2, config.latent, host.size);
        let attack = self.options.adversarial.map(|settings| {
            let start = (0..config.pixels() * host.size)
                .map(|_| rng.gen_range(-1.0f32..=1.0))
                .collect();
            adversarial::InnerAttack::new(&settings, self.adversarial_eps, start)
        });
        let (terms, mut grads) = D::loss_and_gradients(
            &self.network,
            &self.params,
            &host,
            &eps,
            attack.as_ref(),
            &self.loss_weights(),
            &self.pools,
        );
        self.adam.update(&mut self.params, &mut grads)?;
        Ok(terms)
    }

    /// Runs one epoch over `train`, reporting images done and the running loss terms to
    /// `progress`; `monitor` (if any) is evaluated afterwards for the accuracy column. A
    /// semi-supervised run ([`TrainOptions::semi`]) trains its labelled subset
    /// ([`semi::labeled_subset`] of `train` with the run's seed) with labels and one pass over
    /// every other image without ([`semi::epoch_batches`]).
    pub fn train_epoch(
        &mut self,
        train: &Dataset,
        monitor: Option<&Dataset>,
        progress: &dyn Progress,
    ) -> Result<EpochStats, TrainError> {
        let epoch = self.epochs_done() + 1;
        let config = *self.network.config();
        let mut rng = ChaCha8Rng::seed_from_u64(self.options.seed);
        rng.set_stream(epoch as u64);
        let batches: Vec<(Vec<usize>, Option<usize>)> = match self.options.semi {
            None => {
                let mut order: Vec<usize> = (0..train.len()).collect();
                order.shuffle(&mut rng);
                order
                    .chunks(self.options.batch_size)
                    .map(|c| (c.to_vec(), None))
                    .collect()
            }
            Some(semi) => {
                let labels = train.labels.as_slice().unwrap_or(&[]);
                let labeled =
                    semi::labeled_subset(labels, semi.labels_per_class, self.options.seed)
                        .map_err(TrainError::LabeledSubset)?;
                semi::epoch_batches(
                    train.len(),
                    &labeled,
                    self.options.batch_size,
                    semi.labeled_per_batch,
                    &mut rng,
                )
                .into_iter()
                .map(|(indices, count)| (indices, Some(count)))
                .collect()
            }
        };
        let images: usize = batches.iter().map(|(b, _)| b.len()).sum();

        progress.start(
            &format!("epoch {epoch}/{}", self.options.epochs),
            images as u64,
        );
        let start = Instant::now();
        let mut sums = loss::LossTerms::default();
        let steps_per_epoch = batches.len();
        let total_steps = steps_per_epoch * self.options.epochs;
        for (k, (chunk, labeled)) in batches.iter().enumerate() {
            let step = (epoch - 1) * steps_per_epoch + k;
            self.adam.set_lr(self.options.lr_at(step, total_steps));
            if let Some(adversarial) = &self.options.adversarial {
                self.adversarial_eps = adversarial.eps_at(step, steps_per_epoch);
            }
            let terms = match labeled {
                None => self.step(train, chunk, &mut rng),
                Some(count) => self.step_partly_labeled(train, chunk, *count, &mut rng),
            }
            .map_err(|e| TrainError::Device(format!("{e:?}")))?;
            sums.reconstruction += terms.reconstruction;
            sums.latent += terms.latent;
            sums.prior += terms.prior;
            sums.variance_penalty += terms.variance_penalty;
            sums.encoder_variance += terms.encoder_variance;
            sums.adversarial_latent += terms.adversarial_latent;
            sums.total += terms.total;
            let done = (k + 1) as f32;
            progress.advance(chunk.len() as u64);
            progress.status(&if self.options.adversarial.is_some() {
                format!(
                    "loss {:.3} (rec {:.3}, lat {:.4}, adv lat {:.4}, eps {:.3})",
                    sums.total / done,
                    sums.reconstruction / done,
                    sums.latent / done,
                    sums.adversarial_latent / done,
                    self.adversarial_eps
                )
            } else if self.params.log_variance.is_some() {
                format!(
                    "loss {:.3} (rec {:.3}, lat {:.4}, var penalty {:.4}, mean var {:.2e})",
                    sums.total / done,
                    sums.reconstruction / done,
                    sums.latent / done,
                    sums.variance_penalty / done,
                    sums.encoder_variance / done
                )
            } else if self.options.semi.is_some() {
                format!(
                    "loss {:.3} (rec {:.3}, lat {:.4}, prior {:.4})",
                    sums.total / done,
                    sums.reconstruction / done,
                    sums.latent / done,
                    sums.prior / done
                )
            } else {
                format!(
                    "loss {:.3} (rec {:.3}, lat {:.4})",
                    sums.total / done,
                    sums.reconstruction / done,
                    sums.latent / done
                )
            });
        }
        let batches = steps_per_epoch;
        let seconds = start.elapsed().as_secs_f64();
        progress.finish();
        let n = batches.max(1) as f32;
        let monitor_accuracy = monitor.map(|data| {
            let latents = infer::encode_all(&self.network, &self.params, data);
            infer::accuracy(&infer::nearest_means(&latents, config.classes), data)
        });
        // Catastrophic overfitting shows as PGD accuracy collapsing while FGSM accuracy
        // rises: both are measured on the first monitoring images at the full budget.
        let robust = match (monitor, &self.options.adversarial) {
            (Some(data), Some(settings)) => {
                let first: Vec<usize> = (0..data.len().min(ROBUST_MONITOR_IMAGES)).collect();
                let part = data.subset(&first);
                let (network, params) = (&self.network, &self.params);
                Some((
                    adversarial::robust_accuracy(network, params, &part, settings.eps, 1, 1.0),
                    adversarial::robust_accuracy(network, params, &part, settings.eps, 10, 2.5),
                ))
            }
            _ => None,
        };
        let stats = EpochStats {
            epoch,
            reconstruction: sums.reconstruction / n,
            latent: sums.latent / n,
            prior: sums.prior / n,
            variance_penalty: sums.variance_penalty / n,
            encoder_variance: sums.encoder_variance / n,
            adversarial_latent: sums.adversarial_latent / n,
            total: sums.total / n,
            images_per_second: images as f64 / seconds,
            monitor_accuracy,
            fgsm_accuracy: robust.map(|r| r.0),
            pgd_accuracy: robust.map(|r| r.1),
        };
        self.history.push(stats);
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::default_s2;

    #[test]
    fn the_variance_rule_keeps_mnists_noise_energy() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15;
        assert!(close(default_s2(10), 1.0 / 3000.0));
        assert!(close(default_s2(3), 1.0 / 3000.0));
        assert!(close(default_s2(32), 1.0 / 9600.0));
        assert!(close(default_s2(100), 1.0 / 30000.0));
        // latent·s2 is MNIST's 10/3000 for every latent wider than 10.
        for latent in [11, 16, 32, 64, 100, 256] {
            assert!(close(latent as f64 * default_s2(latent), 10.0 / 3000.0));
        }
    }
}
