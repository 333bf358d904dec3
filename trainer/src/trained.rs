//! A trained, calibrated model: the dfdx network with its thresholds and class names.

use crate::calibrate::Calibration;
use crate::model::{Network, Params};
use dfdx::prelude::*;

/// Everything the evaluation, attack and export commands need.
pub struct TrainedModel<D: Device<f32>> {
    /// Index tables and sizes.
    pub network: Network<D>,
    /// Weights.
    pub params: Params<D>,
    /// Thresholds and covariances.
    pub calibration: Calibration,
    /// Dataset the model was trained on.
    pub dataset: String,
    /// Class names, index = label.
    pub class_names: Vec<String>,
}

impl<D: Device<f32>> TrainedModel<D> {
    /// Writes the model file (weights, class means, covariances, thresholds) atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<(), crate::export::ExportError> {
        crate::export::save(self, path)
    }

    /// Reads a model file onto `dev`.
    pub fn load(path: &std::path::Path, dev: &D) -> Result<Self, crate::export::ExportError> {
        crate::export::load(path, dev)
    }
}
