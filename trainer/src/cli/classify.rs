//! `gmvae classify MODEL INPUT...`: runs the heap-free runtime (`gmvae-runtime`, not dfdx) on
//! PNG files or IDX entries and prints each verdict: label, latent code, squared Mahalanobis
//! distance, reconstruction error, and which threshold rejected it, if any.

use super::model_bytes;
use anyhow::{anyhow, Result};
use clap::Args;
use gmvae_runtime::{Decision, Model, Verdict};
use gmvae_trainer::data::ImageShape;
use gmvae_trainer::input::{InputLoader, InputSpec};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `gmvae classify`.
#[derive(Debug, Clone, Args)]
pub struct ClassifyArgs {
    /// The model file.
    pub model: PathBuf,
    /// PNG files (greyscale or RGB, 8 or 16 bits, exactly the model's size) or IDX image
    /// entries written FILE:INDEX (e.g. t10k-images-idx3-ubyte.gz:0).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Print one JSON object per input (one per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One input's verdict, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct Classified {
    /// The input as given.
    pub input: String,
    /// The nearest class mean's index.
    pub label: usize,
    /// That class's name.
    pub class_name: String,
    /// `z = f(x)`.
    pub latent: Vec<f32>,
    /// Squared Mahalanobis distance of `z` to the label's mean.
    pub mahalanobis_sq: f32,
    /// `Σ (x − g(z))²`.
    pub reconstruction_error: f32,
    /// Whether both thresholds held.
    pub accepted: bool,
    /// The thresholds that failed: `"latent"` (τ_enc), `"reconstruction"` (τ_dec).
    pub rejected_by: Vec<&'static str>,
    /// The model's τ_enc.
    pub tau_enc: f32,
    /// The model's τ_dec.
    pub tau_dec: f32,
}

/// Runs `gmvae classify`.
pub fn run(args: ClassifyArgs) -> Result<()> {
    let bytes = model_bytes::read(&args.model)?;
    let model = model_bytes::runtime_model(&args.model, &bytes)?;
    let specs: Vec<InputSpec> = args.inputs.iter().map(|s| InputSpec::parse(s)).collect();
    let images = load_all(&model, &specs)?;
    let mut ws = vec![0.0f32; model.workspace_sizes().classify];
    let verdicts = specs
        .iter()
        .zip(&images)
        .map(|(spec, image)| {
            model
                .classify(image, &mut ws)
                .map_err(|e| anyhow!("{spec}: the runtime failed: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    for (input, verdict) in args.inputs.iter().zip(&verdicts) {
        let result = describe(&model, input, verdict);
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else {
            print!("{}", render(&result));
        }
    }
    Ok(())
}

/// The model's input shape.
pub fn input_shape(model: &Model<'_>) -> ImageShape {
    let a = model.architecture();
    ImageShape {
        channels: a.in_channels,
        height: a.height,
        width: a.width,
    }
}

/// Loads every input, failing on the first unreadable one.
pub fn load_all(model: &Model<'_>, specs: &[InputSpec]) -> Result<Vec<Vec<f32>>> {
    let shape = input_shape(model);
    let mut loader = InputLoader::new();
    let images: Result<_, _> = specs.iter().map(|spec| loader.load(spec, shape)).collect();
    Ok(images?)
}

/// The printed form of a verdict.
pub fn describe(model: &Model<'_>, input: &str, v: &Verdict) -> Classified {
    let t = model.thresholds();
    let rejected_by = match v.decision {
        Decision::Accepted => Vec::new(),
        Decision::Rejected {
            latent,
            reconstruction,
        } => [(latent, "latent"), (reconstruction, "reconstruction")]
            .into_iter()
            .filter_map(|(failed, name)| failed.then_some(name))
            .collect(),
    };
    Classified {
        input: input.to_owned(),
        label: v.label,
        class_name: model.class_name(v.label).unwrap_or_default().to_owned(),
        latent: v.latent.to_vec(),
        mahalanobis_sq: v.mahalanobis_sq,
        reconstruction_error: v.reconstruction_error,
        accepted: v.decision.is_accepted(),
        rejected_by,
        tau_enc: t.tau_enc,
        tau_dec: t.tau_dec,
    }
}

/// Three lines per input.
fn render(c: &Classified) -> String {
    let verdict = if c.accepted {
        "accepted".to_owned()
    } else {
        let mut failed = Vec::new();
        if c.rejected_by.contains(&"latent") {
            failed.push(format!(
                "latent: Mahalanobis² {} > τ_enc {}",
                c.mahalanobis_sq, c.tau_enc
            ));
        }
        if c.rejected_by.contains(&"reconstruction") {
            failed.push(format!(
                "reconstruction: error {} > τ_dec {}",
                c.reconstruction_error, c.tau_dec
            ));
        }
        format!("REJECTED ({})", failed.join("; "))
    };
    let latent: Vec<String> = c.latent.iter().map(|v| format!("{v:.4}")).collect();
    format!(
        "{}: label {} ({:?}) {verdict}\n  latent [{}]\n  Mahalanobis² {:.4} (τ_enc {:.4})  reconstruction error {:.4} (τ_dec {:.4})\n",
        c.input,
        c.label,
        c.class_name,
        latent.join(", "),
        c.mahalanobis_sq,
        c.tau_enc,
        c.reconstruction_error,
        c.tau_dec
    )
}
