//! Host ↔ device transfers for attacks: host arrays are `(n, features)` rows, device matrices
//! are `[features, n]` (batch innermost), as the network expects.

use super::AttackError;
use crate::model::params::Matrix;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2};

/// Images per attack batch: small enough that the gradient tape of the paper-sized model stays
/// well under a gigabyte.
pub const BATCH: usize = 100;

/// Rows `(n, features)` → a device matrix `[features, n]`.
pub fn to_device<D: Device<f32>>(dev: &D, rows: ArrayView2<f32>) -> Matrix<D> {
    let (n, features) = rows.dim();
    let columns: Vec<f32> = rows.t().iter().copied().collect();
    dev.tensor_from_vec(columns, (features, n))
}

/// Columns of a device matrix `[features, n]` → host rows `(n, features)`.
pub fn from_device<D: Device<f32>, T>(m: &Tensor<(usize, usize), f32, D, T>) -> Array2<f32> {
    let (features, n) = *m.shape();
    let data = m.as_vec();
    Array2::from_shape_fn((n, features), |(i, f)| data[f * n + i])
}

/// A host vector laid out as a device matrix `[rows, cols]` (row-major `values`).
pub fn matrix<D: Device<f32>>(dev: &D, values: Vec<f32>, rows: usize, cols: usize) -> Matrix<D> {
    dev.tensor_from_vec(values, (rows, cols))
}

/// Checks that `images` fit the model and, if given, that `labels` are one per image and name
/// classes the model has.
pub fn check_inputs<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: Option<&[usize]>,
) -> Result<(), AttackError> {
    let config = model.network.config();
    if images.ncols() != config.pixels() {
        return Err(AttackError::ImageSize {
            found: images.ncols(),
            expected: config.pixels(),
        });
    }
    if let Some(labels) = labels {
        if labels.len() != images.nrows() {
            return Err(AttackError::LabelCount {
                labels: labels.len(),
                images: images.nrows(),
            });
        }
        if let Some(&label) = labels.iter().find(|&&l| l >= config.classes) {
            return Err(AttackError::UnknownClass {
                label,
                classes: config.classes,
            });
        }
    }
    Ok(())
}

/// Refuses a budget that is negative, infinite or not a number.
pub(super) fn check_budget(eps: f32) -> Result<(), AttackError> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(AttackError::InvalidBudget { eps })
    }
}

/// Start offsets of the batches covering `n` rows.
pub fn batches(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n).step_by(BATCH).map(move |s| s..(s + BATCH).min(n))
}
