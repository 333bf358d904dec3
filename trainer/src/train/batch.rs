//! Host-side batch assembly: images transposed to the `[pixels, batch]` device layout, class
//! mean targets and encoder noise.

use crate::data::Dataset;
use crate::model::ModelConfig;
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// One batch in the device layout (feature-major, batch innermost).
#[derive(Clone, Debug, PartialEq)]
pub struct HostBatch {
    /// Images, `[pixels, size]`.
    pub images: Vec<f32>,
    /// Class mean of each image's label, `[latent, size]`.
    pub targets: Vec<f32>,
    /// Number of images.
    pub size: usize,
}

impl HostBatch {
    /// The images at `indices` with their labels' class means, each image translated by a
    /// random whole-pixel offset in `−shift..=shift` along both axes (zero fill) when
    /// `shift > 0`.
    pub fn gather(
        data: &Dataset,
        indices: &[usize],
        config: &ModelConfig,
        shift: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let size = indices.len();
        let images = if shift == 0 {
            transpose_rows(data, indices)
        } else {
            let offsets: Vec<(isize, isize)> = indices
                .iter()
                .map(|_| {
                    let s = shift as isize;
                    (rng.gen_range(-s..=s), rng.gen_range(-s..=s))
                })
                .collect();
            transpose_shifted(data, indices, config, &offsets)
        };
        Self {
            images,
            targets: one_hot_columns(indices.iter().map(|&i| data.labels[i]), config.latent, size),
            size,
        }
    }
}

/// Like [`transpose_rows`], translating image `k` by `offsets[k] = (dy, dx)` pixels.
fn transpose_shifted(
    data: &Dataset,
    indices: &[usize],
    config: &ModelConfig,
    offsets: &[(isize, isize)],
) -> Vec<f32> {
    let size = indices.len();
    let (h, w) = (config.height as isize, config.width as isize);
    let mut out = vec![0.0; config.pixels() * size];
    for (column, (&i, &(dy, dx))) in indices.iter().zip(offsets).enumerate() {
        let image = data.images.row(i);
        for c in 0..config.in_channels as isize {
            for y in 0..h {
                let sy = y - dy;
                if !(0..h).contains(&sy) {
                    continue;
                }
                for x in 0..w {
                    let sx = x - dx;
                    if (0..w).contains(&sx) {
                        let p = ((c * h + y) * w + x) as usize;
                        out[p * size + column] = image[((c * h + sy) * w + sx) as usize];
                    }
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

/// Zero-padded one-hot class means of `labels` as a `[latent, size]` matrix.
pub fn one_hot_columns(labels: impl Iterator<Item = u8>, latent: usize, size: usize) -> Vec<f32> {
    let mut out = vec![0.0; latent * size];
    for (column, label) in labels.enumerate() {
        out[usize::from(label) * size + column] = 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, ImageShape};
    use crate::model::Preset;
    use rand::SeedableRng;

    #[test]
    fn shifted_batches_move_pixels_and_fill_with_zeros() {
        let shape = ImageShape {
            channels: 1,
            height: 4,
            width: 4,
        };
        let pixels: Vec<u8> = (1..=16).collect();
        let data = Dataset::from_bytes(&pixels, vec![0], shape, vec!["a".into()]).unwrap();
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 4, 4), 1, None).unwrap();
        let out = transpose_shifted(&data, &[0], &config, &[(1, -1)]);
        let v = |k: u8| f32::from(k) / 255.0;
        // Row 0 is zero fill; row 1 holds row 0 moved one pixel left.
        assert_eq!(&out[0..4], &[0.0; 4]);
        assert_eq!(&out[4..8], &[v(2), v(3), v(4), 0.0]);
        let unshifted = transpose_shifted(&data, &[0], &config, &[(0, 0)]);
        assert_eq!(unshifted, transpose_rows(&data, &[0]));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let batch = HostBatch::gather(&data, &[0, 0], &config, 2, &mut rng);
        assert_eq!(batch.images.len(), 32);
        assert_eq!(batch.targets, vec![1.0, 1.0]);
    }
}

/// Encoder noise ε ~ N(0, s2·I), `[latent, size]`.
pub fn noise(rng: &mut impl Rng, s2: f64, latent: usize, size: usize) -> Vec<f32> {
    let normal = Normal::new(0.0, s2.sqrt()).expect("s2 is validated positive and finite");
    (0..latent * size)
        .map(|_| normal.sample(rng) as f32)
        .collect()
}
