//! Training checkpoints: parameters, optimizer moments and history, written atomically so an
//! interrupted run can resume exactly where its last completed epoch ended.
//!
//! Layout (little-endian): magic `GMVAECKP`, `u32` version, `u64` length of a JSON header, the
//! JSON header ([`CheckpointMeta`]), then `u64` count + `f32` values for every layer's weight
//! and bias, then the same for the optimizer's moments (first weight, first bias, second weight,
//! second bias per layer).

use super::adam::{Adam, HostAdam};
use super::{EpochStats, TrainDevice, TrainOptions, Trainer};
use crate::atomic::write_atomically;
use crate::model::params::{layer_shapes, HostLayer};
use crate::model::{ModelConfig, Network, Params};
use anyhow::{bail, ensure, Context, Result};
use byteorder::{LittleEndian, ReadBytesExt, WriteBytesExt};
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Read};
use std::path::Path;

const MAGIC: &[u8; 8] = b"GMVAECKP";
const VERSION: u32 = 1;
/// Largest JSON header accepted when reading (guards allocation on corrupt files).
const MAX_META_BYTES: u64 = 16 << 20;

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
}

/// A checkpoint loaded into host memory.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Header.
    pub meta: CheckpointMeta,
    /// Parameters per layer.
    pub layers: [HostLayer; 8],
    /// Optimizer state.
    pub adam: HostAdam,
}

impl Checkpoint {
    /// Captures `trainer`'s state.
    pub fn capture<D: TrainDevice>(
        trainer: &Trainer<D>,
        dataset: &str,
        class_names: &[String],
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
            },
            layers: trainer.params.to_host(),
            adam,
        }
    }

    /// Rebuilds a trainer on `dev`.
    pub fn restore<D: TrainDevice>(&self, dev: &D) -> Result<Trainer<D>> {
        let params = Params::from_host(dev, self.layers.clone());
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
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_bytes()?)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("bad checkpoint {}", path.display()))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let meta = serde_json::to_vec(&self.meta)?;
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.write_u32::<LittleEndian>(VERSION)?;
        out.write_u64::<LittleEndian>(meta.len() as u64)?;
        out.extend_from_slice(&meta);
        for (_, _, weight, bias) in &self.layers {
            write_floats(&mut out, weight)?;
            write_floats(&mut out, bias)?;
        }
        for moments in &self.adam.1 {
            for m in moments {
                write_floats(&mut out, m)?;
            }
        }
        Ok(out)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Cursor::new(bytes);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).context("file too short")?;
        ensure!(&magic == MAGIC, "not a gmvae checkpoint (bad magic)");
        let version = r.read_u32::<LittleEndian>()?;
        ensure!(
            version == VERSION,
            "unsupported checkpoint version {version}"
        );
        let meta_len = r.read_u64::<LittleEndian>()?;
        ensure!(
            meta_len <= MAX_META_BYTES,
            "header length {meta_len} is implausible"
        );
        let mut meta = vec![0u8; meta_len as usize];
        r.read_exact(&mut meta).context("truncated header")?;
        let meta: CheckpointMeta = serde_json::from_slice(&meta).context("corrupt header")?;
        meta.config.validate()?;
        let remaining = bytes.len() as u64 - r.position();
        let shapes = layer_shapes(&meta.config);
        let mut read = |expected: usize| read_floats(&mut r, expected, remaining);
        let mut layers = Vec::with_capacity(8);
        for s in &shapes {
            layers.push((s.rows, s.cols, read(s.rows * s.cols)?, read(s.bias)?));
        }
        let mut moments = Vec::with_capacity(8);
        for s in &shapes {
            let (w, b) = (s.rows * s.cols, s.bias);
            moments.push([read(w)?, read(b)?, read(w)?, read(b)?]);
        }
        if r.position() != bytes.len() as u64 {
            bail!("{} trailing bytes", bytes.len() as u64 - r.position());
        }
        let layers: [HostLayer; 8] = layers
            .try_into()
            .map_err(|_| anyhow::anyhow!("wrong layer count"))?;
        let steps = meta.adam_steps;
        Ok(Self {
            meta,
            layers,
            adam: (steps, moments),
        })
    }
}

fn write_floats(out: &mut Vec<u8>, values: &[f32]) -> Result<()> {
    out.write_u64::<LittleEndian>(values.len() as u64)?;
    for &v in values {
        out.write_f32::<LittleEndian>(v)?;
    }
    Ok(())
}

fn read_floats(r: &mut Cursor<&[u8]>, expected: usize, remaining: u64) -> Result<Vec<f32>> {
    let n = r.read_u64::<LittleEndian>().context("truncated tensor")?;
    ensure!(
        n == expected as u64,
        "tensor has {n} values where the model needs {expected}"
    );
    ensure!(n.saturating_mul(4) <= remaining, "truncated tensor data");
    let mut values = vec![0f32; expected];
    r.read_f32_into::<LittleEndian>(&mut values)
        .context("truncated tensor data")?;
    Ok(values)
}
