//! `gmvae bench train`: CPU training throughput of the dfdx trainer, optionally beside a PyTorch
//! peer (`benches/peers/torch_train.py`) run with the same model, batch size, step counts and
//! thread count right after our measurement.
//!
//! Each timed step is the body of [`Trainer::train_epoch`](gmvae_trainer::train::Trainer::train_epoch):
//! assemble a host batch, upload it, draw the encoder noise, [`loss::supervised`] and
//! [`Adam::update`](gmvae_trainer::train::adam::Adam::update). The images are synthetic (seeded
//! uniform bytes), which costs the same as real digits.

use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::{Args, Subcommand};
use gmvae_trainer::choice::Choice;
use gmvae_trainer::model::fused::LayerKernels;
use gmvae_trainer::model::{ModelConfig, Preset};
use gmvae_trainer::train::step_bench::StepBench;
use gmvae_trainer::train::{MAX_BATCH_SIZE, MAX_SHARDS};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod classify;
pub mod machine;
pub mod reclassify;

/// Arguments of `gmvae bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// What to time.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The benchmarks of `gmvae bench`.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// Time training steps on the CPU (images/s), optionally beside the PyTorch peer.
    Train(TrainBenchArgs),
    /// Time the runtime's batch-1 classify on one thread, optionally beside onnxruntime.
    Classify(classify::ClassifyBenchArgs),
    /// Time the runtime's per-sample reclassify on one thread, optionally beside PyTorch.
    Reclassify(reclassify::ReclassifyBenchArgs),
}

/// Arguments of `gmvae bench train`.
#[derive(Debug, Clone, Args)]
pub struct TrainBenchArgs {
    /// Model size preset.
    #[arg(long, value_parser = super::choice::<Preset>(), default_value_t = Preset::Paper)]
    pub preset: Preset,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Untimed steps first (allocator and cache warm-up).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Threads: our data-parallel shards, and the peer's intra-op threads [default: all
    /// logical CPUs].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Python interpreter with PyTorch (e.g. /opt/peer/bin/python); runs the peer after us.
    #[arg(long, value_name = "PATH")]
    pub peer_python: Option<PathBuf>,
    /// The peer script [default: benches/peers/torch_train.py of this checkout].
    #[arg(long, value_name = "PATH")]
    pub peer_script: Option<PathBuf>,
    /// Seed for the initial weights, the synthetic images and the noise.
    #[arg(long, default_value_t = 2019)]
    pub seed: u64,
    /// Which implementation runs our convolution stages.
    #[arg(long, value_parser = super::choice::<LayerKernels>(), default_value_t = LayerKernels::Fused)]
    pub kernels: LayerKernels,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Our side of the measurement.
#[derive(Debug, Clone, Serialize)]
pub struct OursResult {
    /// What was timed.
    pub implementation: String,
    /// Images per second over all timed steps.
    pub images_per_second: f64,
    /// Wall-clock seconds of the timed steps.
    pub seconds: f64,
    /// Median step time in milliseconds.
    pub median_step_ms: f64,
    /// Fastest step time in milliseconds.
    pub min_step_ms: f64,
    /// Loss of the last step (a sanity check that training ran).
    pub last_loss: f32,
}

/// The peer's JSON line, as far as this report uses it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerResult {
    /// The peer's name (e.g. "pytorch").
    pub peer: String,
    /// The peer's library version.
    pub version: String,
    /// Threads the peer reports using.
    pub threads: Option<u64>,
    /// Images per second over the peer's timed steps.
    pub images_per_second: f64,
}

/// The whole report of `gmvae bench train`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainBenchReport {
    /// Model size preset.
    pub preset: String,
    /// Trainable parameters.
    pub params: usize,
    /// Images per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed warm-up steps.
    pub warmup: usize,
    /// Worker threads.
    pub threads: usize,
    /// UTC start time, RFC 3339.
    pub date: String,
    /// CPU model from /proc/cpuinfo, if readable.
    pub cpu: Option<String>,
    /// Logical CPUs visible to this process.
    pub logical_cpus: usize,
    /// 1-minute load average before the measurement, if readable (a busy machine skews both).
    pub load_average: Option<f64>,
    /// Whether this binary was built with optimisations.
    pub release_build: bool,
    /// Our trainer.
    pub ours: OursResult,
    /// The peer, if one was run.
    pub peer: Option<PeerResult>,
    /// ours / peer images per second.
    pub ratio: Option<f64>,
}

/// Most timed or warm-up repetitions a benchmark accepts.
pub const MAX_REPETITIONS: usize = 1_000_000;

/// Fails unless `value`, given as `flag`, lies in `min..=max` (checked before any work: the
/// timings are kept in a vector of that length).
pub fn check_count(flag: &str, value: usize, min: usize, max: usize) -> Result<()> {
    ensure!(
        (min..=max).contains(&value),
        "{flag} must be between {min} and {max}, not {value}"
    );
    Ok(())
}

/// Runs `gmvae bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::Train(args) => train(args),
        BenchCommand::Classify(args) => classify::run(args),
        BenchCommand::Reclassify(args) => reclassify::run(args),
    }
}

/// Runs `gmvae bench train` and prints its report.
fn train(args: TrainBenchArgs) -> Result<()> {
    check_count("--batch-size", args.batch_size, 1, MAX_BATCH_SIZE)?;
    check_count("--steps", args.steps, 1, MAX_REPETITIONS)?;
    check_count("--warmup", args.warmup, 0, MAX_REPETITIONS)?;
    let logical_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(logical_cpus);
    check_count("--threads", threads, 1, MAX_SHARDS)?;
    let peer_script = match (&args.peer_python, &args.peer_script) {
        (None, _) => None,
        (Some(_), Some(script)) => Some(script.clone()),
        (Some(_), None) => Some(default_peer_script(TORCH_PEER)?),
    };
    let config = ModelConfig::from_preset(args.preset, (1, 28, 28), 10, None)?;
    let preset = args.preset.name();
    let mut report = TrainBenchReport {
        preset: preset.to_owned(),
        params: config.param_count(),
        batch: args.batch_size,
        steps: args.steps,
        warmup: args.warmup,
        threads,
        date: utc_now(),
        cpu: cpu_model(),
        logical_cpus,
        load_average: load_average(),
        release_build: !cfg!(debug_assertions),
        ours: measure(&args, config, threads)?,
        peer: None,
        ratio: None,
    };
    if !report.release_build {
        eprintln!("warning: debug build; build with `cargo build --release` for real figures");
    }
    if !args.json {
        print_header(&report);
        print_row(
            "ours",
            &report.ours.implementation,
            report.ours.images_per_second,
        );
    }
    if let (Some(python), Some(script)) = (&args.peer_python, &peer_script) {
        let peer = run_peer(python, script, &args, threads)?;
        if peer.threads.is_some_and(|t| t != threads as u64) {
            eprintln!(
                "warning: the peer reports {:?} threads, we used {threads}",
                peer.threads
            );
        }
        report.ratio = Some(report.ours.images_per_second / peer.images_per_second);
        report.peer = Some(peer);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if let (Some(peer), Some(ratio)) = (&report.peer, report.ratio) {
        let name = format!("{} {}", peer.peer, peer.version);
        print_row("peer", &name, peer.images_per_second);
        println!("ratio ours/peer   {ratio:.2}");
    }
    Ok(())
}

/// Times our steps with one data-parallel shard per thread (each shard's matmuls run on its
/// own thread, see `train::shards`).
fn measure(args: &TrainBenchArgs, config: ModelConfig, threads: usize) -> Result<OursResult> {
    let mut bench =
        StepBench::new(config, args.batch_size, threads, args.seed)?.with_kernels(args.kernels);
    for _ in 0..args.warmup {
        bench.step()?;
    }
    let mut times = Vec::with_capacity(args.steps);
    let mut last_loss = f32::NAN;
    let start = Instant::now();
    for _ in 0..args.steps {
        let t = Instant::now();
        last_loss = bench.step()?;
        times.push(t.elapsed());
    }
    let seconds = start.elapsed().as_secs_f64();
    ensure!(last_loss.is_finite(), "training diverged: loss {last_loss}");
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(OursResult {
        implementation: format!(
            "gmvae {} (dfdx 0.13, cpu, {} kernels)",
            env!("CARGO_PKG_VERSION"),
            args.kernels
        ),
        images_per_second: (args.steps * args.batch_size) as f64 / seconds,
        seconds,
        median_step_ms: times.get(times.len() / 2).copied().map_or(f64::NAN, ms),
        min_step_ms: times.first().copied().map_or(f64::NAN, ms),
        last_loss,
    })
}

/// Runs the PyTorch peer script and parses the last JSON line of its stdout.
fn run_peer(
    python: &Path,
    script: &Path,
    args: &TrainBenchArgs,
    threads: usize,
) -> Result<PeerResult> {
    let mut peer_args = Vec::new();
    for (flag, value) in [
        ("--threads", threads.to_string()),
        ("--batch", args.batch_size.to_string()),
        ("--steps", args.steps.to_string()),
        ("--warmup", args.warmup.to_string()),
        ("--preset", args.preset.name().to_owned()),
        ("--seed", args.seed.to_string()),
    ] {
        peer_args.extend([flag.to_owned(), value]);
    }
    let line = run_peer_script(python, script, &peer_args)?;
    let shown = format!("{} {}", python.display(), script.display());
    parse_peer_line(&line).with_context(|| format!("bad JSON line from the peer `{shown}`"))
}

/// Runs `python script args…` and returns the last line of its stdout that starts with `{`;
/// a failed run's error carries the tail of its stderr.
fn run_peer_script(python: &Path, script: &Path, args: &[String]) -> Result<String> {
    let mut command = Command::new(python);
    command.arg(script).args(args);
    let shown = format!("{} {}", python.display(), script.display());
    let output = command
        .output()
        .with_context(|| format!("cannot start the peer `{shown}`"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "the peer `{shown}` failed ({}); last lines of its stderr:\n{}",
            output.status,
            tail(&stderr, 20)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| {
            anyhow!(
                "the peer `{shown}` printed no JSON line; stdout:\n{}\nstderr:\n{}",
                tail(&stdout, 10),
                tail(&stderr, 10)
            )
        })?;
    Ok(line.to_owned())
}

/// Parses the peer's JSON line.
fn parse_peer_line(line: &str) -> Result<PeerResult> {
    let value: serde_json::Value = serde_json::from_str(line.trim())?;
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let images_per_second = value
        .get("images_per_second")
        .and_then(serde_json::Value::as_f64)
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| anyhow!("no positive `images_per_second` in {line}"))?;
    Ok(PeerResult {
        peer: text("peer").unwrap_or_else(|| "peer".into()),
        version: text("version").unwrap_or_else(|| "?".into()),
        threads: value.get("threads").and_then(serde_json::Value::as_u64),
        images_per_second,
    })
}

/// The PyTorch training peer, relative to the checkout's root.
const TORCH_PEER: &str = "benches/peers/torch_train.py";

/// A peer script of this checkout (`relative` to its root): under the current directory, else
/// under the workspace this binary was built from.
fn default_peer_script(relative: &str) -> Result<PathBuf> {
    let relative = Path::new(relative);
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    [relative.to_path_buf(), built]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("cannot find {}; pass --peer-script", relative.display()))
}

fn print_header(r: &TrainBenchReport) {
    println!(
        "gmvae bench train: preset {} ({} params), batch {}, {} steps after {} warm-up, {} threads",
        r.preset, r.params, r.batch, r.steps, r.warmup, r.threads
    );
    println!(
        "{} | cpu {} | {} logical CPUs | load {}",
        r.date,
        r.cpu.as_deref().unwrap_or("unknown"),
        r.logical_cpus,
        r.load_average.map_or("?".into(), |l| format!("{l:.2}"))
    );
    println!(
        "ours: median step {:.1} ms, fastest {:.1} ms, last loss {:.3}",
        r.ours.median_step_ms, r.ours.min_step_ms, r.ours.last_loss
    );
}

fn print_row(side: &str, name: &str, images_per_second: f64) {
    println!("{side:<5} {images_per_second:>10.1} images/s  {name}");
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The first "model name" of /proc/cpuinfo.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_owned())
}

/// The 1-minute load average from /proc/loadavg.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_peer_line() {
        let line = r#"{"peer":"pytorch","version":"2.5","threads":2,"images_per_second":812.5}"#;
        let peer = parse_peer_line(line).unwrap();
        assert_eq!((peer.peer.as_str(), peer.threads), ("pytorch", Some(2)));
        assert_eq!(peer.images_per_second, 812.5);
        assert!(parse_peer_line(r#"{"images_per_second":0}"#).is_err());
        assert!(parse_peer_line("not json").is_err());
    }

    #[test]
    fn tails_and_dates() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("", 2), "");
        let date = utc_now();
        assert_eq!((date.len(), &date[10..11]), (20, "T"), "{date}");
    }
}
