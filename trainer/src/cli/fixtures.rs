//! `gmvae fixtures`: regenerate the committed golden fixtures (`fixtures/golden/`) and the
//! deliberately broken model files (`fixtures/broken/`). `fixtures/README.md` documents every
//! file and when regenerating them is legitimate.
//!
//! 1. Trains the `edge` preset on the bundled MNIST-10k with the fixed flags
//!    [`TRAIN_FLAGS`] through [`train_and_calibrate`] (the same code as `gmvae train`) and
//!    exports `model.gmvae`. With `--reuse-model` the existing `model.gmvae` is kept instead:
//!    dfdx picks its matrix kernels per CPU, so retraining elsewhere may give other weights,
//!    while everything below is a function of the model bytes and the runtime alone.
//! 2. Writes the golden inputs ([`golden_inputs`]) to `inputs.f32le`.
//! 3. Runs `gmvae-runtime` on them and records its outputs bit-exactly in `expected.json`
//!    (f32 values as `0x…` bit patterns) and `reconstructions.f32le`.
//! 4. Writes one file per [`Corruption`] of the model to the broken directory, after checking
//!    that both readers report the error the corruption names.

use super::train::{train_and_calibrate, TrainArgs};
use crate::atomic::write_atomically;
use crate::data::{load, Dataset, DatasetSpec};
use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::{Args, Parser};
use dfdx::prelude::Cpu;
use gmvae_format::corrupt::Corruption;
use gmvae_format::{crc32, ModelFile, ModelView};
use gmvae_runtime::{Decision, Model, Verdict};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The `gmvae train` flags that produce the golden model (the run directory is a temporary
/// one). Changing them changes the golden model: regenerate and say so in the commit.
pub const TRAIN_FLAGS: [&str; 12] = [
    "--dataset",
    "mnist10k",
    "--preset",
    "edge",
    "--epochs",
    "4",
    "--seed",
    "2019",
    "--shards",
    "2",
    "--device",
    "cpu",
];

/// File names inside the golden directory.
pub mod files {
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
pub const EXPECTED_FORMAT: &str = "gmvae-golden-1";

/// Seed of the SplitMix64 stream behind the noise inputs.
const NOISE_SEED: u64 = 2019;

/// Arguments of `gmvae fixtures`.
#[derive(Debug, Clone, Args)]
pub struct FixturesArgs {
    /// Directory of the golden files (model.gmvae, inputs.f32le, reconstructions.f32le,
    /// expected.json).
    #[arg(long, value_name = "DIR", default_value = "fixtures/golden")]
    pub out: PathBuf,
    /// Directory of the broken files [default: `broken` beside OUT].
    #[arg(long, value_name = "DIR")]
    pub broken: Option<PathBuf>,
    /// Keep OUT/model.gmvae and regenerate only the inputs, the expected outputs and the broken
    /// files (after a deliberate runtime numerics change, where retraining is not wanted).
    #[arg(long)]
    pub reuse_model: bool,
}

impl FixturesArgs {
    /// The broken-file directory (`--broken`, else `broken` beside `--out`).
    pub fn broken_dir(&self) -> PathBuf {
        self.broken
            .clone()
            .unwrap_or_else(|| self.out.parent().unwrap_or(Path::new(".")).join("broken"))
    }
}

/// One golden input.
#[derive(Clone, Debug, PartialEq)]
pub struct GoldenInput {
    /// A short unique name, e.g. `digit-3-b` or `uniform-noise`.
    pub name: String,
    /// Where it comes from, in words.
    pub source: String,
    /// The dataset label, for test digits.
    pub true_label: Option<usize>,
    /// `C·H·W` values in `[0, 1]`.
    pub pixels: Vec<f32>,
}

/// Runs `gmvae fixtures`.
pub fn run(args: FixturesArgs) -> Result<()> {
    let model_path = args.out.join(files::MODEL);
    let split = load(&DatasetSpec::Bundled)?;
    if !args.reuse_model {
        let bytes = train_golden_model()?;
        write_atomically(&model_path, &bytes)?;
        println!("wrote {}", model_path.display());
    }
    let bytes = std::fs::read(&model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?;
    let model = Model::parse(&bytes)
        .map_err(|e| anyhow!("{} is not a valid model: {e}", model_path.display()))?;

    let inputs = golden_inputs(&split.test, model.image_len())?;
    let (expected, reconstructions) = expected_outputs(&model, &bytes, &inputs)?;
    let inputs_bytes = f32le(inputs.iter().flat_map(|i| i.pixels.iter().copied()));
    for (name, data) in [
        (files::INPUTS, inputs_bytes),
        (files::RECONSTRUCTIONS, f32le(reconstructions)),
        (
            files::EXPECTED,
            (serde_json::to_string_pretty(&expected)? + "\n").into_bytes(),
        ),
    ] {
        let path = args.out.join(name);
        write_atomically(&path, &data)?;
        println!("wrote {}", path.display());
    }
    let golden_reclassify = inputs
        .iter()
        .map(|i| (i.name.as_str(), i.pixels.as_slice()));
    let path = crate::reclassify::golden::write(&args.out, &model, golden_reclassify)?;
    println!("wrote {}", path.display());

    let broken = args.broken_dir();
    write_broken(&bytes, &broken)?;
    println!(
        "wrote {} broken files and {} to {}",
        Corruption::ALL.len(),
        files::BROKEN_INDEX,
        broken.display()
    );
    println!(
        "model: {} bytes; runtime workspace: {} f32 ({} bytes)",
        bytes.len(),
        model.workspace_sizes().classify,
        model.workspace_sizes().classify_bytes()
    );
    Ok(())
}

/// `gmvae train` with [`TRAIN_FLAGS`] in a temporary run directory; the model file's bytes.
fn train_golden_model() -> Result<Vec<u8>> {
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        train: TrainArgs,
    }
    let run_dir = std::env::temp_dir().join(format!("gmvae-fixtures-{}", std::process::id()));
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)
            .with_context(|| format!("cannot clear {}", run_dir.display()))?;
    }
    let run_dir_str = run_dir.to_string_lossy().into_owned();
    let argv = std::iter::once("gmvae-train")
        .chain(TRAIN_FLAGS)
        .chain(["--out", run_dir_str.as_str()]);
    let args = Flags::try_parse_from(argv)
        .map_err(|e| anyhow!("internal: bad fixture training flags: {e}"))?
        .train;
    println!("training: gmvae train {}", TRAIN_FLAGS.join(" "));
    let split = load(&args.dataset.spec())?;
    let trained = train_and_calibrate(&args, &split, &Cpu::default());
    let bytes = trained.and_then(|t| {
        crate::export::to_model_file(&t)?
            .to_bytes()
            .map_err(|e| anyhow!("the model cannot be exported: {e:?}"))
    });
    let _ = std::fs::remove_dir_all(&run_dir);
    bytes
}

/// The golden inputs: the first two test digits of each class (in test-split order, class
/// by class), then four out-of-distribution images: uniform noise, all black, all white,
/// and the first golden digit with ±0.3 sign noise (an FGSM-shaped perturbation with a
/// pseudo-random sign instead of the gradient's), clipped to `[0, 1]`. Noise comes from
/// SplitMix64, so the inputs are the same bits everywhere.
pub fn golden_inputs(test: &Dataset, image_len: usize) -> Result<Vec<GoldenInput>> {
    ensure!(
        test.shape.pixels() == image_len,
        "the test images have {} values, the model expects {image_len}",
        test.shape.pixels()
    );
    let mut inputs = Vec::new();
    for class in 0..test.num_classes() {
        let found: Vec<usize> = (0..test.len())
            .filter(|&i| usize::from(test.labels[i]) == class)
            .take(2)
            .collect();
        ensure!(
            found.len() == 2,
            "class {class} has fewer than two test digits"
        );
        for (k, &i) in found.iter().enumerate() {
            inputs.push(GoldenInput {
                name: format!("digit-{class}-{}", ["a", "b"][k]),
                source: format!("bundled MNIST-10k test image {i}"),
                true_label: Some(class),
                pixels: test.image(i).to_vec(),
            });
        }
    }
    let mut rng = SplitMix64(NOISE_SEED);
    inputs.push(GoldenInput {
        name: "uniform-noise".into(),
        source: format!(
            "uniform in [0, 1): (u >> 40) / 2^24, u from SplitMix64 seeded {NOISE_SEED}"
        ),
        true_label: None,
        pixels: (0..image_len).map(|_| rng.unit()).collect(),
    });
    inputs.push(GoldenInput {
        name: "all-black".into(),
        source: "every value 0".into(),
        true_label: None,
        pixels: vec![0.0; image_len],
    });
    inputs.push(GoldenInput {
        name: "all-white".into(),
        source: "every value 1".into(),
        true_label: None,
        pixels: vec![1.0; image_len],
    });
    let base = inputs[0].clone();
    inputs.push(GoldenInput {
        name: "sign-noise-digit".into(),
        source: format!(
            "{} + 0.3·s, s = ±1 from SplitMix64 (continuing the noise stream), clipped to [0, 1]",
            base.name
        ),
        true_label: base.true_label,
        pixels: base
            .pixels
            .iter()
            .map(|&x| {
                let s = if rng.next_u64() >> 63 == 1 { 0.3 } else { -0.3 };
                (x + s).clamp(0.0, 1.0)
            })
            .collect(),
    });
    Ok(inputs)
}

/// `expected.json`'s value and the concatenated reconstructions.
fn expected_outputs(
    model: &Model<'_>,
    bytes: &[u8],
    inputs: &[GoldenInput],
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
        "generated_by": "gmvae fixtures --out fixtures/golden",
        "training_flags": TRAIN_FLAGS.join(" "),
        "model": {
            "file": files::MODEL,
            "bytes": bytes.len(),
            "crc32": format!("0x{:08x}", crc32(bytes)),
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
    let (rejected_latent, rejected_reconstruction) = match v.decision {
        Decision::Accepted => (false, false),
        Decision::Rejected {
            latent,
            reconstruction,
        } => (latent, reconstruction),
    };
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
    )
}

/// `0x` and the 8 hex digits of an f32's bit pattern.
fn hex(x: f32) -> String {
    format!("0x{:08x}", x.to_bits())
}

/// Values as little-endian bytes.
fn f32le(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// SplitMix64, so the noise inputs do not depend on any crate's RNG.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 random bits.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}
