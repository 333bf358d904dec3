//! Host-side batch assembly: images transposed to the `[pixels, batch]` device layout, class
//! mean targets and encoder noise.

use crate::data::Dataset;
use crate::model::ModelConfig;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// One batch in the device layout (feature-major, batch innermost).
#[derive(Clone, Debug, PartialEq)]
pub struct HostBatch {
    /// Images, `[pixels, size]`.
    pub images: Vec<f32>,
    /// Class mean of each image's label, `[latent, size]`.
    pub targets: Vec<f32>,
    /// Number of images.
    pub size: usize,
    /// In semi-supervised training, 1 for each image trained with its label and 0 for each
    /// trained without (`[size]`); `None` when every label is used.
    pub labeled: Option<Vec<f32>>,
}

impl HostBatch {
    /// The images at `indices` with their labels' class means, each image warped by a random
    /// transform from `augment` (none when [`Augment::is_identity`]).
    pub fn gather(
        data: &Dataset,
        indices: &[usize],
        config: &ModelConfig,
        augment: &Augment,
        rng: &mut impl Rng,
    ) -> Self {
        let size = indices.len();
        let images = if augment.is_identity() {
            transpose_rows(data, indices)
        } else {
            let warps: Vec<Warp> = indices.iter().map(|_| augment.sample(rng)).collect();
            transpose_warped(data, indices, config, &warps)
        };
        Self {
            images,
            targets: one_hot_columns(indices.iter().map(|&i| data.labels[i]), config.latent, size),
            size,
            labeled: None,
        }
    }

    /// Like [`HostBatch::gather`], for a semi-supervised batch: the first `labeled` of
    /// `indices` are trained with their labels, the rest without.
    pub fn gather_partly_labeled(
        data: &Dataset,
        indices: &[usize],
        labeled: usize,
        config: &ModelConfig,
        augment: &Augment,
        rng: &mut impl Rng,
    ) -> Self {
        let mut batch = Self::gather(data, indices, config, augment, rng);
        batch.labeled = Some(
            (0..indices.len())
                .map(|k| if k < labeled { 1.0 } else { 0.0 })
                .collect(),
        );
        batch
    }
}

/// Ranges of the random similarity transforms applied to training images.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest translation along each axis, in pixels.
    pub shift: f32,
    /// Largest rotation, in degrees.
    pub rotate: f32,
    /// Largest relative change of scale (0.1 = ±10 %).
    pub scale: f32,
}

/// One similarity transform: rotation, scale, translation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warp {
    /// Rotation in radians.
    pub angle: f32,
    /// Scale factor.
    pub scale: f32,
    /// Translation `(dy, dx)` in pixels.
    pub shift: (f32, f32),
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment {
        shift: 0.0,
        rotate: 0.0,
        scale: 0.0,
    };

    /// Checks the ranges before any work: finite, non-negative, a rotation of at most 180°
    /// and a relative scale below 1 (so no image is flipped or shrunk to nothing).
    pub fn validate(&self) -> Result<(), super::TrainError> {
        for (name, value, max) in [
            ("shift", self.shift, f32::MAX),
            ("rotation", self.rotate, 180.0),
            ("scale", self.scale, 0.99),
        ] {
            if !(value.is_finite() && (0.0..=max).contains(&value)) {
                return Err(super::TrainError::Augment { name, value, max });
            }
        }
        Ok(())
    }

    /// Whether every transform is the identity.
    pub fn is_identity(&self) -> bool {
        self.shift == 0.0 && self.rotate == 0.0 && self.scale == 0.0
    }

    /// A random transform with every parameter uniform in its range.
    pub fn sample(&self, rng: &mut impl Rng) -> Warp {
        let mut uniform = |half: f32| {
            if half > 0.0 {
                rng.gen_range(-half..=half)
            } else {
                0.0
            }
        };
        Warp {
            angle: uniform(self.rotate).to_radians(),
            scale: 1.0 + uniform(self.scale),
            shift: (uniform(self.shift), uniform(self.shift)),
        }
    }
}

/// Like [`transpose_rows`], resampling image `k` through `warps[k]` about the image centre with
/// bilinear interpolation (zero outside the image).
fn transpose_warped(
    data: &Dataset,
    indices: &[usize],
    config: &ModelConfig,
    warps: &[Warp],
) -> Vec<f32> {
    let size = indices.len();
    let (h, w) = (config.height, config.width);
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let mut out = vec![0.0; config.pixels() * size];
    for (column, (&i, warp)) in indices.iter().zip(warps).enumerate() {
        let image = data.images.row(i);
        let (sin, cos) = warp.angle.sin_cos();
        for y in 0..h {
            for x in 0..w {
                // Inverse map: output pixel → source position.
                let (py, px) = (y as f32 - cy - warp.shift.0, x as f32 - cx - warp.shift.1);
                let sy = (cos * py - sin * px) / warp.scale + cy;
                let sx = (sin * py + cos * px) / warp.scale + cx;
                for c in 0..config.in_channels {
                    let at = |yy: isize, xx: isize| -> f32 {
                        if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                            0.0
                        } else {
                            image[(c * h + yy as usize) * w + xx as usize]
                        }
                    };
                    let (y0, x0) = (sy.floor(), sx.floor());
                    let (fy, fx) = (sy - y0, sx - x0);
                    let (y0, x0) = (y0 as isize, x0 as isize);
                    let v = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                        + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
                    out[((c * h + y) * w + x) * size + column] = v;
                }
            }
        }
    }
    out
}

/// The images at `indices` as a `[pixels, indices.len()]` matrix.
pub fn transpose_rows(data: &Dataset, indices: &[usize]) -> Vec<f32> {
    let size = indices.len();
    let pixels = data.images.ncols();
    let mut out = vec![0.0; pixels * size];
    for (column, &i) in indices.iter().enumerate() {
        for (p, &v) in data.images.row(i).iter().enumerate() {
            out[p * size + column] = v;
        }
    }
    out
}

/// `(start, len)` of `parts` nearly equal, contiguous, non-empty column ranges of `0..n`
/// (fewer parts when `n < parts`).
pub fn split_columns(n: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|k| {
            let start = k * n / parts;
            (start, (k + 1) * n / parts - start)
        })
        .filter(|&(_, len)| len > 0)
        .collect()
}

/// Columns `start..start + len` of a `[rows, n]` matrix, as a `[rows, len]` matrix.
pub fn columns(m: &[f32], rows: usize, n: usize, start: usize, len: usize) -> Vec<f32> {
    (0..rows)
        .flat_map(|r| &m[r * n + start..r * n + start + len])
        .copied()
        .collect()
}

/// Zero-padded one-hot class means of `labels` as a `[latent, size]` matrix.
pub fn one_hot_columns(labels: impl Iterator<Item = u8>, latent: usize, size: usize) -> Vec<f32> {
    let mut out = vec![0.0; latent * size];
    for (column, label) in labels.enumerate() {
        out[usize::from(label) * size + column] = 1.0;
    }
    out
}

/// Encoder noise ε ~ N(0, s2·I), `[latent, size]` (s2 is checked by
/// [`TrainOptions::validate`](super::TrainOptions::validate) before any step).
pub fn noise(rng: &mut impl Rng, s2: f64, latent: usize, size: usize) -> Vec<f32> {
    let normal = Normal::new(0.0, s2.sqrt()).expect("s2 is validated positive and finite");
    (0..latent * size)
        .map(|_| normal.sample(rng) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, ImageShape};
    use crate::model::Preset;
    use rand::SeedableRng;

    fn four_by_four() -> (Dataset, ModelConfig) {
        let shape = ImageShape {
            channels: 1,
            height: 4,
            width: 4,
        };
        let pixels: Vec<u8> = (1..=16).collect();
        let data = Dataset::from_bytes(&pixels, vec![0], shape, vec!["a".into()]).unwrap();
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 4, 4), 1, None).unwrap();
        (data, config)
    }

    #[test]
    fn identity_warp_keeps_the_image_and_whole_pixel_shifts_move_it() {
        let (data, config) = four_by_four();
        let identity = Warp {
            angle: 0.0,
            scale: 1.0,
            shift: (0.0, 0.0),
        };
        let same = transpose_warped(&data, &[0], &config, &[identity]);
        let plain = transpose_rows(&data, &[0]);
        for (a, b) in same.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-6);
        }
        let moved = Warp {
            shift: (1.0, -1.0),
            ..identity
        };
        let out = transpose_warped(&data, &[0], &config, &[moved]);
        let v = |k: u8| f32::from(k) / 255.0;
        // Row 0 is zero fill; row 1 holds row 0 moved one pixel left.
        assert!(out[0..4].iter().all(|&p| p.abs() < 1e-6));
        for (got, want) in out[4..8].iter().zip([v(2), v(3), v(4), 0.0]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn a_quarter_turn_rotates_the_image() {
        let (data, config) = four_by_four();
        let quarter = Warp {
            angle: std::f32::consts::FRAC_PI_2,
            scale: 1.0,
            shift: (0.0, 0.0),
        };
        let out = transpose_warped(&data, &[0], &config, &[quarter]);
        // Every source pixel value appears exactly once: a permutation of the image.
        let mut got: Vec<u32> = out.iter().map(|v| (v * 255.0).round() as u32).collect();
        got.sort_unstable();
        assert_eq!(got, (1..=16).collect::<Vec<u32>>());
        assert_ne!(out, transpose_rows(&data, &[0]));
    }

    #[test]
    fn shards_cover_every_column_once() {
        assert_eq!(split_columns(10, 3), vec![(0, 3), (3, 3), (6, 4)]);
        assert_eq!(split_columns(1, 2), vec![(0, 1)]);
        let m: Vec<f32> = (0..8).map(|v| v as f32).collect(); // 2 rows × 4 columns
        assert_eq!(columns(&m, 2, 4, 1, 2), vec![1.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn augmented_batches_have_the_right_shape() {
        let (data, config) = four_by_four();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let augment = Augment {
            shift: 2.0,
            rotate: 10.0,
            scale: 0.1,
        };
        let batch = HostBatch::gather(&data, &[0, 0], &config, &augment, &mut rng);
        assert_eq!(batch.images.len(), 32);
        assert!(batch.images.iter().all(|v| (0.0..=1.0 + 1e-6).contains(v)));
        assert_eq!(batch.targets, vec![1.0, 1.0]);
    }
}
