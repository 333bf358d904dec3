//! Minimum and median batch-1 latency of `classify`, robust to a shared, noisy machine
//! (criterion reports means). Prints one line per model:
//!
//! ```text
//! cargo bench -p gmvae-runtime --bench latency
//! RUSTFLAGS="-C target-cpu=native" cargo bench -p gmvae-runtime --bench latency
//! ```
//!
//! Models have random weights (deterministic seeds); latency does not depend on the values
//! beyond the fraction of exact zeros after ReLU, which random weights put near one half.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use gmvae_format::{
    Architecture, Calibration, CovarianceKind, ModelFile, TauDecStatistic, TensorId,
};
use gmvae_runtime::{Model, Workspace};

const EDGE: Architecture = Architecture {
    in_channels: 1,
    height: 28,
    width: 28,
    conv1: 8,
    conv2: 16,
    hidden: 64,
    latent: 10,
    classes: 10,
};

fn model_bytes(arch: Architecture, seed: u64) -> Vec<u8> {
    let calibration = Calibration {
        s2: 1.0 / 3000.0,
        covariance: CovarianceKind::Isotropic,
        tau_enc: 28.0,
        tau_dec: 12.5,
        confidence: 0.9973,
        tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
        samples: 60_000,
    };
    let mut file = ModelFile::new(arch, calibration).expect("valid architecture");
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let fan_in = |id: TensorId| match id {
        TensorId::EncConv1Weight => arch.in_channels * 9,
        TensorId::EncConv2Weight => arch.conv1 * 9,
        TensorId::EncFc1Weight => arch.flat_features(),
        TensorId::EncFc2Weight | TensorId::DecFc2Weight => arch.hidden,
        TensorId::DecFc1Weight => arch.latent,
        TensorId::DecConv1Weight => arch.conv2 * 9,
        TensorId::DecConv2Weight => arch.conv1 * 9,
        _ => 0,
    };
    for id in TensorId::ALL {
        let scale = match fan_in(id) {
            0 => 0.1,
            n => (6.0 / n as f32).sqrt(),
        };
        for v in file.tensor_mut(id).iter_mut() {
            *v = next() * scale;
        }
    }
    file.to_bytes().expect("writer accepts the model")
}

fn main() {
    let runs: usize = std::env::var("GMVAE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    for (name, arch) in [("paper", Architecture::MNIST_PAPER), ("edge", EDGE)] {
        let bytes = model_bytes(arch, 1);
        let model = Model::parse(&bytes).expect("model parses");
        let x: Vec<f32> = (0..model.image_len())
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let mut ws: Box<Workspace<60_000>> = Box::new(Workspace::new());
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
            model.workspace_bytes()
        );
    }
}
