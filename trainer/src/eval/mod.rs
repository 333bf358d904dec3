//! Evaluation: Table 1's columns, confusion matrices and risk–coverage curves.

pub mod metrics;
pub mod report;

use crate::data::Split;
use crate::error::{Error, Result};
use crate::infer;
use crate::train::fit::check_fits;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use report::EvalReport;

/// Scores `model` on `split.test`: Table 1's row, confusion matrices and the risk–coverage
/// curve (write them with [`EvalReport::write`]). Fails before any work if the test images
/// do not fit the model.
pub fn evaluate<D: Device<f32>>(model: &TrainedModel<D>, split: &Split) -> Result<EvalReport> {
    let test = &split.test;
    let config = model.network.config();
    check_fits(config, test, &split.name)?;
    let encoded = infer::encode_and_reconstruct(&model.network, &model.params, test.images.view());
    if encoded.first_non_finite().is_some() {
        return Err(Error::NonFiniteOutput {
            dataset: split.name.clone(),
        });
    }
    let scores = model.calibration.score(&encoded, config.classes);
    let labels: Vec<usize> = test.labels.iter().map(|&l| usize::from(l)).collect();
    Ok(EvalReport::new(
        &split.name,
        &model.class_names,
        &scores,
        &labels,
        &model.calibration,
    ))
}
