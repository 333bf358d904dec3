//! Conversion between the trainer's dfdx parameters and the compact `gmvae-format` file.
//!
//! The trainer stores dense weights `[out, in]`, encoder conv weights `[out, in·9]` and decoder
//! up-conv weights `[9·out, in]` (rows `(tap, out)`); the file stores dense weights input-major
//! `[in][out]` and every conv kernel `[out][in][3][3]`. Both directions are exact permutations.

use crate::atomic::{write_atomically, WriteError};
use crate::calibrate::{
    Calibration, CalibrationSettings, CovarianceKind, TauDecStatistic, TauEncStatistic,
};
use crate::model::params::{layer_shapes, HostLayer};
use crate::model::{ModelConfig, Network, Params};
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use gmvae_format as fmt;
use gmvae_format::{Architecture, ModelFile, ModelView, TensorId};
use std::path::{Path, PathBuf};

/// Why a model could not be exported or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The writer refused the model (a size or value the format cannot hold).
    #[error("the model cannot be exported")]
    Format(#[source] gmvae_format::WriteError),
    /// The model file could not be read.
    #[error("cannot read model {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file declares a length beyond the format's limit.
    #[error("{} declares {declared} bytes, more than a model file may have ({max})", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The length in its header.
        declared: u64,
        /// `gmvae_format::limits::MAX_FILE_LEN`.
        max: usize,
    },
    /// The file is not a valid model.
    #[error("{} is not a valid gmvae model", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader found.
        #[source]
        source: gmvae_format::FormatError,
    },
    /// The model file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// How a layer's trainer matrix maps to the file's tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Storage {
    /// Same order (encoder convs).
    Same,
    /// Transposed (dense layers).
    Transposed,
    /// Rows `(tap, out)` ↔ `[out][in][tap]` (decoder up-convs).
    TapMajor,
}

/// Storage of each layer in [`crate::model::params::LAYER_NAMES`] order.
const STORAGE: [Storage; 8] = [
    Storage::Same,
    Storage::Same,
    Storage::Transposed,
    Storage::Transposed,
    Storage::Transposed,
    Storage::Transposed,
    Storage::TapMajor,
    Storage::TapMajor,
];

/// The file's architecture record for `config`.
pub fn architecture(config: &ModelConfig) -> Architecture {
    Architecture {
        in_channels: config.in_channels,
        height: config.height,
        width: config.width,
        conv1: config.conv1,
        conv2: config.conv2,
        hidden: config.hidden,
        latent: config.latent,
        classes: config.classes,
    }
}

/// The trainer's sizes for a file's architecture.
pub fn config(arch: &Architecture) -> ModelConfig {
    ModelConfig {
        in_channels: arch.in_channels,
        height: arch.height,
        width: arch.width,
        conv1: arch.conv1,
        conv2: arch.conv2,
        hidden: arch.hidden,
        latent: arch.latent,
        classes: arch.classes,
    }
}

/// The model as a format file (validated by the writer).
pub fn to_model_file<D: Device<f32>>(model: &TrainedModel<D>) -> Result<ModelFile, ExportError> {
    let config = model.network.config();
    let arch = architecture(config);
    let c = &model.calibration;
    let calibration = fmt::Calibration {
        s2: c.s2 as f32,
        covariance: match c.settings.covariance {
            CovarianceKind::Isotropic => fmt::CovarianceKind::Isotropic,
            CovarianceKind::PerClass => fmt::CovarianceKind::PerClass,
        },
        tau_enc: c.tau_enc,
        tau_dec: c.tau_dec,
        confidence: c.settings.confidence as f32,
        tau_dec_statistic: match c.settings.tau_dec {
            TauDecStatistic::Quantile => fmt::TauDecStatistic::Quantile {
                level: c.settings.confidence as f32,
            },
            TauDecStatistic::MeanPlusStd(k) => fmt::TauDecStatistic::MeanPlusKStd { k: k as f32 },
        },
        samples: c.samples as u64,
    };
    let mut file = ModelFile::new(arch, calibration).map_err(ExportError::Format)?;
    file.precisions = c.precisions.clone();
    file.dataset_name = model.dataset.clone();
    file.class_names = model.class_names.clone();
    for (i, ((rows, cols, weight, bias), storage)) in
        model.params.to_host().into_iter().zip(STORAGE).enumerate()
    {
        *file.tensor_mut(TensorId::ALL[2 * i]) = to_file_layout(storage, rows, cols, &weight);
        *file.tensor_mut(TensorId::ALL[2 * i + 1]) = bias;
    }
    Ok(file)
}

/// Writes the model file atomically.
pub fn save<D: Device<f32>>(model: &TrainedModel<D>, path: &Path) -> Result<(), ExportError> {
    Ok(write_atomically(path, &to_bytes(model)?)?)
}

/// The model file's bytes (byte-deterministic: the same model gives the same bytes).
pub fn to_bytes<D: Device<f32>>(model: &TrainedModel<D>) -> Result<Vec<u8>, ExportError> {
    to_model_file(model)?
        .to_bytes()
        .map_err(ExportError::Format)
}

/// Reads a model file into dfdx parameters on `dev`.
pub fn load<D: Device<f32>>(path: &Path, dev: &D) -> Result<TrainedModel<D>, ExportError> {
    let bytes = read_model_bytes(path)?;
    let view = ModelView::parse(&bytes).map_err(|source| ExportError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(from_view(&view, dev))
}

/// Reads a model file without trusting its size: the header's declared length is checked
/// against the format's limit before more than the header is read, and at most one byte
/// beyond it is read (so a device such as `/dev/zero`, a sparse file or a pipe cannot make
/// the reader allocate more than a valid model). The bytes still need
/// [`ModelView::parse`]: a file that does not start like a model comes back as its first
/// bytes, for the reader to name what is wrong.
pub fn read_model_bytes(path: &Path) -> Result<Vec<u8>, ExportError> {
    use std::io::Read;
    let read_error = |source| ExportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut head = Vec::with_capacity(HEAD_LEN);
    (&file)
        .take(HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(read_error)?;
    let declared = match head.get(16..24) {
        Some(len) if head.starts_with(&gmvae_format::layout::MAGIC) => {
            let mut le = [0u8; 8];
            le.copy_from_slice(len);
            u64::from_le_bytes(le)
        }
        // Too short or not a model: the reader names the problem from these bytes.
        _ => return Ok(head),
    };
    let max = gmvae_format::limits::MAX_FILE_LEN;
    if declared > max as u64 {
        return Err(ExportError::TooLarge {
            path: path.to_path_buf(),
            declared,
            max,
        });
    }
    // One byte more than declared, so that a longer file is still seen to be longer.
    let rest = declared.saturating_sub(HEAD_LEN as u64) + 1;
    (&file)
        .take(rest)
        .read_to_end(&mut head)
        .map_err(read_error)?;
    Ok(head)
}

/// Bytes of the header read before the declared length is trusted (magic to `file_len`).
const HEAD_LEN: usize = 24;

/// Builds the trainer-side model from a parsed file.
pub fn from_view<D: Device<f32>>(view: &ModelView<'_>, dev: &D) -> TrainedModel<D> {
    let config = config(&view.architecture());
    let shapes = layer_shapes(&config);
    let layers: [HostLayer; 8] = std::array::from_fn(|i| {
        let s = shapes[i];
        let weight: Vec<f32> = view.tensor(TensorId::ALL[2 * i]).iter().collect();
        let bias = view.tensor(TensorId::ALL[2 * i + 1]).iter().collect();
        let weight = from_file_layout(STORAGE[i], s.rows, s.cols, &weight);
        (s.rows, s.cols, weight, bias)
    });
    let fc = view.calibration();
    let calibration = Calibration {
        settings: CalibrationSettings {
            confidence: f64::from(fc.confidence),
            tau_enc: tau_enc_statistic(fc.tau_enc, config.latent, fc.confidence),
            covariance: match fc.covariance {
                fmt::CovarianceKind::Isotropic => CovarianceKind::Isotropic,
                fmt::CovarianceKind::PerClass => CovarianceKind::PerClass,
            },
            tau_dec: match fc.tau_dec_statistic {
                fmt::TauDecStatistic::Quantile { .. } => TauDecStatistic::Quantile,
                fmt::TauDecStatistic::MeanPlusKStd { k } => {
                    TauDecStatistic::MeanPlusStd(f64::from(k))
                }
            },
            // The file keeps the thresholds' values, not whether a true-positive rate scaled them.
            tpr: None,
        },
        s2: f64::from(fc.s2),
        tau_enc: fc.tau_enc,
        tau_dec: fc.tau_dec,
        precisions: view.precisions().iter().collect(),
        samples: fc.samples as usize,
    };
    TrainedModel {
        network: Network::new(config, dev),
        params: Params::from_host(dev, layers),
        calibration,
        dataset: view.dataset_name().to_owned(),
        class_names: (0..config.classes)
            .map(|c| view.class_name(c).unwrap_or_default().to_owned())
            .collect(),
    }
}

/// Trainer matrix `rows × cols` → file tensor.
fn to_file_layout(storage: Storage, rows: usize, cols: usize, w: &[f32]) -> Vec<f32> {
    match storage {
        Storage::Same => w.to_vec(),
        Storage::Transposed => (0..rows * cols)
            .map(|n| w[(n % rows) * cols + n / rows])
            .collect(),
        Storage::TapMajor => {
            // File index ((o·cin + i)·9 + k) ← trainer row k·cout + o, column i.
            let cout = rows / 9;
            (0..rows * cols)
                .map(|n| {
                    let (o, i, k) = (n / (cols * 9), n / 9 % cols, n % 9);
                    w[(k * cout + o) * cols + i]
                })
                .collect()
        }
    }
}

/// File tensor → trainer matrix `rows × cols` (inverse of [`to_file_layout`]).
fn from_file_layout(storage: Storage, rows: usize, cols: usize, f: &[f32]) -> Vec<f32> {
    match storage {
        Storage::Same => f.to_vec(),
        Storage::Transposed => (0..rows * cols)
            .map(|n| f[(n % cols) * rows + n / cols])
            .collect(),
        Storage::TapMajor => {
            let cout = rows / 9;
            (0..rows * cols)
                .map(|n| {
                    let (row, i) = (n / cols, n % cols);
                    let (k, o) = (row / cout, row % cout);
                    f[(o * cols + i) * 9 + k]
                })
                .collect()
        }
    }
}

/// Which statistic gave a file's τ_enc: the format stores only the value, so it is the
/// chi-square critical value when it equals that value (to 1e-5 relative) and a quantile of
/// calibration distances otherwise.
pub fn tau_enc_statistic(tau_enc: f32, latent: usize, confidence: f32) -> TauEncStatistic {
    let chi = crate::chi_square::quantile(latent, f64::from(confidence));
    if (f64::from(tau_enc) - chi).abs() <= 1e-5 * chi.abs() {
        TauEncStatistic::ChiSquare
    } else {
        TauEncStatistic::Quantile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip_and_transpose_correctly() {
        let (rows, cols) = (18, 4); // an up-conv with 2 outputs, or a 18×4 dense layer
        let w: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        for storage in [Storage::Same, Storage::Transposed, Storage::TapMajor] {
            let file = to_file_layout(storage, rows, cols, &w);
            assert_eq!(
                from_file_layout(storage, rows, cols, &file),
                w,
                "{storage:?}"
            );
        }
        // Dense: file (i, o) at i·rows + o holds trainer (o, i).
        let t = to_file_layout(Storage::Transposed, rows, cols, &w);
        assert_eq!(t[3 * rows + 5], w[5 * cols + 3]);
        // Up-conv: file [o][i][k] holds trainer row k·cout + o, column i.
        let u = to_file_layout(Storage::TapMajor, rows, cols, &w);
        let (o, i, k) = (1, 2, 7);
        assert_eq!(u[(o * cols + i) * 9 + k], w[(k * 2 + o) * cols + i]);
    }
}
