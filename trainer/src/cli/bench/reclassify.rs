//! `gmvae bench reclassify MODEL`: per-sample latency of the runtime's `reclassify` (one
//! start per class × `--steps` Adam steps through the hand-written decoder backward pass) on
//! one thread, optionally beside PyTorch autograd running the same loop on the same weights
//! (`benches/peers/torch_reclassify.py`) right after our measurement.
//!
//! Both sides use the same settings (no early stopping, so both take exactly `steps` steps
//! per start). The peer is handed our results on every input and checks its own against
//! them (same label, start losses within 1e-3) before timing.

use super::classify::{bench_inputs, Latency};
use super::machine::{IsaChoice, Machine};
use super::{check_count, default_peer_script, run_peer_script, MAX_REPETITIONS};
use crate::cli::model_bytes;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use gmvae_runtime::Model;
use gmvae_trainer::reclassify::engine::outcome;
use gmvae_trainer::reclassify::ReclassifySettings;
use serde::Serialize;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The PyTorch peer, relative to the checkout's root.
const TORCH_PEER: &str = "benches/peers/torch_reclassify.py";

/// Inputs checked when no `--input` is given.
const DEFAULT_INPUTS: usize = 3;

/// Arguments of `gmvae bench reclassify`.
#[derive(Debug, Clone, Args)]
pub struct ReclassifyBenchArgs {
    /// The model file.
    pub model: PathBuf,
    /// Adam steps per start (both sides).
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.steps)]
    pub steps: u32,
    /// Timed reclassifications per side.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Untimed reclassifications first.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Inputs to check the peer on (PNG or FILE:INDEX, repeatable); the first is timed
    /// [default: the first 3 bundled test digits for a 1×28×28 model, else seeded random
    /// images].
    #[arg(long = "input", value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Python interpreter with PyTorch (e.g. /opt/peer/bin/python); runs the peer after us.
    #[arg(long, value_name = "PATH")]
    pub peer_python: Option<PathBuf>,
    /// The peer script [default: benches/peers/torch_reclassify.py of this checkout].
    #[arg(long, value_name = "PATH")]
    pub peer_script: Option<PathBuf>,
    /// Run the peer's starts one after another instead of batched.
    #[arg(long)]
    pub peer_sequential: bool,
    /// Instruction set of the runtime's kernels: the best this CPU has, or the baseline.
    #[arg(long, value_enum, default_value_t = IsaChoice::Best)]
    pub isa: IsaChoice,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The whole report of `gmvae bench reclassify`.
#[derive(Debug, Clone, Serialize)]
pub struct ReclassifyBenchReport {
    /// The model file.
    pub model: String,
    /// Starts (classes).
    pub starts: usize,
    /// Adam steps per start.
    pub steps: u32,
    /// Runtime workspace for reclassify, bytes (every start in lockstep).
    pub workspace_bytes: usize,
    /// The timed input.
    pub input: String,
    /// Timed runs per side.
    pub runs: usize,
    /// Threads per side (the runtime never spawns any; the peer gets one intra-op and one
    /// inter-op thread).
    pub threads: usize,
    /// Where and when it ran.
    #[serde(flatten)]
    pub machine: Machine,
    /// The runtime, per sample.
    pub ours: Latency,
    /// PyTorch, per sample, if run.
    pub peer: Option<Latency>,
    /// How the peer ran its starts (batched or sequential).
    pub peer_mode: Option<String>,
    /// The peer's largest relative start-loss difference from ours over the checked inputs.
    pub peer_max_rel_start_loss: Option<f64>,
    /// peer / ours median latency (above 1: ours is faster).
    pub speedup_median: Option<f64>,
    /// peer / ours fastest latency.
    pub speedup_min: Option<f64>,
}

/// Runs `gmvae bench reclassify` and prints its report.
pub fn run(args: ReclassifyBenchArgs) -> Result<()> {
    check_count("--runs", args.runs, 1, MAX_REPETITIONS)?;
    check_count("--warmup", args.warmup, 0, MAX_REPETITIONS)?;
    let bytes = model_bytes::read(&args.model)?;
    let model = args
        .isa
        .apply(model_bytes::runtime_model(&args.model, &bytes)?);
    let settings = ReclassifySettings {
        steps: args.steps,
        early_stop_tolerance: 0.0,
        ..ReclassifySettings::DEFAULT
    };
    let (names, images) = bench_inputs(&model, &args.inputs, DEFAULT_INPUTS)?;
    let (ours, cases) = measure(&model, &images, &settings, args.runs, args.warmup)?;
    let mut report = ReclassifyBenchReport {
        model: args.model.display().to_string(),
        starts: model.architecture().classes,
        steps: args.steps,
        workspace_bytes: model.workspace_sizes().reclassify_lockstep_bytes(),
        input: names.first().cloned().unwrap_or_default(),
        runs: args.runs,
        threads: 1,
        machine: Machine::now(model.isa()),
        ours,
        peer: None,
        peer_mode: None,
        peer_max_rel_start_loss: None,
        speedup_median: None,
        speedup_min: None,
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; build with `cargo build --release` for real figures");
    }
    if let Some(python) = &args.peer_python {
        let script = match &args.peer_script {
            Some(script) => script.clone(),
            None => default_peer_script(TORCH_PEER)?,
        };
        let check = serde_json::json!({ "settings": settings_json(&settings), "cases": cases });
        let (peer, mode, worst) = run_peer(python, &script, &args, &check)?;
        report.speedup_median = Some(peer.median_ms / report.ours.median_ms);
        report.speedup_min = Some(peer.min_ms / report.ours.min_ms);
        report.peer = Some(peer);
        report.peer_mode = Some(mode);
        report.peer_max_rel_start_loss = Some(worst);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

fn settings_json(s: &ReclassifySettings) -> serde_json::Value {
    serde_json::json!({
        "steps": s.steps,
        "learning_rate": s.learning_rate,
        "beta1": s.beta1,
        "beta2": s.beta2,
        "epsilon": s.epsilon,
        "early_stop_tolerance": s.early_stop_tolerance,
    })
}

/// Times our reclassify on the first image (one thread) and records every image's result.
fn measure(
    model: &Model<'_>,
    images: &[Vec<f32>],
    settings: &ReclassifySettings,
    runs: usize,
    warmup: usize,
) -> Result<(Latency, Vec<serde_json::Value>)> {
    let mut ws = vec![0.0f32; model.workspace_sizes().reclassify_lockstep];
    let timed = images.first().ok_or_else(|| anyhow!("no input to time"))?;
    let mut cases = Vec::new();
    for image in images {
        let r = model
            .reclassify(image, &mut ws, settings)
            .map_err(|e| anyhow!("the runtime failed: {e}"))?;
        let o = outcome(&r);
        cases.push(serde_json::json!({
            "image": image, "label": o.label, "start": o.start,
            "latent": o.latent, "start_losses": o.start_losses,
        }));
    }
    for _ in 0..warmup {
        black_box(model.reclassify(black_box(timed), &mut ws, settings).ok());
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        black_box(model.reclassify(black_box(timed), &mut ws, settings).ok());
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

/// Runs the peer; returns its latency, mode and largest start-loss difference.
fn run_peer(
    python: &Path,
    script: &Path,
    args: &ReclassifyBenchArgs,
    check: &serde_json::Value,
) -> Result<(Latency, String, f64)> {
    let path = std::env::temp_dir().join(format!(
        "gmvae-bench-reclassify-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_vec(check)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut peer_args = vec![
        args.model.display().to_string(),
        "--check".into(),
        path.display().to_string(),
        "--runs".into(),
        args.runs.to_string(),
        "--warmup".into(),
        args.warmup.to_string(),
        "--threads".into(),
        "1".into(),
    ];
    if args.peer_sequential {
        peer_args.push("--sequential".into());
    }
    let line = run_peer_script(python, script, &peer_args);
    let _ = std::fs::remove_file(&path);
    let line = line?;
    let value: serde_json::Value = serde_json::from_str(line.trim())
        .with_context(|| format!("bad JSON line from the peer: {line}"))?;
    let number = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_f64)
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| anyhow!("no positive `{key}` in {line}"))
    };
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or("?");
    let latency = Latency {
        implementation: format!("{} {} (autograd)", text("peer"), text("version")),
        min_ms: number(&value, "min_ms")?,
        median_ms: number(&value, "median_ms")?,
    };
    let worst = value
        .get("check")
        .and_then(|c| c.get("max_rel_start_loss"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN);
    Ok((latency, text("mode").to_owned(), worst))
}

fn render(r: &ReclassifyBenchReport) -> String {
    let mut s = format!(
        "gmvae bench reclassify: {} ({} starts × {} steps, workspace {} B), per sample, 1 thread\n",
        r.model, r.starts, r.steps, r.workspace_bytes
    );
    s.push_str(&r.machine.line());
    s.push_str(&format!("input {}, {} timed runs\n", r.input, r.runs));
    let row = |side: &str, l: &Latency| {
        format!(
            "{side:<5} median {:>9.2} ms  min {:>9.2} ms  {}\n",
            l.median_ms, l.min_ms, l.implementation
        )
    };
    s.push_str(&row("ours", &r.ours));
    if let Some(peer) = &r.peer {
        s.push_str(&row("peer", peer));
        s.push_str(&format!(
            "speed-up peer/ours   median {:.2}×  min {:.2}×  (peer starts {}; start losses agree to {:.1e})\n",
            r.speedup_median.unwrap_or(f64::NAN),
            r.speedup_min.unwrap_or(f64::NAN),
            r.peer_mode.as_deref().unwrap_or("?"),
            r.peer_max_rel_start_loss.unwrap_or(f64::NAN)
        ));
    }
    s
}
