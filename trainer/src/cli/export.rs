//! `gmvae export`: writes a model file from a training checkpoint (for example of a run that
//! was interrupted before it exported), calibrating the thresholds on the training split of
//! the checkpoint's dataset exactly as `gmvae train` does.

use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use super::train::{files, CalibrationArgs};
use anyhow::{bail, Result};
use clap::Args;
use gmvae_trainer::data::{load, DatasetSpec, Split};
use gmvae_trainer::train::checkpoint::Checkpoint;
use gmvae_trainer::train::fit::calibrate_checkpoint;
use gmvae_trainer::train::TrainDevice;
use std::path::{Path, PathBuf};

/// Arguments of `gmvae export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A run directory (its `checkpoint.ckpt` is read) or a checkpoint file.
    pub source: PathBuf,
    /// The model file to write [default: model.gmvae beside the checkpoint].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The dataset to calibrate on [default: the one recorded in the checkpoint].
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Threshold settings.
    #[command(flatten)]
    pub calibration: CalibrationArgs,
    /// Calibrate on only the first N training images (the run's --train-limit, to reproduce
    /// its thresholds).
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// Where to run the network.
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
}

/// Runs `gmvae export`.
pub fn run(args: ExportArgs) -> Result<()> {
    let checkpoint_path = if args.source.is_dir() {
        args.source.join(files::CHECKPOINT)
    } else {
        args.source.clone()
    };
    let checkpoint = Checkpoint::load(&checkpoint_path)?;
    args.calibration.settings().validate()?;
    let split = load(&dataset_spec(&args.dataset, &checkpoint.meta.dataset)?)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| super::eval::parent_dir(&checkpoint_path).join(files::MODEL));
    let epochs = checkpoint.meta.history.len();
    let device = args.device;
    dispatch(
        device,
        ExportJob {
            args,
            checkpoint,
            split,
            out: out.clone(),
        },
    )?;
    println!(
        "model written to {} (checkpoint {} after epoch {epochs})",
        out.display(),
        checkpoint_path.display()
    );
    Ok(())
}

/// The dataset to calibrate on: the flags, else the checkpoint's named dataset, else the
/// directory it names.
fn dataset_spec(args: &DatasetArgs, recorded: &str) -> Result<DatasetSpec> {
    if args.dataset.is_some() || args.data_dir.is_some() {
        return args
            .spec_or(DatasetSpec::from_model_dataset(recorded).unwrap_or(DatasetSpec::Bundled));
    }
    if let Some(spec) = DatasetSpec::from_model_dataset(recorded) {
        return Ok(spec);
    }
    if Path::new(recorded).is_dir() {
        return Ok(DatasetSpec::Dir(PathBuf::from(recorded)));
    }
    bail!("the checkpoint was trained on `{recorded}`, which is not a known dataset or an existing directory; pass --dataset or --data-dir")
}

/// Restores the checkpoint on a device, calibrates and saves.
struct ExportJob {
    args: ExportArgs,
    checkpoint: Checkpoint,
    split: Split,
    out: PathBuf,
}

impl OnDevice for ExportJob {
    type Output = ();
    fn run<D: TrainDevice>(self, dev: D) -> Result<()> {
        let model = calibrate_checkpoint(
            &self.checkpoint,
            &self.split,
            self.args.calibration.settings(),
            self.args.train_limit,
            &dev,
        )?;
        Ok(model.save(&self.out)?)
    }
}
