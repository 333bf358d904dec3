//! The golden-fixture conformance set (`fixtures/golden/`): how its model is trained and which
//! inputs it holds. The files themselves are written by the maintainers' example
//! `cargo run --release -p gmvae-trainer --example golden_fixtures` (see `fixtures/README.md`);
//! tests use this module to check that the committed inputs are still the ones selected here.

use crate::data::{Dataset, ImageShape, Split};
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

/// What the colour golden model's training run is, in words (recorded in its
/// `expected.json`): the library's `train_and_calibrate` on [`tinted_digits`] of the bundled
/// MNIST-10k with [`colour_train_config`].
pub const COLOUR_TRAINING: &str =
    "train_and_calibrate on golden::tinted_digits(MNIST-10k) (3x32x32): \
     --preset edge --latent 16 --s2 1/4800 --epochs 4 --seed 2019 --shards 2 --device cpu";

/// Seed of the SplitMix64 stream behind the tinted digits' colours.
const TINT_SEED: u64 = 2020;

/// The colour golden model's training run: the edge preset on 3×32×32 images with a latent of
/// 16 (wider than the 10 classes, so the class means are zero-padded one-hots) and the
/// variance rule's s2 for it ([`crate::train::default_s2`]: 1/4800), 4 epochs, seed 2019,
/// 2 shards. Changing it changes the colour golden model: regenerate and say so.
pub fn colour_train_config() -> TrainConfig {
    let mut config = train_config();
    config.latent = Some(COLOUR_LATENT);
    config.options.s2 = crate::train::default_s2(COLOUR_LATENT);
    config
}

/// Latent dimension of the colour golden model.
const COLOUR_LATENT: usize = 16;

/// The colour golden set's images, a deterministic stand-in for SVHN's 32×32 colour digits
/// where the real data is absent: every image of `split` (28×28 grey) padded by 2 pixels a
/// side and painted in an ink and a background colour drawn per image from SplitMix64
/// seeded 2020 (so colour carries no label; dark ink on light ground or the reverse, by a
/// coin flip). Each byte is `(bg·(255 − v) + ink·(255·v) + 127) / 255` in integers, for the
/// digit's byte `v`. The split keeps its class names and is called `tinted-<name>`.
pub fn tinted_digits(split: &Split) -> Result<Split, GoldenError> {
    let mut rng = SplitMix64(TINT_SEED);
    let mut tint = |data: &Dataset| -> Result<Dataset, GoldenError> {
        let ImageShape {
            channels,
            height,
            width,
        } = data.shape;
        if channels != 1 {
            return Err(GoldenError::NotGrey(channels));
        }
        let (out_h, out_w) = (height + 4, width + 4);
        let mut pixels = Vec::with_capacity(data.len() * 3 * out_h * out_w);
        for image in data.images.rows() {
            let mut colour = || (rng.next_u64() >> 56) as u32 / 2;
            let mut ink: [u32; 3] = [colour() + 128, colour() + 128, colour() + 128];
            let mut ground: [u32; 3] = [colour(), colour(), colour()];
            if rng.next_u64() >> 63 == 1 {
                std::mem::swap(&mut ink, &mut ground);
            }
            for (&ink, &ground) in ink.iter().zip(&ground) {
                for row in 0..out_h {
                    for col in 0..out_w {
                        let inside =
                            (2..height + 2).contains(&row) && (2..width + 2).contains(&col);
                        let v = if inside {
                            let value = image[(row - 2) * width + (col - 2)];
                            (value * 255.0).round().clamp(0.0, 255.0) as u32
                        } else {
                            0
                        };
                        pixels.push(((ground * (255 - v) + ink * v + 127) / 255) as u8);
                    }
                }
            }
        }
        let shape = ImageShape {
            channels: 3,
            height: out_h,
            width: out_w,
        };
        Dataset::from_bytes(
            &pixels,
            data.labels.to_vec(),
            shape,
            data.class_names.clone(),
        )
        .map_err(|e| GoldenError::Tint(e.to_string()))
    };
    Ok(Split {
        name: format!("tinted-{}", split.name),
        train: tint(&split.train)?,
        test: tint(&split.test)?,
    })
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
    /// Only grey images can be tinted.
    #[error("only grey images can be tinted, not {0}-channel ones")]
    NotGrey(usize),
    /// The tinted images do not form a dataset.
    #[error("cannot build the tinted digits: {0}")]
    Tint(String),
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
///
/// `source` names the test split in each digit's description (e.g. `bundled MNIST-10k`).
pub fn golden_inputs(
    test: &Dataset,
    image_len: usize,
    source: &str,
) -> Result<Vec<GoldenInput>, GoldenError> {
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
                source: format!("{source} test image {i}"),
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
