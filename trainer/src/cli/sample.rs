//! `gmvae sample`: pictures of what the model has learned (the paper's Figure 2) — decoded
//! class means, samples from every mixture component, and test images beside their
//! reconstructions.

use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use super::eval::{dataset_for, parent_dir};
use anyhow::Result;
use clap::Args;
use dfdx::prelude::*;
use gmvae_trainer::atomic::write_atomically;
use gmvae_trainer::data::{load, Dataset};
use gmvae_trainer::plot::figures::{figures, SampleOptions};
use gmvae_trainer::train::TrainDevice;
use gmvae_trainer::trained::TrainedModel;
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
    args.options().validate()?;
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
        let split = load(&dataset_for(&self.args.dataset, &model.dataset)?)?;
        let out = self
            .args
            .out
            .clone()
            .unwrap_or_else(|| parent_dir(&self.args.model));
        let options = self.args.options();
        write_figures(&model, &split.test, &out, options)
    }
}

impl SampleArgs {
    /// The figure settings these arguments select.
    fn options(&self) -> SampleOptions {
        SampleOptions {
            per_class: self.per_class,
            seed: self.seed,
            scale: self.scale,
        }
    }
}

/// Writes the model's figures into `out`; returns the paths written.
pub fn write_figures<D: Device<f32>>(
    model: &TrainedModel<D>,
    test: &Dataset,
    out: &Path,
    options: SampleOptions,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for figure in figures(model, test, options)? {
        let path = out.join(figure.name);
        write_atomically(&path, &figure.png)?;
        written.push(path);
    }
    Ok(written)
}
