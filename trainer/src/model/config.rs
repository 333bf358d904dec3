//! Model sizes: the paper's architecture family with a paper-sized default and an edge preset.

use crate::choice::Choice;
use serde::{Deserialize, Serialize};

/// Sizes of one member of the model family.
///
/// Encoder: conv3×3 (`in_channels`→`conv1`) ReLU, max-pool 2 → conv3×3 (`conv1`→`conv2`) ReLU,
/// max-pool 2 → dense (`flat_features`→`hidden`) ReLU → dense (`hidden`→`latent`).
/// Decoder: dense (`latent`→`hidden`) ReLU → dense (`hidden`→`flat_features`) ReLU → reshape →
/// nearest upsample 2× → conv3×3 (`conv2`→`conv1`) ReLU → upsample 2× → conv3×3
/// (`conv1`→`in_channels`) → sigmoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Image channels (1 for MNIST).
    pub in_channels: usize,
    /// Image height; divisible by 4.
    pub height: usize,
    /// Image width; divisible by 4.
    pub width: usize,
    /// Channels of the first encoder convolution (and of the last decoder hidden convolution).
    pub conv1: usize,
    /// Channels of the second encoder convolution (and of the decoder's reshaped dense output).
    pub conv2: usize,
    /// Hidden units of the dense layers.
    pub hidden: usize,
    /// Latent dimension; at least `classes`.
    pub latent: usize,
    /// Number of classes (mixture components).
    pub classes: usize,
}

/// Named size presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// The paper's sizes: 3×3 convolutions with 32/64 channels, 256 hidden units.
    Paper,
    /// The paper's convolutions with 1,024 hidden units, the dense width of Madry et al.'s
    /// MNIST network: more capacity for adversarial training (≈6.5 M parameters).
    Wide,
    /// A small model for microcontrollers: 8/16 channels, 64 hidden units (≈0.4 MB of f32).
    Edge,
    /// A tiny model for tests: 4/8 channels, 16 hidden units.
    Tiny,
}

crate::choice::choice!(Preset {
    Paper => "paper", "the paper's sizes: 32/64 channels, 256 hidden units";
    Wide => "wide", "for adversarial training: 32/64 channels, 1,024 hidden units";
    Edge => "edge", "for microcontrollers: 8/16 channels, 64 hidden units";
    Tiny => "tiny", "for tests: 4/8 channels, 16 hidden units";
});

/// Why a configuration cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Height or width is zero or not divisible by 4.
    #[error("image size {height}x{width} must be non-zero and divisible by 4")]
    ImageSize {
        /// Requested height.
        height: usize,
        /// Requested width.
        width: usize,
    },
    /// Fewer latent dimensions than classes.
    #[error("latent dimension {latent} must be at least the number of classes {classes}")]
    LatentTooSmall {
        /// Requested latent dimension.
        latent: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A size that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// A size beyond what the model file format can hold.
    #[error("{name} {value} is more than a model file can hold ({max})")]
    TooLarge {
        /// Which size.
        name: &'static str,
        /// Requested value.
        value: usize,
        /// The format's limit (`gmvae_format::limits`).
        max: usize,
    },
}

impl ModelConfig {
    /// The sizes of `preset` for images of the given shape and class count; latent = classes
    /// unless `latent` is given.
    pub fn from_preset(
        preset: Preset,
        (in_channels, height, width): (usize, usize, usize),
        classes: usize,
        latent: Option<usize>,
    ) -> Result<Self, ConfigError> {
        let (conv1, conv2, hidden) = match preset {
            Preset::Paper => (32, 64, 256),
            Preset::Wide => (32, 64, 1024),
            Preset::Edge => (8, 16, 64),
            Preset::Tiny => (4, 8, 16),
        };
        let config = Self {
            in_channels,
            height,
            width,
            conv1,
            conv2,
            hidden,
            latent: latent.unwrap_or(classes),
            classes,
        };
        config.validate()?;
        Ok(config)
    }

    /// The preset whose sizes these are, if any (a checkpoint records sizes, not names).
    pub fn preset(&self) -> Option<Preset> {
        Preset::ALL.iter().copied().find(|&p| {
            Self::from_preset(
                p,
                (self.in_channels, self.height, self.width),
                self.classes,
                Some(self.latent),
            )
            .is_ok_and(|c| c == *self)
        })
    }

    /// Checks the invariants the model relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.height == 0
            || self.width == 0
            || !self.height.is_multiple_of(4)
            || !self.width.is_multiple_of(4)
        {
            return Err(ConfigError::ImageSize {
                height: self.height,
                width: self.width,
            });
        }
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("conv1", self.conv1),
            ("conv2", self.conv2),
            ("hidden", self.hidden),
            ("classes", self.classes),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.latent < self.classes {
            return Err(ConfigError::LatentTooSmall {
                latent: self.latent,
                classes: self.classes,
            });
        }
        // The limits the exported file must respect, checked before any training.
        use gmvae_format::limits as fl;
        for (name, value, max) in [
            ("latent dimension", self.latent, fl::MAX_LATENT),
            ("class count", self.classes, fl::MAX_CLASSES),
            ("input channels", self.in_channels, fl::MAX_CHANNELS),
            ("image height", self.height, fl::MAX_SPATIAL),
            ("image width", self.width, fl::MAX_SPATIAL),
            ("hidden units", self.hidden, fl::MAX_HIDDEN),
        ] {
            if value > max {
                return Err(ConfigError::TooLarge { name, value, max });
            }
        }
        Ok(())
    }

    /// Pixels per image (`in_channels·height·width`).
    pub fn pixels(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    /// Features after the second pooling: `conv2·(height/4)·(width/4)`.
    pub fn flat_features(&self) -> usize {
        self.conv2 * (self.height / 4) * (self.width / 4)
    }

    /// Number of trainable parameters.
    pub fn param_count(&self) -> usize {
        let conv = |cin: usize, cout: usize| cout * cin * 9 + cout;
        let dense = |i: usize, o: usize| i * o + o;
        let f = self.flat_features();
        conv(self.in_channels, self.conv1)
            + conv(self.conv1, self.conv2)
            + dense(f, self.hidden)
            + dense(self.hidden, self.latent)
            + dense(self.latent, self.hidden)
            + dense(self.hidden, f)
            + conv(self.conv2, self.conv1)
            + conv(self.conv1, self.in_channels)
    }

    /// Class mean `k`: the one-hot vector e_k, zero-padded to the latent dimension.
    pub fn class_mean(&self, class: usize) -> Vec<f32> {
        let mut mean = vec![0.0; self.latent];
        if let Some(slot) = mean.get_mut(class) {
            *slot = 1.0;
        }
        mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_preset_has_the_papers_parameter_count() {
        let c = ModelConfig::from_preset(Preset::Paper, (1, 28, 28), 10, None).unwrap();
        // 320 + 18,496 + 803,072 + 2,570 + 2,816 + 805,952 + 18,464 + 289
        assert_eq!(c.param_count(), 1_651_979);
        assert_eq!(c.flat_features(), 3136);
    }

    #[test]
    fn wide_preset_widens_only_the_dense_layers() {
        let paper = ModelConfig::from_preset(Preset::Paper, (1, 28, 28), 10, None).unwrap();
        let wide = ModelConfig::from_preset(Preset::Wide, (1, 28, 28), 10, None).unwrap();
        assert_eq!((wide.conv1, wide.conv2, wide.hidden), (32, 64, 1024));
        assert_eq!(wide.flat_features(), paper.flat_features());
        // 320 + 18,496 + 3,212,288 + 10,250 + 11,264 + 3,214,400 + 18,464 + 289
        assert_eq!(wide.param_count(), 6_485_771);
        assert_eq!(wide.preset(), Some(Preset::Wide));
    }

    #[test]
    fn edge_preset_stays_well_under_a_megabyte() {
        let c = ModelConfig::from_preset(Preset::Edge, (1, 28, 28), 10, None).unwrap();
        assert!(c.param_count() * 4 < 512 * 1024, "{}", c.param_count() * 4);
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(
            ModelConfig::from_preset(Preset::Tiny, (1, 30, 28), 10, None),
            Err(ConfigError::ImageSize { .. })
        ));
        assert!(matches!(
            ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, Some(4)),
            Err(ConfigError::LatentTooSmall { .. })
        ));
    }

    #[test]
    fn class_means_are_zero_padded_one_hots() {
        let c = ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 3, Some(5)).unwrap();
        assert_eq!(c.class_mean(1), vec![0.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
