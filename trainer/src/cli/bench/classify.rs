//! `gmvae bench classify MODEL`: batch-1 latency of the runtime's `classify` (encoder,
//! decoder, both thresholds) on one thread, optionally beside onnxruntime running the same
//! exported weights (`benches/peers/onnx_classify.py`) right after our measurement.
//!
//! Our side: a boxed workspace, `--warmup` untimed calls, then `--runs` timed calls on the same
//! image; the minimum and the median are reported (a shared machine skews means). The peer is
//! handed the model file and a JSON file with the runtime's outputs on every input; it checks
//! its graph against them before timing, so both sides are known to compute the same thing.

use super::machine::{IsaChoice, Machine};
use super::{check_count, default_peer_script, run_peer_script, MAX_REPETITIONS};
use crate::cli::classify::{describe, load_all};
use crate::cli::model_bytes;
use anyhow::{anyhow, ensure, Context, Result};
use clap::Args;
use gmvae_runtime::Model;
use gmvae_trainer::data::{bundled_dir, MnistFiles};
use gmvae_trainer::input::InputSpec;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The onnxruntime peer, relative to the checkout's root.
const ONNX_PEER: &str = "benches/peers/onnx_classify.py";

/// Test digits used when no `--input` is given and the model takes 1×28×28 images.
const DEFAULT_INPUTS: usize = 4;

/// Arguments of `gmvae bench classify`.
#[derive(Debug, Clone, Args)]
pub struct ClassifyBenchArgs {
    /// The model file.
    pub model: PathBuf,
    /// Timed calls.
    #[arg(long, default_value_t = 2000)]
    pub runs: usize,
    /// Untimed calls first (caches, branch predictors, CPU frequency).
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Inputs to check the peer on (PNG or FILE:INDEX, repeatable); the first is timed
    /// [default: the first 4 bundled test digits for a 1×28×28 model, else seeded random
    /// images].
    #[arg(long = "input", value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Python interpreter with onnx and onnxruntime (e.g. /opt/peer/bin/python); runs the
    /// peer after us.
    #[arg(long, value_name = "PATH")]
    pub peer_python: Option<PathBuf>,
    /// The peer script [default: benches/peers/onnx_classify.py of this checkout].
    #[arg(long, value_name = "PATH")]
    pub peer_script: Option<PathBuf>,
    /// Instruction set of the runtime's kernels: the best this CPU has, or the baseline.
    #[arg(long, value_enum, default_value_t = IsaChoice::Best)]
    pub isa: IsaChoice,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// A latency measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// What was timed.
    pub implementation: String,
    /// Fastest call, milliseconds.
    pub min_ms: f64,
    /// Median call, milliseconds.
    pub median_ms: f64,
}

/// How the peer's graph compared with the runtime's outputs.
#[derive(Debug, Clone, Serialize)]
pub struct PeerCheck {
    /// Inputs compared.
    pub cases: u64,
    /// Largest `max |Δz| / max |z|` over the cases.
    pub max_rel_latent: f64,
    /// Largest relative difference of the reconstruction error.
    pub max_rel_reconstruction: f64,
    /// Largest relative difference of the squared Mahalanobis distance.
    pub max_rel_mahalanobis: f64,
}

/// The whole report of `gmvae bench classify`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifyBenchReport {
    /// The model file.
    pub model: String,
    /// `C×H×W, conv c1/c2, hidden, latent`.
    pub architecture: String,
    /// Network parameters.
    pub params: usize,
    /// Runtime workspace for classify, bytes.
    pub workspace_bytes: usize,
    /// The timed input.
    pub input: String,
    /// Timed calls per side.
    pub runs: usize,
    /// Untimed calls first.
    pub warmup: usize,
    /// Threads per side (the runtime never spawns any; the peer gets one intra-op and one
    /// inter-op thread).
    pub threads: usize,
    /// Where and when it ran.
    #[serde(flatten)]
    pub machine: Machine,
    /// Whether this binary was built with optimisations.
    pub release_build: bool,
    /// The runtime.
    pub ours: Latency,
    /// onnxruntime, if run.
    pub peer: Option<Latency>,
    /// The peer's agreement with the runtime.
    pub check: Option<PeerCheck>,
    /// ours / peer median latency (below 1: ours is faster).
    pub ratio_median: Option<f64>,
    /// ours / peer fastest latency.
    pub ratio_min: Option<f64>,
}

/// Runs `gmvae bench classify` and prints its report.
pub fn run(args: ClassifyBenchArgs) -> Result<()> {
    check_count("--runs", args.runs, 1, MAX_REPETITIONS)?;
    check_count("--warmup", args.warmup, 0, MAX_REPETITIONS)?;
    let bytes = model_bytes::read(&args.model)?;
    let model = args
        .isa
        .apply(model_bytes::runtime_model(&args.model, &bytes)?);
    let (names, images) = bench_inputs(&model, &args.inputs, DEFAULT_INPUTS)?;
    let (ours, cases) = measure(&model, &names, &images, args.runs, args.warmup)?;
    let a = model.architecture();
    let mut report = ClassifyBenchReport {
        model: args.model.display().to_string(),
        architecture: format!(
            "{}×{}×{}, conv {}/{}, hidden {}, latent {}",
            a.in_channels, a.height, a.width, a.conv1, a.conv2, a.hidden, a.latent
        ),
        params: a.param_count(),
        workspace_bytes: model.workspace_sizes().classify_bytes(),
        input: names.first().cloned().unwrap_or_default(),
        runs: args.runs,
        warmup: args.warmup,
        threads: 1,
        machine: Machine::now(model.isa()),
        release_build: !cfg!(debug_assertions),
        ours,
        peer: None,
        check: None,
        ratio_median: None,
        ratio_min: None,
    };
    if !report.release_build {
        eprintln!("warning: debug build; build with `cargo build --release` for real figures");
    }
    if let Some(python) = &args.peer_python {
        let script = match &args.peer_script {
            Some(script) => script.clone(),
            None => default_peer_script(ONNX_PEER)?,
        };
        let (peer, check) = run_peer(python, &script, &args, &cases)?;
        report.ratio_median = Some(report.ours.median_ms / peer.median_ms);
        report.ratio_min = Some(report.ours.min_ms / peer.min_ms);
        report.peer = Some(peer);
        report.check = Some(check);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// `inputs` (PNG or FILE:INDEX) and their images; without any, the first `count` bundled test
/// digits for a 1×28×28 model, else `count` seeded random images.
pub(super) fn bench_inputs(
    model: &Model<'_>,
    inputs: &[String],
    count: usize,
) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    let a = model.architecture();
    let mut names = inputs.to_vec();
    if names.is_empty() && (a.in_channels, a.height, a.width) == (1, 28, 28) {
        if let Ok(files) = MnistFiles::find(&bundled_dir()) {
            let file = files.test_images.display().to_string();
            names = (0..count).map(|i| format!("{file}:{i}")).collect();
        }
    }
    if names.is_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(2019);
        let images = (0..count)
            .map(|_| (0..model.image_len()).map(|_| rng.gen::<f32>()).collect())
            .collect();
        let names = (0..count).map(|i| format!("random:{i}")).collect();
        return Ok((names, images));
    }
    let specs: Vec<InputSpec> = names.iter().map(|s| InputSpec::parse(s)).collect();
    Ok((names, load_all(model, &specs)?))
}

/// Times our classify on the first image and records every image's outputs for the peer.
fn measure(
    model: &Model<'_>,
    names: &[String],
    images: &[Vec<f32>],
    runs: usize,
    warmup: usize,
) -> Result<(Latency, Vec<serde_json::Value>)> {
    let timed = images.first().ok_or_else(|| anyhow!("no input to time"))?;
    let mut ws = vec![0.0f32; model.workspace_sizes().classify];
    let mut cases = Vec::with_capacity(images.len());
    for (name, image) in names.iter().zip(images) {
        let verdict = model
            .classify(image, &mut ws)
            .map_err(|e| anyhow!("{name}: the runtime failed: {e}"))?;
        let mut case = serde_json::to_value(describe(model, name, &verdict))?;
        case["image"] = serde_json::to_value(image)?;
        cases.push(case);
    }
    for _ in 0..warmup {
        black_box(model.classify(black_box(timed), &mut ws).ok());
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        black_box(model.classify(black_box(timed), &mut ws).ok());
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let latency = Latency {
        implementation: format!("gmvae-runtime {}", env!("CARGO_PKG_VERSION")),
        min_ms: times.first().copied().unwrap_or(f64::NAN),
        median_ms: times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
    };
    Ok((latency, cases))
}

/// Runs the peer with our outputs to check against; returns its latency and agreement.
fn run_peer(
    python: &Path,
    script: &Path,
    args: &ClassifyBenchArgs,
    cases: &[serde_json::Value],
) -> Result<(Latency, PeerCheck)> {
    let check_file = CheckFile::write(cases)?;
    let peer_args = vec![
        args.model.display().to_string(),
        "--check".into(),
        check_file.path.display().to_string(),
        "--runs".into(),
        args.runs.to_string(),
        "--warmup".into(),
        args.warmup.to_string(),
        "--threads".into(),
        "1".into(),
    ];
    let line = run_peer_script(python, script, &peer_args)?;
    parse_peer_line(&line)
        .with_context(|| format!("bad JSON line from the peer {}", script.display()))
}

/// Parses the onnxruntime peer's JSON line.
fn parse_peer_line(line: &str) -> Result<(Latency, PeerCheck)> {
    let value: serde_json::Value = serde_json::from_str(line.trim())?;
    let number = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_f64)
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| anyhow!("no `{key}` in {line}"))
    };
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or("?");
    let check = value
        .get("check")
        .ok_or_else(|| anyhow!("no `check` in {line}"))?;
    let latency = Latency {
        implementation: format!(
            "{} {} (onnx {})",
            text("peer"),
            text("version"),
            text("onnx")
        ),
        min_ms: number(&value, "min_ms")?,
        median_ms: number(&value, "median_ms")?,
    };
    ensure!(
        latency.min_ms > 0.0,
        "the peer reports a zero latency: {line}"
    );
    let check = PeerCheck {
        cases: check
            .get("cases")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        max_rel_latent: number(check, "max_rel_latent")?,
        max_rel_reconstruction: number(check, "max_rel_reconstruction")?,
        max_rel_mahalanobis: number(check, "max_rel_mahalanobis")?,
    };
    Ok((latency, check))
}

/// The runtime's outputs in a temporary JSON file, removed when dropped.
struct CheckFile {
    path: PathBuf,
}

impl CheckFile {
    fn write(cases: &[serde_json::Value]) -> Result<Self> {
        let path =
            std::env::temp_dir().join(format!("gmvae-bench-classify-{}.json", std::process::id()));
        let json = serde_json::json!({ "cases": cases });
        std::fs::write(&path, serde_json::to_vec(&json)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for CheckFile {
    fn drop(&mut self) {
        // Best effort: a leftover file in the temp directory is harmless.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The text form of a report.
fn render(r: &ClassifyBenchReport) -> String {
    let mut s = format!(
        "gmvae bench classify: {} ({}; {} params, workspace {} B), batch 1, 1 thread\n",
        r.model, r.architecture, r.params, r.workspace_bytes
    );
    s.push_str(&r.machine.line());
    s.push_str(&format!(
        "input {}, {} timed runs after {} warm-up\n",
        r.input, r.runs, r.warmup
    ));
    let row = |side: &str, l: &Latency| {
        format!(
            "{side:<5} median {:>8.4} ms  min {:>8.4} ms  {}\n",
            l.median_ms, l.min_ms, l.implementation
        )
    };
    s.push_str(&row("ours", &r.ours));
    if let (Some(peer), Some(check)) = (&r.peer, &r.check) {
        s.push_str(&row("peer", peer));
        s.push_str(&format!(
            "ratio ours/peer   median {:.2}  min {:.2}\n",
            r.ratio_median.unwrap_or(f64::NAN),
            r.ratio_min.unwrap_or(f64::NAN)
        ));
        s.push_str(&format!(
            "peer checked on {} inputs: max relative difference latent {:.1e}, reconstruction {:.1e}, Mahalanobis {:.1e}\n",
            check.cases, check.max_rel_latent, check.max_rel_reconstruction, check.max_rel_mahalanobis
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_peer_line() {
        let line = r#"{"peer":"onnxruntime","version":"1.32.0","onnx":"1.23.2","min_ms":0.25,"median_ms":0.3,"check":{"cases":4,"max_rel_latent":1e-7,"max_rel_reconstruction":2e-7,"max_rel_mahalanobis":3e-6}}"#;
        let (latency, check) = parse_peer_line(line).unwrap();
        assert_eq!(
            (latency.min_ms, latency.median_ms, check.cases),
            (0.25, 0.3, 4)
        );
        assert!(latency.implementation.starts_with("onnxruntime 1.32.0"));
        assert!(parse_peer_line(r#"{"min_ms":0.2,"median_ms":0.3}"#).is_err());
        assert!(parse_peer_line("nope").is_err());
    }
}
