//! Minimum and median batch-1 latency of `classify`, robust to a shared, noisy machine
//! (criterion reports means). Prints one line per model:
//!
//! ```text
//! cargo bench -p gmvae-runtime --bench latency
//! RUSTFLAGS="-C target-cpu=native" cargo bench -p gmvae-runtime --bench latency
//! ```
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use gmvae_format::Architecture;
use gmvae_runtime::Model;

mod common;
use common::{image, model_bytes, EDGE};

fn main() {
    let runs: usize = std::env::var("GMVAE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    for (name, arch) in [("paper", Architecture::MNIST_PAPER), ("edge", EDGE)] {
        let bytes = model_bytes(arch, 1);
        let model = Model::parse(&bytes).expect("model parses");
        let x = image(model.image_len());
        let mut ws = vec![0.0f32; model.workspace_sizes().classify];
        for _ in 0..50 {
            black_box(model.classify(black_box(&x), &mut ws).expect("classify"));
        }
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                black_box(model.classify(black_box(&x), &mut ws).expect("classify"));
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "classify/{name:<6} min {:7.1} µs   median {:7.1} µs   ({runs} runs, workspace {} B)",
            times[0],
            times[runs / 2],
            model.workspace_sizes().classify_bytes()
        );
    }
}
