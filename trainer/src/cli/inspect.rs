//! `gmvae inspect FILE`: verifies a model file with the format reader and describes it —
//! version, size and CRC, dataset and classes, architecture and layers, parameter and weight
//! bytes, class means, covariance, thresholds with their calibration settings, and the
//! runtime workspace `classify` needs.

use super::model_bytes;
use anyhow::Result;
use clap::Args;
use gmvae_format::{
    one_hot_means, Activation, Architecture, CovarianceKind, Layer, LayerKind, ModelView,
    TauDecStatistic,
};
use gmvae_trainer::calibrate::TauEncStatistic;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `gmvae inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The model file.
    pub model: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `gmvae inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file inspected.
    pub file: String,
    /// Format version, `major.minor`.
    pub version: String,
    /// File length in bytes.
    pub file_bytes: usize,
    /// The CRC-32 trailer (verified against the contents), `0x…`.
    pub crc32: String,
    /// Dataset the model was trained on.
    pub dataset: String,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// The model's sizes.
    pub architecture: Sizes,
    /// The 15 layer records, one line each.
    pub layers: Vec<String>,
    /// `f32` parameters of the 16 network tensors.
    pub parameters: usize,
    /// Bytes of those parameters (4 per parameter).
    pub weight_bytes: usize,
    /// Bytes of the class means and precision matrices.
    pub calibration_tensor_bytes: usize,
    /// How the class means look (one-hot or not, norms).
    pub class_means: String,
    /// `isotropic` or `per-class`.
    pub covariance: String,
    /// Fixed encoder variance.
    pub s2: f32,
    /// Critical squared Mahalanobis distance.
    pub tau_enc: f32,
    /// Critical reconstruction error.
    pub tau_dec: f32,
    /// Confidence level of τ_enc.
    pub confidence: f32,
    /// How τ_enc was obtained ("chi-square" when it is the chi-square critical value, else
    /// "quantile": the format stores only the value).
    pub tau_enc_statistic: String,
    /// How τ_dec was obtained.
    pub tau_dec_statistic: String,
    /// Calibration samples.
    pub samples: u64,
    /// `f32`s of runtime workspace for `classify` (`WorkspaceSizes::classify`).
    pub workspace_f32s: usize,
    /// Bytes of runtime workspace for `classify` (`WorkspaceSizes::classify_bytes`).
    pub workspace_bytes: usize,
    /// `f32`s of runtime workspace for `reclassify` (`WorkspaceSizes::reclassify`).
    pub reclassify_workspace_f32s: usize,
    /// Bytes of runtime workspace for `reclassify` (`WorkspaceSizes::reclassify_bytes`).
    pub reclassify_workspace_bytes: usize,
    /// `f32`s with which `reclassify` runs every start in lockstep, the fastest
    /// (`WorkspaceSizes::reclassify_lockstep`).
    pub reclassify_lockstep_workspace_f32s: usize,
    /// The same in bytes (`WorkspaceSizes::reclassify_lockstep_bytes`).
    pub reclassify_lockstep_workspace_bytes: usize,
}

/// The architecture's sizes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// First conv's channels.
    pub conv1: usize,
    /// Second conv's channels.
    pub conv2: usize,
    /// Dense hidden units.
    pub hidden: usize,
    /// Latent dimension.
    pub latent: usize,
    /// Classes.
    pub classes: usize,
    /// Flattened encoder features.
    pub flat_features: usize,
}

/// Runs `gmvae inspect`.
pub fn run(args: InspectArgs) -> Result<()> {
    let bytes = model_bytes::read(&args.model)?;
    let model = model_bytes::runtime_model(&args.model, &bytes)?;
    let sizes = model.workspace_sizes();
    let report = inspect(
        &args.model.display().to_string(),
        model.view(),
        sizes.classify,
        sizes.classify_bytes(),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// Describes a parsed model; `workspace_*` come from the runtime.
pub fn inspect(
    file: &str,
    view: &ModelView<'_>,
    workspace_f32s: usize,
    workspace_bytes: usize,
) -> Inspection {
    let a = view.architecture();
    let c = view.calibration();
    let bytes = view.bytes();
    let trailer = bytes.len().checked_sub(4).and_then(|s| bytes.get(s..));
    let crc = trailer.map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]));
    let (major, minor) = view.version();
    let parameters = a.param_count();
    let runtime = gmvae_runtime::Model::from_view(*view).ok();
    let runtime_sizes = runtime.map(|m| m.workspace_sizes());
    let reclassify = runtime_sizes.map_or((0, 0), |s| (s.reclassify, s.reclassify_bytes()));
    let lockstep = runtime_sizes.map_or((0, 0), |s| {
        (s.reclassify_lockstep, s.reclassify_lockstep_bytes())
    });
    Inspection {
        file: file.to_owned(),
        version: format!("{major}.{minor}"),
        file_bytes: view.file_len(),
        crc32: format!("{crc:#010x}"),
        dataset: view.dataset_name().to_owned(),
        class_names: view.class_names().map(str::to_owned).collect(),
        architecture: sizes(&a),
        layers: a
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| describe_layer(i, l))
            .collect(),
        parameters,
        weight_bytes: parameters * 4,
        calibration_tensor_bytes: (view.class_means().len() + view.precisions().len()) * 4,
        class_means: describe_means(view),
        covariance: match c.covariance {
            CovarianceKind::Isotropic => "isotropic".into(),
            CovarianceKind::PerClass => "per-class".into(),
        },
        s2: c.s2,
        tau_enc: c.tau_enc,
        tau_dec: c.tau_dec,
        confidence: c.confidence,
        tau_enc_statistic: match gmvae_trainer::export::tau_enc_statistic(
            c.tau_enc,
            view.architecture().latent,
            c.confidence,
        ) {
            TauEncStatistic::ChiSquare => "chi-square".into(),
            TauEncStatistic::Quantile => "quantile".into(),
        },
        tau_dec_statistic: match c.tau_dec_statistic {
            TauDecStatistic::Quantile { level } => format!("quantile {level}"),
            TauDecStatistic::MeanPlusKStd { k } => format!("mean + {k}·std"),
        },
        samples: c.samples,
        workspace_f32s,
        workspace_bytes,
        reclassify_workspace_f32s: reclassify.0,
        reclassify_workspace_bytes: reclassify.1,
        reclassify_lockstep_workspace_f32s: lockstep.0,
        reclassify_lockstep_workspace_bytes: lockstep.1,
    }
}

fn sizes(a: &Architecture) -> Sizes {
    Sizes {
        in_channels: a.in_channels,
        height: a.height,
        width: a.width,
        conv1: a.conv1,
        conv2: a.conv2,
        hidden: a.hidden,
        latent: a.latent,
        classes: a.classes,
        flat_features: a.flat_features(),
    }
}

/// One layer record as `kind params  input → output`.
fn describe_layer(index: usize, l: &Layer) -> String {
    let (cin, cout, h, w) = (l.inputs, l.outputs, l.height, l.width);
    let act = match l.activation {
        Activation::Identity => "",
        Activation::Relu => " + ReLU",
        Activation::Sigmoid => " + sigmoid",
    };
    let (op, input, output) = match l.kind {
        LayerKind::Input => ("input".to_owned(), String::new(), format!("{cin}×{h}×{w}")),
        LayerKind::Conv2d => (
            format!("conv {k}×{k} s{} p{}", l.stride, l.padding, k = l.kernel),
            format!("{cin}×{h}×{w}"),
            format!("{cout}×{h}×{w}"),
        ),
        LayerKind::MaxPool2d => (
            format!("max-pool {k}×{k}", k = l.kernel),
            format!("{cin}×{h}×{w}"),
            format!("{cout}×{}×{}", h / 2, w / 2),
        ),
        LayerKind::Flatten => ("flatten".into(), format!("{cin}×{h}×{w}"), cout.to_string()),
        LayerKind::Dense => ("dense".into(), cin.to_string(), cout.to_string()),
        LayerKind::Reshape => ("reshape".into(), cin.to_string(), format!("{cout}×{h}×{w}")),
        LayerKind::Upsample2d => (
            format!("nearest upsample ×{}", l.kernel),
            format!("{cin}×{h}×{w}"),
            format!("{cout}×{}×{}", h * 2, w * 2),
        ),
    };
    let arrow = if input.is_empty() {
        String::new()
    } else {
        format!("{input} → ")
    };
    format!("{index:>2} {:<26}{arrow}{output}", format!("{op}{act}"))
}

/// "one-hot (…)" when the means are the standard ones, else their norm range.
fn describe_means(view: &ModelView<'_>) -> String {
    let a = view.architecture();
    let means: Vec<f32> = view.class_means().iter().collect();
    if means == one_hot_means(&a) {
        return if a.latent > a.classes {
            format!("one-hot e_k, zero-padded to latent {}", a.latent)
        } else {
            "one-hot e_k".into()
        };
    }
    let norms: Vec<f32> = means
        .chunks(a.latent.max(1))
        .map(|m| m.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    let min = norms.iter().copied().fold(f32::INFINITY, f32::min);
    let max = norms.iter().copied().fold(0.0, f32::max);
    format!("custom, Euclidean norms {min:.4}..{max:.4}")
}

/// The text form of a report.
pub fn render(r: &Inspection) -> String {
    let a = &r.architecture;
    let mut s = String::new();
    let mut line = |key: &str, value: String| s.push_str(&format!("{key:<13}{value}\n"));
    line("file", r.file.clone());
    line(
        "format",
        format!(
            "gmvae {}, {} bytes, CRC-32 {} (verified)",
            r.version, r.file_bytes, r.crc32
        ),
    );
    line(
        "dataset",
        format!(
            "{} ({} classes: {})",
            super::printable(&r.dataset),
            r.class_names.len(),
            r.class_names
                .iter()
                .map(|n| super::printable(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    line(
        "architecture",
        format!(
            "input {}×{}×{}, conv {}/{}, hidden {}, latent {}, flat features {}",
            a.in_channels, a.height, a.width, a.conv1, a.conv2, a.hidden, a.latent, a.flat_features
        ),
    );
    line("layers", format!("{} records", r.layers.len()));
    for l in &r.layers {
        line("", l.clone());
    }
    line(
        "parameters",
        format!(
            "{} ({} weight bytes; class means + precisions {} bytes)",
            r.parameters, r.weight_bytes, r.calibration_tensor_bytes
        ),
    );
    line("class means", r.class_means.clone());
    line(
        "covariance",
        format!("{}, s2 = {} (1/{:.1})", r.covariance, r.s2, 1.0 / r.s2),
    );
    line(
        "thresholds",
        format!(
            "tau_enc = {} ({}); tau_dec = {} ({})",
            r.tau_enc,
            match r.tau_enc_statistic.as_str() {
                "chi-square" =>
                    format!("chi-square, {} dof, confidence {}", a.latent, r.confidence),
                _ => format!("quantile {} of calibration distances", r.confidence),
            },
            r.tau_dec,
            r.tau_dec_statistic
        ),
    );
    line("calibration", format!("{} samples", r.samples));
    line(
        "workspace",
        format!(
            "{} f32 = {} bytes for classify (gmvae-runtime)",
            r.workspace_f32s, r.workspace_bytes
        ),
    );
    line(
        "reclassify",
        format!(
            "{} f32 = {} bytes of workspace for reclassify (gmvae-runtime), at least; \
             {} f32 = {} bytes run every start in lockstep (fastest, same results)",
            r.reclassify_workspace_f32s,
            r.reclassify_workspace_bytes,
            r.reclassify_lockstep_workspace_f32s,
            r.reclassify_lockstep_workspace_bytes
        ),
    );
    s
}
