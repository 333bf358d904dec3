//! A training step on synthetic data, for throughput measurements (`gmvae bench train` and the
//! criterion bench `train_step`): exactly the step [`Trainer::train_epoch`] takes, without
//! the epoch around it.

use super::batch::Augment;
use super::{EncoderVariance, LrSchedule, TrainError, TrainOptions, Trainer};
use crate::data::{Dataset, ImageShape};
use crate::error::Error;
use crate::model::fused::LayerKernels;
use crate::model::ModelConfig;
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A CPU trainer on seeded synthetic data, stepped exactly as
/// [`Trainer::train_epoch`] steps it (no augmentation,
/// constant learning rate). Shared by `gmvae bench train` and the
/// umbrella crate's `benches/train_step.rs`.
pub struct StepBench {
    trainer: Trainer<Cpu>,
    data: Dataset,
    rng: ChaCha8Rng,
    batch_size: usize,
    next: usize,
}

/// Synthetic images per benchmark (the steps cycle through them).
const SYNTHETIC_IMAGES: usize = 1024;

impl StepBench {
    /// A fresh model of `config` (seeded by `seed`) with the paper's hyper-parameters and
    /// batches of `batch_size` synthetic images.
    pub fn new(
        config: ModelConfig,
        batch_size: usize,
        shards: usize,
        seed: u64,
    ) -> Result<Self, Error> {
        let options = TrainOptions {
            epochs: 1,
            batch_size,
            lr: 1e-3,
            alpha: 100.0,
            s2: 1.0 / 3000.0,
            seed,
            augment: Augment::NONE,
            schedule: LrSchedule::Constant,
            shards,
            semi: None,
            encoder_variance: EncoderVariance::Fixed,
            adversarial: None,
        };
        options.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let count = SYNTHETIC_IMAGES.max(batch_size);
        let shape = ImageShape {
            channels: config.in_channels,
            height: config.height,
            width: config.width,
        };
        let pixels: Vec<u8> = (0..count * shape.pixels()).map(|_| rng.gen()).collect();
        let labels = (0..count)
            .map(|_| rng.gen_range(0..config.classes as u8))
            .collect();
        let names = (0..config.classes).map(|k| k.to_string()).collect();
        let data = Dataset::from_bytes(&pixels, labels, shape, names)?;
        Ok(Self {
            trainer: Trainer::new(config, options, &Cpu::seed_from_u64(seed))?,
            data,
            rng,
            batch_size,
            next: 0,
        })
    }

    /// The same benchmark with the convolution stages run by `kernels`.
    pub fn with_kernels(mut self, kernels: LayerKernels) -> Self {
        self.trainer.network = self.trainer.network.with_kernels(kernels);
        self
    }

    /// One optimizer step on the next batch; returns its loss.
    pub fn step(&mut self) -> Result<f32, TrainError> {
        let indices: Vec<usize> = (0..self.batch_size)
            .map(|k| (self.next + k) % self.data.len())
            .collect();
        self.next = (self.next + self.batch_size) % self.data.len();
        let terms = self
            .trainer
            .step(&self.data, &indices, &mut self.rng)
            .map_err(|e| TrainError::Device(format!("{e:?}")))?;
        Ok(terms.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Preset;

    #[test]
    fn a_tiny_step_trains() {
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
        let mut bench = StepBench::new(config, 4, 2, 1).unwrap();
        let first = bench.step().unwrap();
        assert!(first.is_finite());
        assert_eq!(bench.trainer.adam.steps(), 1);
    }

    #[test]
    fn batch_sizes_and_shard_counts_out_of_range_are_refused_before_allocating() {
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
        for batch in [0, crate::train::MAX_BATCH_SIZE + 1, usize::MAX] {
            assert!(matches!(
                StepBench::new(config, batch, 1, 1),
                Err(Error::Train(TrainError::BatchSize(b))) if b == batch
            ));
        }
        for shards in [0, crate::train::MAX_SHARDS + 1] {
            assert!(matches!(
                StepBench::new(config, 4, shards, 1),
                Err(Error::Train(TrainError::Shards(s))) if s == shards
            ));
        }
    }
}
