//! `gmvae eval`: Table 1's row (accuracy without thresholding; accuracy, error and rejection
//! with it), confusion matrices and risk–coverage curves for a model on a test split.

use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use anyhow::{Context, Result};
use clap::Args;
use dfdx::prelude::*;
use gmvae_trainer::data::{load, DatasetSpec, Split};
use gmvae_trainer::train::TrainDevice;
use gmvae_trainer::trained::TrainedModel;
use std::path::{Path, PathBuf};

/// Arguments of `gmvae eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// The model file (`model.gmvae`).
    pub model: PathBuf,
    /// The dataset whose test split to evaluate on.
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Where to write eval.json, eval.md and the SVG figures [default: the model's directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
    /// Also reclassify the rejected test samples (paper §3.5, default settings, runtime
    /// engine) and report how many are recovered (reclassify.md/.json; `gmvae reclassify`
    /// has every option).
    #[arg(long)]
    pub reclassify: bool,
}

/// Runs `gmvae eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let device = args.device;
    let summary = dispatch(device, EvalJob { args })?;
    print!("{summary}");
    Ok(())
}

struct EvalJob {
    args: EvalArgs,
}

impl OnDevice for EvalJob {
    type Output = String;
    fn run<D: TrainDevice>(self, dev: D) -> Result<String> {
        let model = TrainedModel::load(&self.args.model, &dev)?;
        let split = load(&dataset_for(&self.args.dataset, &model.dataset)?)?;
        let out = self
            .args
            .out
            .clone()
            .unwrap_or_else(|| parent_dir(&self.args.model));
        let mut summary = evaluate(&model, &split, &out)?;
        if self.args.reclassify {
            let text = super::reclassify::after_eval(&model, &split, &self.args.model, &out)?;
            summary.push_str(&text);
        }
        Ok(summary)
    }
}

/// The dataset to evaluate on: the flags, else the model's own training set if it is a named
/// one, else the bundled digits.
pub fn dataset_for(args: &DatasetArgs, model_dataset: &str) -> anyhow::Result<DatasetSpec> {
    args.spec_or(DatasetSpec::from_model_dataset(model_dataset).unwrap_or(DatasetSpec::Bundled))
}

/// Evaluates `model` on `split.test`, writes the report into `out` and describes it.
pub fn evaluate<D: Device<f32>>(
    model: &TrainedModel<D>,
    split: &Split,
    out: &Path,
) -> Result<String> {
    let report = gmvae_trainer::eval::evaluate(model, split)?;
    let written = report
        .write(out)
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    let mut summary = format!(
        "Table 1 row ({} test images of {}; thresholds τ_enc = {:.3}, τ_dec = {:.3}):\n\n{}\nConfusion matrix with thresholding:\n\n{}\n",
        split.test.len(),
        split.name,
        model.calibration.tau_enc,
        model.calibration.tau_dec,
        report.table_markdown(),
        report.confusion_markdown()
    );
    for path in written {
        summary.push_str(&format!("wrote {}\n", path.display()));
    }
    Ok(summary)
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
