//! Regenerates the committed golden fixtures (`fixtures/golden/`) and the deliberately broken
//! model files (`fixtures/broken/`): a maintainers' tool, run as
//!
//! ```text
//! cargo run --release -p gmvae-trainer --example golden_fixtures -- [--reuse-model]
//! cargo run --release -p gmvae-trainer --example golden_fixtures -- --colour [--reuse-model]
//! ```
//!
//! With `--colour` it writes the colour set instead (`fixtures/golden-colour/` by default):
//! the model of `gmvae_trainer::golden::colour_train_config` on the tinted digits
//! (`golden::tinted_digits`, 3×32×32, latent 16), its inputs and the runtime's outputs
//! (no broken files: those are made from the grey model).
//!
//! `fixtures/README.md` documents every file and when regenerating them is legitimate.
//!
//! 1. Trains the golden model (`gmvae_trainer::golden::train_config`, the edge preset on the
//!    bundled MNIST-10k) through the library's `train_and_calibrate`, as `gmvae train` does,
//!    and exports `model.gmvae`. With `--reuse-model` the existing `model.gmvae` is kept
//!    instead: dfdx picks its matrix kernels per CPU, so retraining elsewhere may give other
//!    weights, while everything below is a function of the model bytes and the runtime alone.
//! 2. Writes the golden inputs (`gmvae_trainer::golden::golden_inputs`) to `inputs.f32le`.
//! 3. Runs `gmvae-runtime` on them and records its outputs bit-exactly in `expected.json`
//!    (f32 values as `0x…` bit patterns) and `reconstructions.f32le`.
//! 4. Writes one file per [`Corruption`] of the model to the broken directory, after checking
//!    that both readers report the error the corruption names.

use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::Parser;
use dfdx::prelude::Cpu;
use gmvae_format::corrupt::Corruption;
use gmvae_format::{ModelFile, ModelView};
use gmvae_runtime::{Model, Verdict};
use gmvae_trainer::atomic::write_atomically;
use gmvae_trainer::data::{load, DatasetSpec};
use gmvae_trainer::golden::{self, golden_inputs, GoldenInput};
use gmvae_trainer::progress::Progress;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// File names inside the golden directory.
mod files {
    /// The trained model.
    pub const MODEL: &str = "model.gmvae";
    /// The golden inputs, raw little-endian f32.
    pub const INPUTS: &str = "inputs.f32le";
    /// The runtime's reconstructions `g(f(x))` of the golden inputs, raw little-endian f32.
    pub const RECONSTRUCTIONS: &str = "reconstructions.f32le";
    /// The runtime's classify outputs, bit patterns as hex strings.
    pub const EXPECTED: &str = "expected.json";
    /// Inside the broken directory: each broken file with the exact error it must produce.
    pub const BROKEN_INDEX: &str = "expected.json";
    /// Extension of model files (golden and broken).
    pub const MODEL_EXTENSION: &str = "gmvae";
}

/// The value of `expected.json`'s `"format"` field; bump it when the layout changes.
const EXPECTED_FORMAT: &str = "gmvae-golden-1";

/// Regenerate the golden and broken fixture files.
#[derive(Debug, Parser)]
struct Args {
    /// Directory of the golden files (model.gmvae, inputs.f32le, reconstructions.f32le,
    /// expected.json).
    /// [default: fixtures/golden, or fixtures/golden-colour with --colour]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write the colour fixture set (tinted digits, 3×32×32, latent 16) instead.
    #[arg(long)]
    colour: bool,
    /// Directory of the broken files [default: `broken` beside OUT].
    #[arg(long, value_name = "DIR")]
    broken: Option<PathBuf>,
    /// Keep OUT/model.gmvae and regenerate only the inputs, the expected outputs and the broken
    /// files (after a deliberate runtime numerics change, where retraining is not wanted).
    #[arg(long)]
    reuse_model: bool,
}

/// Prints the library's notes (one line per epoch) to stderr.
struct Notes;

impl Progress for Notes {
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let default_out = if args.colour {
        "fixtures/golden-colour"
    } else {
        "fixtures/golden"
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_out));
    let model_path = out.join(files::MODEL);
    let bundled = load(&DatasetSpec::Bundled)?;
    let (split, config, training, source) = if args.colour {
        (
            golden::tinted_digits(&bundled)?,
            golden::colour_train_config(),
            golden::COLOUR_TRAINING,
            "tinted MNIST-10k",
        )
    } else {
        (
            bundled,
            golden::train_config(),
            golden::TRAINING_FLAGS,
            "bundled MNIST-10k",
        )
    };
    if !args.reuse_model {
        println!("training: {training}");
        let fitted =
            gmvae_trainer::train::train_and_calibrate(&config, &split, &Cpu::default(), &Notes)?;
        write_atomically(
            &model_path,
            &gmvae_trainer::export::to_bytes(&fitted.model)?,
        )?;
        println!("wrote {}", model_path.display());
    }
    let bytes = std::fs::read(&model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?;
    let model = Model::parse(&bytes)
        .map_err(|e| anyhow!("{} is not a valid model: {e}", model_path.display()))?;

    let inputs = golden_inputs(&split.test, model.image_len(), source)?;
    let (expected, reconstructions) = expected_outputs(&model, &bytes, &inputs, training)?;
    let inputs_bytes = f32le(inputs.iter().flat_map(|i| i.pixels.iter().copied()));
    for (name, data) in [
        (files::INPUTS, inputs_bytes),
        (files::RECONSTRUCTIONS, f32le(reconstructions)),
        (
            files::EXPECTED,
            (serde_json::to_string_pretty(&expected)? + "\n").into_bytes(),
        ),
    ] {
        let path = out.join(name);
        write_atomically(&path, &data)?;
        println!("wrote {}", path.display());
    }
    let golden_reclassify = inputs
        .iter()
        .map(|i| (i.name.as_str(), i.pixels.as_slice()));
    let path = gmvae_trainer::reclassify::golden::write(&out, &model, golden_reclassify)?;
    println!("wrote {}", path.display());
    println!(
        "model: {} bytes; runtime workspace: {} f32 ({} bytes)",
        bytes.len(),
        model.workspace_sizes().classify,
        model.workspace_sizes().classify_bytes()
    );
    if args.colour {
        return Ok(());
    }

    let broken = args
        .broken
        .clone()
        .unwrap_or_else(|| out.parent().unwrap_or(Path::new(".")).join("broken"));
    write_broken(&bytes, &broken)?;
    println!(
        "wrote {} broken files and {} to {}",
        Corruption::ALL.len(),
        files::BROKEN_INDEX,
        broken.display()
    );
    Ok(())
}

/// The CRC-32 a model file stores in its trailer (over every byte before it), as
/// `gmvae inspect` prints it. (The CRC over the whole file, trailer included, is the same
/// residue constant for every valid file, so it would identify nothing.)
fn stored_crc(bytes: &[u8]) -> Result<u32> {
    let trailer = bytes
        .len()
        .checked_sub(4)
        .and_then(|at| bytes.get(at..))
        .ok_or_else(|| anyhow!("the model file is shorter than its CRC trailer"))?;
    let stored = u32::from_le_bytes(trailer.try_into()?);
    let body = bytes.get(..bytes.len() - 4).unwrap_or_default();
    ensure!(
        gmvae_format::crc32(body) == stored,
        "the model's CRC trailer does not match its contents"
    );
    Ok(stored)
}

/// `expected.json`'s value and the concatenated reconstructions.
fn expected_outputs(
    model: &Model<'_>,
    bytes: &[u8],
    inputs: &[GoldenInput],
    training: &str,
) -> Result<(Value, Vec<f32>)> {
    let sizes = model.workspace_sizes();
    let mut ws = vec![0.0f32; sizes.classify];
    let mut cases = Vec::new();
    let mut reconstructions = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let v = model
            .classify(&input.pixels, &mut ws)
            .map_err(|e| anyhow!("the runtime failed on golden input {}: {e}", input.name))?;
        let mut recon = vec![0.0; model.image_len()];
        model
            .decode_into(&v.latent, &mut ws, &mut recon)
            .map_err(|e| anyhow!("the runtime failed to decode {}: {e}", input.name))?;
        reconstructions.extend_from_slice(&recon);
        cases.push(case_json(index, input, &v));
    }
    let t = model.thresholds();
    let a = model.architecture();
    let expected = json!({
        "format": EXPECTED_FORMAT,
        "generated_by": "cargo run --release -p gmvae-trainer --example golden_fixtures",
        "training_flags": training,
        "model": {
            "file": files::MODEL,
            "bytes": bytes.len(),
            "crc32": format!("0x{:08x}", stored_crc(bytes)?),
            "sha256": gmvae_trainer::checksum::sha256_hex(bytes),
            "architecture": {
                "in_channels": a.in_channels, "height": a.height, "width": a.width,
                "conv1": a.conv1, "conv2": a.conv2, "hidden": a.hidden,
                "latent": a.latent, "classes": a.classes,
            },
            "workspace_len": sizes.classify,
            "workspace_bytes": sizes.classify_bytes(),
            "tau_enc": hex(t.tau_enc),
            "tau_dec": hex(t.tau_dec),
        },
        "inputs": {
            "file": files::INPUTS,
            "count": inputs.len(),
            "image_len": model.image_len(),
            "layout": "count images, each image_len little-endian f32 in [C][H][W] order",
        },
        "reconstructions": {
            "file": files::RECONSTRUCTIONS,
            "layout": "one decode_into(latent) output per input, same layout as the inputs",
        },
        "cases": cases,
    });
    Ok((expected, reconstructions))
}

/// One entry of `expected.json`'s `cases`.
fn case_json(index: usize, input: &GoldenInput, v: &Verdict) -> Value {
    let (rejected_latent, rejected_reconstruction) = v.decision.rejection_flags();
    json!({
        "index": index,
        "name": input.name,
        "source": input.source,
        "true_label": input.true_label,
        "label": v.label,
        "latent": v.latent.iter().map(|&x| hex(x)).collect::<Vec<_>>(),
        "mahalanobis_sq": hex(v.mahalanobis_sq),
        "reconstruction_error": hex(v.reconstruction_error),
        "accepted": v.decision.is_accepted(),
        "rejected_latent": rejected_latent,
        "rejected_reconstruction": rejected_reconstruction,
        "approx": {
            "latent": v.latent.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
            "mahalanobis_sq": f64::from(v.mahalanobis_sq),
            "reconstruction_error": f64::from(v.reconstruction_error),
        },
    })
}

/// Writes every corruption of `model` to `dir` as `NAME.gmvae` plus the index of their
/// errors, after checking both readers report the error each corruption names. Stale
/// `.gmvae` files in `dir` are removed.
fn write_broken(model: &[u8], dir: &Path) -> Result<()> {
    let view = ModelView::parse(model).map_err(|e| anyhow!("invalid golden model: {e}"))?;
    let file = ModelFile::from_view(&view);
    ensure!(
        file.to_bytes().ok().as_deref() == Some(model),
        "the writer does not reproduce the golden model byte for byte"
    );
    let mut index = Vec::new();
    let mut names = Vec::new();
    for c in Corruption::ALL {
        let bytes = c
            .apply(&file)
            .map_err(|e| anyhow!("cannot apply {c:?}: {e}"))?;
        let err = match ModelView::parse(&bytes) {
            Ok(_) => bail!("{c:?} produced a file that parses"),
            Err(e) => e,
        };
        ensure!(c.matches(&err), "{c:?} gives {err:?}, not its own error");
        match Model::parse(&bytes) {
            Err(gmvae_runtime::Error::Format(e)) if e == err => {}
            other => bail!("{c:?}: the runtime says {other:?}, the reader {err:?}"),
        }
        let name = format!("{}.{}", c.name(), files::MODEL_EXTENSION);
        write_atomically(&dir.join(&name), &bytes)?;
        let variant = format!("{err:?}");
        let variant = variant
            .split([' ', '{', '('])
            .next()
            .unwrap_or_default()
            .to_owned();
        index.push(json!({
            "file": name,
            "corruption": format!("{c:?}"),
            "error": variant,
            "error_debug": format!("{err:?}"),
            "message": err.to_string(),
        }));
        names.push(name);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let stale = path
            .extension()
            .is_some_and(|e| e == files::MODEL_EXTENSION)
            && !names
                .iter()
                .any(|n| path.file_name().is_some_and(|f| f == n.as_str()));
        if stale {
            std::fs::remove_file(&path)?;
            println!("removed stale {}", path.display());
        }
    }
    let index = json!({ "from": format!("golden/{}", files::MODEL), "files": index });
    write_atomically(
        &dir.join(files::BROKEN_INDEX),
        (serde_json::to_string_pretty(&index)? + "\n").as_bytes(),
    )?;
    Ok(())
}

/// `0x` and the 8 hex digits of an f32's bit pattern.
fn hex(x: f32) -> String {
    format!("0x{:08x}", x.to_bits())
}

/// Values as little-endian bytes.
fn f32le(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}
