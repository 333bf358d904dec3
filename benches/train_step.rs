//! One training step (batch upload, noise, `loss::supervised`, `Adam::update`) of the
//! paper-sized and edge models at batch 64 on the CPU, reported as images per second.
//!
//! Run with `cargo bench -p gmvae --bench train_step`. The step is the body of
//! `Trainer::train_epoch`, via `gmvae_trainer::train::step_bench::StepBench` (the code `gmvae bench
//! train` times). dfdx's matmuls use rayon's global pool: `RAYON_NUM_THREADS=N` sets its size.
//! Like the `gmvae` binary, this harness uses mimalloc.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gmvae_trainer::model::{ModelConfig, Preset};
use gmvae_trainer::train::step_bench::StepBench;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 64;

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(BATCH as u64));
    for (name, preset) in [("paper", Preset::Paper), ("edge", Preset::Edge)] {
        let bench = match ModelConfig::from_preset(preset, (1, 28, 28), 10, None) {
            Ok(config) => StepBench::new(config, BATCH, 2, 2019).map_err(|e| format!("{e:#}")),
            Err(e) => Err(e.to_string()),
        };
        let mut bench = match bench {
            Ok(bench) => bench,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        group.bench_function(BenchmarkId::new(name, BATCH), |b| {
            b.iter(|| {
                if let Err(e) = bench.step() {
                    panic!("training step failed: {e:#}");
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
