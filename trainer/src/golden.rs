//! The golden-fixture conformance set (`fixtures/golden/`): how its model is trained and which
//! inputs it holds. The files themselves are written by the maintainers' example
//! `cargo run --release -p gmvae-trainer --example golden_fixtures` (see `fixtures/README.md`);
//! tests use this module to check that the committed inputs are still the ones selected here.

use crate::data::Dataset;
use crate::model::Preset;
use crate::train::TrainConfig;

/// The `gmvae train` flags equivalent to [`train_config`], recorded in `expected.json`.
pub const TRAINING_FLAGS: &str =
    "--dataset mnist10k --preset edge --epochs 4 --seed 2019 --shards 2 --device cpu";

/// Seed of the SplitMix64 stream behind the noise inputs.
const NOISE_SEED: u64 = 2019;

/// The golden model's training run ([`TRAINING_FLAGS`] on the bundled MNIST-10k, on the
/// CPU): the edge preset, 4 epochs, seed 2019, 2 shards, every other setting the default.
/// Changing it changes the golden model: regenerate the fixtures and say so in the commit.
pub fn train_config() -> TrainConfig {
    let mut config = TrainConfig {
        preset: Some(Preset::Edge),
        ..TrainConfig::default()
    };
    config.options.epochs = 4;
    config.options.seed = 2019;
    config.options.shards = 2;
    config
}

/// Why the golden inputs cannot be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GoldenError {
    /// The test images are not the model's size.
    #[error("the test images have {found} values, the model expects {expected}")]
    ImageLength {
        /// Values per test image.
        found: usize,
        /// Values the model expects.
        expected: usize,
    },
    /// A class has fewer than two test digits.
    #[error("class {0} has fewer than two test digits")]
    TooFewDigits(usize),
}

/// One golden input.
#[derive(Clone, Debug, PartialEq)]
pub struct GoldenInput {
    /// A short unique name, e.g. `digit-3-b` or `uniform-noise`.
    pub name: String,
    /// Where it comes from, in words.
    pub source: String,
    /// The dataset label, for test digits.
    pub true_label: Option<usize>,
    /// `C·H·W` values in `[0, 1]`.
    pub pixels: Vec<f32>,
}

/// The golden inputs: the first two test digits of each class (in test-split order, class
/// by class), then four out-of-distribution images: uniform noise, all black, all white,
/// and the first golden digit with ±0.3 sign noise (an FGSM-shaped perturbation with a
/// pseudo-random sign instead of the gradient's), clipped to `[0, 1]`. Noise comes from
/// SplitMix64, so the inputs are the same bits everywhere.
pub fn golden_inputs(test: &Dataset, image_len: usize) -> Result<Vec<GoldenInput>, GoldenError> {
    if test.shape.pixels() != image_len {
        return Err(GoldenError::ImageLength {
            found: test.shape.pixels(),
            expected: image_len,
        });
    }
    let mut inputs = Vec::new();
    for class in 0..test.num_classes() {
        let found: Vec<usize> = (0..test.len())
            .filter(|&i| usize::from(test.labels[i]) == class)
            .take(2)
            .collect();
        if found.len() != 2 {
            return Err(GoldenError::TooFewDigits(class));
        }
        for (k, &i) in found.iter().enumerate() {
            inputs.push(GoldenInput {
                name: format!("digit-{class}-{}", ["a", "b"][k]),
                source: format!("bundled MNIST-10k test image {i}"),
                true_label: Some(class),
                pixels: test.image(i).to_vec(),
            });
        }
    }
    let mut rng = SplitMix64(NOISE_SEED);
    inputs.push(GoldenInput {
        name: "uniform-noise".into(),
        source: format!(
            "uniform in [0, 1): (u >> 40) / 2^24, u from SplitMix64 seeded {NOISE_SEED}"
        ),
        true_label: None,
        pixels: (0..image_len).map(|_| rng.unit()).collect(),
    });
    inputs.push(GoldenInput {
        name: "all-black".into(),
        source: "every value 0".into(),
        true_label: None,
        pixels: vec![0.0; image_len],
    });
    inputs.push(GoldenInput {
        name: "all-white".into(),
        source: "every value 1".into(),
        true_label: None,
        pixels: vec![1.0; image_len],
    });
    let base = inputs
        .first()
        .cloned()
        .ok_or(GoldenError::TooFewDigits(0))?;
    inputs.push(GoldenInput {
        name: "sign-noise-digit".into(),
        source: format!(
            "{} + 0.3·s, s = ±1 from SplitMix64 (continuing the noise stream), clipped to [0, 1]",
            base.name
        ),
        true_label: base.true_label,
        pixels: base
            .pixels
            .iter()
            .map(|&x| {
                let s = if rng.next_u64() >> 63 == 1 { 0.3 } else { -0.3 };
                (x + s).clamp(0.0, 1.0)
            })
            .collect(),
    });
    Ok(inputs)
}

/// SplitMix64, so the noise inputs do not depend on any crate's RNG.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 random bits.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}
