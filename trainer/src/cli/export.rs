//! `gmvae export`: writes a model file from a training checkpoint (for example of a run that
//! was interrupted before it exported), calibrating the thresholds on the training split of
//! the checkpoint's dataset exactly as `gmvae train` does; or gives a model file new
//! thresholds when its checkpoint is not at hand (its run's holdout and seed named by flags).

use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use super::train::{files, CalibrationArgs};
use anyhow::{bail, Result};
use clap::Args;
use gmvae_trainer::data::{load, DatasetSpec, Split};
use gmvae_trainer::train::checkpoint::Checkpoint;
use gmvae_trainer::train::fit::calibrate_checkpoint;
use gmvae_trainer::train::recalibrate::{recalibrate_model, CalibrationSource};
use gmvae_trainer::train::{TrainDevice, DEFAULT_OPTIONS};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Arguments of `gmvae export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A run directory (its `checkpoint.ckpt` is read), a checkpoint file, or a model file
    /// (`.gmvae`) to give new thresholds without its checkpoint (supervised runs: every
    /// calibration image keeps its true label, which a semi-supervised run's calibration
    /// did not).
    pub source: PathBuf,
    /// The model file to write [default: model.gmvae beside the checkpoint; required for a
    /// model file].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The dataset to calibrate on [default: the one recorded in the checkpoint or model
    /// file].
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Threshold settings.
    #[command(flatten)]
    pub calibration: CalibrationArgs,
    /// Calibrate on only the first N training images (the run's --train-limit, to reproduce
    /// its thresholds).
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// For a model file: the run's --calibration-holdout N, to calibrate on the same held-out
    /// images (with --seed) [default: every training image, as a run without a holdout].
    #[arg(long, value_name = "N")]
    pub calibration_holdout: Option<usize>,
    /// For a model file: the run's --seed, which chose its held-out images [default: the
    /// training default, 2019].
    #[arg(long, requires = "calibration_holdout")]
    pub seed: Option<u64>,
    /// Where to run the network.
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
}

/// Whether `path` is meant as a model file: it begins with the format's magic bytes, or is
/// named `*.gmvae` (then a damaged one fails with the model reader's error, not the
/// checkpoint reader's).
fn is_model_file(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    let magic_matches = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == gmvae_format::layout::MAGIC);
    magic_matches || path.extension().is_some_and(|e| e == "gmvae")
}

/// Whether `a` and `b` name the same file (or would: `b` need not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> Option<PathBuf> {
        let name = p.file_name()?;
        let dir = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d.canonicalize().ok()?,
            None => std::env::current_dir().ok()?,
        };
        let joined = dir.join(name);
        Some(joined.canonicalize().unwrap_or(joined))
    };
    a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

/// Runs `gmvae export`.
pub fn run(args: ExportArgs) -> Result<()> {
    if args.source.is_file() && is_model_file(&args.source) {
        return recalibrate(args);
    }
    if args.calibration_holdout.is_some() {
        bail!("--calibration-holdout and --seed are for a model file; a checkpoint holds its run's own holdout and seed");
    }
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

/// `gmvae export MODEL.gmvae --out NEW.gmvae`: the model's weights with new thresholds.
fn recalibrate(args: ExportArgs) -> Result<()> {
    let Some(out) = args.out.clone() else {
        bail!("a model file is given new thresholds into another file: pass --out NEW.gmvae");
    };
    if same_file(&out, &args.source) {
        bail!("--out is the model file itself: write the new thresholds to another file");
    }
    args.calibration.settings().validate()?;
    let bytes = super::model_bytes::read(&args.source)?;
    let recorded = super::model_bytes::view(&args.source, &bytes)?
        .dataset_name()
        .to_owned();
    let split = load(&dataset_spec(&args.dataset, &recorded)?)?;
    let source = CalibrationSource {
        train_limit: args.train_limit,
        holdout: args
            .calibration_holdout
            .map(|n| (n, args.seed.unwrap_or(DEFAULT_OPTIONS.seed))),
    };
    dispatch(
        args.device,
        RecalibrateJob {
            model: args.source.clone(),
            bytes,
            split,
            source,
            settings: args.calibration.settings(),
            out: out.clone(),
        },
    )?;
    println!(
        "model written to {} (the weights of {} with new thresholds)",
        out.display(),
        args.source.display()
    );
    Ok(())
}

/// The dataset to calibrate on: the flags, else the dataset the checkpoint or model file
/// names, else the directory it names.
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
    bail!("the model was trained on `{recorded}`, which is not a known dataset or an existing directory; pass --dataset or --data-dir")
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

/// Builds a model file's network on a device from its bytes (read once, before), fits its new
/// thresholds and saves it.
struct RecalibrateJob {
    model: PathBuf,
    bytes: Vec<u8>,
    split: Split,
    source: CalibrationSource,
    settings: gmvae_trainer::calibrate::CalibrationSettings,
    out: PathBuf,
}

impl OnDevice for RecalibrateJob {
    type Output = ();
    fn run<D: TrainDevice>(self, dev: D) -> Result<()> {
        let view = super::model_bytes::view(&self.model, &self.bytes)?;
        let model = gmvae_trainer::export::from_view(&view, &dev);
        let model = recalibrate_model(model, &self.split, self.source, self.settings)?;
        Ok(model.save(&self.out)?)
    }
}
