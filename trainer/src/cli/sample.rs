//! `gmvae sample`: pictures of what the model has learned (the paper's Figure 2) — decoded
//! class means, samples from every mixture component, and test images beside their
//! reconstructions.

use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use super::eval::{dataset_for, parent_dir};
use anyhow::Result;
use clap::Args;
use dfdx::prelude::*;
use gmvae_trainer::data::{load, Dataset};
use gmvae_trainer::infer;
use gmvae_trainer::plot::grid::{write_png, GridShape};
use gmvae_trainer::train::TrainDevice;
use gmvae_trainer::trained::TrainedModel;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::path::{Path, PathBuf};

/// Arguments of `gmvae sample`.
#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// The model file (`model.gmvae`).
    pub model: PathBuf,
    /// Dataset for the reconstruction grid (its test split).
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Where to write the PNG files [default: the model's directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Images per class in the sample and reconstruction grids.
    #[arg(long, default_value_t = 10)]
    pub per_class: usize,
    /// Seed for the latent samples.
    #[arg(long, default_value_t = 2019)]
    pub seed: u64,
    /// Pixel magnification of the PNGs.
    #[arg(long, default_value_t = 3)]
    pub scale: usize,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
}

/// Runs `gmvae sample`.
pub fn run(args: SampleArgs) -> Result<()> {
    let device = args.device;
    for path in dispatch(device, SampleJob { args })? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

struct SampleJob {
    args: SampleArgs,
}

impl OnDevice for SampleJob {
    type Output = Vec<PathBuf>;
    fn run<D: TrainDevice>(self, dev: D) -> Result<Vec<PathBuf>> {
        let model = TrainedModel::load(&self.args.model, &dev)?;
        let split = load(&dataset_for(&self.args.dataset, &model.dataset))?;
        let out = self
            .args
            .out
            .clone()
            .unwrap_or_else(|| parent_dir(&self.args.model));
        let options = SampleOptions {
            per_class: self.args.per_class.max(1),
            seed: self.args.seed,
            scale: self.args.scale.max(1),
        };
        write_figures(&model, &split.test, &out, options)
    }
}

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

/// Writes `class-means.png`, `samples.png` and `reconstructions.png` into `out`.
pub fn write_figures<D: Device<f32>>(
    model: &TrainedModel<D>,
    test: &Dataset,
    out: &Path,
    options: SampleOptions,
) -> Result<Vec<PathBuf>> {
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
    let normal = Normal::new(0.0, model.calibration.s2.sqrt())?;
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
    let mut written = Vec::new();
    for (name, images, columns) in files {
        let path = out.join(name);
        write_png(&path, &images, grid(columns))?;
        written.push(path);
    }
    Ok(written)
}
