//! The paper's Figure 2: pictures of what a model has learned — decoded class means, samples
//! from every mixture component, and test images beside their reconstructions.

use super::grid::{encode_png, GridShape, PlotError};
use crate::data::Dataset;
use crate::infer;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Grid sizes and sampling seed.
#[derive(Clone, Copy, Debug)]
pub struct SampleOptions {
    /// Images per class.
    pub per_class: usize,
    /// Seed of the latent samples.
    pub seed: u64,
    /// Pixel magnification.
    pub scale: usize,
}

/// Most images per class a grid may hold.
pub const MAX_PER_CLASS: usize = 100;
/// Largest pixel magnification.
pub const MAX_SCALE: usize = 32;

impl SampleOptions {
    /// Checks the sizes before any work: 1 to [`MAX_PER_CLASS`] images per class and a
    /// magnification of 1 to [`MAX_SCALE`] (larger grids are not pictures anyone can look at,
    /// and their pixel counts would overflow).
    pub fn validate(&self) -> Result<(), PlotError> {
        for (name, value, max) in [
            ("images per class", self.per_class, MAX_PER_CLASS),
            ("scale", self.scale, MAX_SCALE),
        ] {
            if !(1..=max).contains(&value) {
                return Err(PlotError::Setting { name, value, max });
            }
        }
        Ok(())
    }
}

/// One picture: its file name and its PNG bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// `class-means.png`, `samples.png` or `reconstructions.png`.
    pub name: &'static str,
    /// The encoded PNG.
    pub png: Vec<u8>,
}

/// The paper's Figure 2 for `model`: decoded class means, samples from every mixture
/// component, and test images of `test` above their reconstructions, as PNG grids.
pub fn figures<D: Device<f32>>(
    model: &TrainedModel<D>,
    test: &Dataset,
    options: SampleOptions,
) -> Result<Vec<Figure>, PlotError> {
    options.validate()?;
    let config = *model.network.config();
    let (k, d, n) = (config.classes, config.latent, options.per_class);
    let grid = |columns: usize| GridShape {
        channels: config.in_channels,
        height: config.height,
        width: config.width,
        columns,
        scale: options.scale,
    };
    let decode = |z: &Array2<f32>| infer::decode_all(&model.network, &model.params, z.view());

    let means = Array2::from_shape_fn((k, d), |(c, i)| if c == i { 1.0 } else { 0.0 });
    let decoded_means = decode(&means);

    // z ~ N(μ_c, s2·I): the mixture component of class c, one row per class.
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let sd = model.calibration.s2.sqrt();
    let normal = Normal::new(0.0, sd).map_err(|_| PlotError::Variance(model.calibration.s2))?;
    let samples = Array2::from_shape_fn((k * n, d), |(r, i)| {
        let mean = if r / n == i { 1.0 } else { 0.0 };
        mean + normal.sample(&mut rng) as f32
    });
    let decoded_samples = decode(&samples);

    // Per class: a row of test images, then a row of their reconstructions.
    let mut pairs: Vec<Vec<f32>> = Vec::with_capacity(2 * k * n);
    for c in 0..k {
        let of_class: Vec<usize> = (0..test.len())
            .filter(|&i| usize::from(test.labels[i]) == c)
            .take(n)
            .collect();
        let images = test.subset(&of_class).images;
        let recon = decode(&infer::encode_images(
            &model.network,
            &model.params,
            images.view(),
        ));
        for grid_row in [&images, &recon] {
            pairs.extend((0..n).map(|j| {
                grid_row
                    .outer_iter()
                    .nth(j)
                    .map_or_else(|| vec![0.5; config.pixels()], |r| r.to_vec())
            }));
        }
    }

    let rows =
        |a: &Array2<f32>| -> Vec<Vec<f32>> { a.rows().into_iter().map(|r| r.to_vec()).collect() };
    let (m, s) = (rows(&decoded_means), rows(&decoded_samples));
    let files = [
        (
            "class-means.png",
            m.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            k,
        ),
        ("samples.png", s.iter().map(Vec::as_slice).collect(), n),
        (
            "reconstructions.png",
            pairs.iter().map(Vec::as_slice).collect(),
            n,
        ),
    ];
    files
        .into_iter()
        .map(|(name, images, columns)| {
            Ok(Figure {
                name,
                png: encode_png(&images, grid(columns))?,
            })
        })
        .collect()
}
