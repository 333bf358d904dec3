//! Training checkpoints: parameters, optimizer moments and history, written atomically so an
//! interrupted run can resume exactly where its last completed epoch ended.
//!
//! Layout (little-endian): magic `GMVAECKP`, `u32` version, `u64` length of a JSON header, the
//! JSON header ([`CheckpointMeta`]), then `u64` count + `f32` values for every layer's weight
//! and bias, then the same for the optimizer's moments (first weight, first bias, second weight,
//! second bias per layer).

use super::adam::{Adam, HostAdam};
use super::{EncoderVariance, EpochStats, TrainDevice, TrainError, TrainOptions, Trainer};
use crate::atomic::{write_atomically, WriteError};
use crate::model::params::{layer_shapes, log_variance_shape, HostLayer};
use crate::model::{ConfigError, ModelConfig, Network, Params};
use byteorder::{LittleEndian, ReadBytesExt};
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GMVAECKP";
const VERSION: u32 = 1;
/// Largest JSON header accepted when reading (guards allocation on corrupt files).
const MAX_META_BYTES: u64 = 16 << 20;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// No checkpoint file was named.
    #[error("no checkpoint file was given")]
    Missing,
    /// The file could not be read.
    #[error("cannot read checkpoint {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid checkpoint.
    #[error("bad checkpoint {}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        problem: Corruption,
    },
    /// The header could not be rendered.
    #[error("cannot render the checkpoint header")]
    Header(#[source] serde_json::Error),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What is wrong with a checkpoint's bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The file does not start with the checkpoint magic bytes.
    #[error("not a gmvae checkpoint (bad magic)")]
    Magic,
    /// A version this build cannot read.
    #[error("unsupported checkpoint version {0}")]
    Version(u32),
    /// The header length is beyond the reader's cap.
    #[error("header length {0} is implausible")]
    HeaderLength(u64),
    /// The file ends early.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The JSON header does not parse.
    #[error("corrupt header")]
    Header(#[source] serde_json::Error),
    /// The header's model sizes are invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A tensor's length is not the model's.
    #[error("tensor has {found} values where the model needs {expected}")]
    TensorLength {
        /// Values stored.
        found: u64,
        /// Values the model needs.
        expected: usize,
    },
    /// Bytes follow the last tensor.
    #[error("{0} trailing bytes")]
    Trailing(u64),
}

/// Everything in a checkpoint besides the tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Model sizes.
    pub config: ModelConfig,
    /// Hyper-parameters.
    pub options: TrainOptions,
    /// Completed epochs' statistics.
    pub history: Vec<EpochStats>,
    /// Optimizer steps taken.
    pub adam_steps: i32,
    /// Name of the dataset trained on.
    pub dataset: String,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// Training images held out to calibrate on (absent in older checkpoints: none).
    #[serde(default)]
    pub calibration_holdout: Option<usize>,
}

/// A checkpoint loaded into host memory.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Header.
    pub meta: CheckpointMeta,
    /// Parameters per layer.
    pub layers: [HostLayer; 8],
    /// The log-variance head of a run with a learned encoder variance (stored after the
    /// other layers; its moments after theirs).
    pub log_variance: Option<HostLayer>,
    /// Optimizer state.
    pub adam: HostAdam,
}

impl Checkpoint {
    /// Captures `trainer`'s state, trained on `dataset` with `calibration_holdout` images
    /// held out.
    pub fn capture<D: TrainDevice>(
        trainer: &Trainer<D>,
        dataset: &str,
        class_names: &[String],
        calibration_holdout: Option<usize>,
    ) -> Self {
        let adam = trainer.adam.to_host(&trainer.params);
        Self {
            meta: CheckpointMeta {
                config: *trainer.network.config(),
                options: trainer.options,
                history: trainer.history.clone(),
                adam_steps: adam.0,
                dataset: dataset.to_owned(),
                class_names: class_names.to_vec(),
                calibration_holdout,
            },
            layers: trainer.params.to_host(),
            log_variance: trainer.params.log_variance_to_host(),
            adam,
        }
    }

    /// Rebuilds a trainer on `dev`.
    pub fn restore<D: TrainDevice>(&self, dev: &D) -> Result<Trainer<D>, TrainError> {
        let mut params = Params::from_host(dev, self.layers.clone());
        if let Some(head) = &self.log_variance {
            params = params.with_log_variance_from_host(head.clone());
        }
        let adam = Adam::from_host(self.meta.options.lr, &params, &self.adam);
        Trainer::resume(
            Network::new(self.meta.config, dev),
            params,
            adam,
            self.meta.options,
            self.meta.history.clone(),
        )
    }

    /// Writes the checkpoint atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        Ok(write_atomically(path, &self.to_bytes()?)?)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|problem| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            problem,
        })
    }

    fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        let meta = serde_json::to_vec(&self.meta).map_err(CheckpointError::Header)?;
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        out.extend_from_slice(&meta);
        for (_, _, weight, bias) in self.layers.iter().chain(&self.log_variance) {
            write_floats(&mut out, weight);
            write_floats(&mut out, bias);
        }
        for moments in &self.adam.1 {
            for m in moments {
                write_floats(&mut out, m);
            }
        }
        Ok(out)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, Corruption> {
        let mut r = Cursor::new(bytes);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)
            .map_err(|_| Corruption::Truncated("file"))?;
        if &magic != MAGIC {
            return Err(Corruption::Magic);
        }
        let version = r
            .read_u32::<LittleEndian>()
            .map_err(|_| Corruption::Truncated("version"))?;
        if version != VERSION {
            return Err(Corruption::Version(version));
        }
        let meta_len = r
            .read_u64::<LittleEndian>()
            .map_err(|_| Corruption::Truncated("header length"))?;
        if meta_len > MAX_META_BYTES {
            return Err(Corruption::HeaderLength(meta_len));
        }
        let mut meta = vec![0u8; meta_len as usize];
        r.read_exact(&mut meta)
            .map_err(|_| Corruption::Truncated("header"))?;
        let meta: CheckpointMeta = serde_json::from_slice(&meta).map_err(Corruption::Header)?;
        meta.config.validate()?;
        let remaining = bytes.len() as u64 - r.position();
        let mut shapes = layer_shapes(&meta.config).to_vec();
        if meta.options.encoder_variance == EncoderVariance::Learned {
            shapes.push(log_variance_shape(&meta.config));
        }
        let mut read = |expected: usize| read_floats(&mut r, expected, remaining);
        let mut layers = Vec::with_capacity(shapes.len());
        for s in &shapes {
            layers.push((s.rows, s.cols, read(s.rows * s.cols)?, read(s.bias)?));
        }
        let mut moments = Vec::with_capacity(shapes.len());
        for s in &shapes {
            let (w, b) = (s.rows * s.cols, s.bias);
            moments.push([read(w)?, read(b)?, read(w)?, read(b)?]);
        }
        if r.position() != bytes.len() as u64 {
            return Err(Corruption::Trailing(bytes.len() as u64 - r.position()));
        }
        // `shapes` has the 8 layers of `layer_shapes`, then the head if there is one.
        let log_variance = layers.get(8).cloned();
        layers.truncate(8);
        let layers: [HostLayer; 8] = layers
            .try_into()
            .map_err(|_| Corruption::Truncated("layer list"))?;
        let steps = meta.adam_steps;
        Ok(Self {
            meta,
            layers,
            log_variance,
            adam: (steps, moments),
        })
    }
}

fn write_floats(out: &mut Vec<u8>, values: &[f32]) {
    out.extend_from_slice(&(values.len() as u64).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn read_floats(
    r: &mut Cursor<&[u8]>,
    expected: usize,
    remaining: u64,
) -> Result<Vec<f32>, Corruption> {
    let n = r
        .read_u64::<LittleEndian>()
        .map_err(|_| Corruption::Truncated("tensor"))?;
    if n != expected as u64 {
        return Err(Corruption::TensorLength { found: n, expected });
    }
    if n.saturating_mul(4) > remaining {
        return Err(Corruption::Truncated("tensor data"));
    }
    let mut values = vec![0f32; expected];
    r.read_f32_into::<LittleEndian>(&mut values)
        .map_err(|_| Corruption::Truncated("tensor data"))?;
    Ok(values)
}
