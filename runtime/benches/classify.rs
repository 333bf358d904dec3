//! Batch-1 latency of `classify` (encoder + decoder + both thresholds) on random-weight
//! models of the paper's MNIST size and of the `edge` preset.
//!
//! ```text
//! cargo bench -p gmvae-runtime --bench classify
//! RUSTFLAGS="-C target-cpu=native" cargo bench -p gmvae-runtime --bench classify
//! ```

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
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

/// A random-weight model file (He-uniform weights, small biases), deterministic in `seed`.
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
    for id in TensorId::ALL {
        let len = file.tensor(id).len() as f32;
        let scale = if matches!(
            id,
            TensorId::EncConv1Bias
                | TensorId::EncConv2Bias
                | TensorId::EncFc1Bias
                | TensorId::EncFc2Bias
                | TensorId::DecFc1Bias
                | TensorId::DecFc2Bias
                | TensorId::DecConv1Bias
                | TensorId::DecConv2Bias
        ) {
            0.1
        } else {
            // Roughly 1/sqrt(fan_in); fan_in ≈ len / fan_out is good enough for timing.
            (3.0 / len.sqrt()).min(1.0)
        };
        for v in file.tensor_mut(id).iter_mut() {
            *v = next() * scale;
        }
    }
    file.to_bytes().expect("writer accepts the model")
}

fn image(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37) % 101) as f32 / 100.0).collect()
}

fn bench(c: &mut Criterion) {
    for (name, arch) in [("paper", Architecture::MNIST_PAPER), ("edge", EDGE)] {
        let bytes = model_bytes(arch, 1);
        let model = Model::parse(&bytes).expect("model parses");
        let x = image(model.image_len());
        let mut ws: Box<Workspace<60_000>> = Box::new(Workspace::new());
        assert!(model.workspace_len() <= ws.capacity());
        c.bench_function(&format!("classify/{name}"), |b| {
            b.iter(|| model.classify(black_box(&x), &mut ws).expect("classify"))
        });
        c.bench_function(&format!("encode/{name}"), |b| {
            b.iter(|| model.encode(black_box(&x), &mut ws).expect("encode"))
        });
        let z = model.encode(&x, &mut ws).expect("encode");
        let mut out = vec![0.0; model.image_len()];
        c.bench_function(&format!("decode/{name}"), |b| {
            b.iter(|| {
                model
                    .decode_into(black_box(&z), &mut ws, &mut out)
                    .expect("decode")
            })
        });
    }
    c.bench_function("parse/paper", |b| {
        let bytes = model_bytes(Architecture::MNIST_PAPER, 1);
        b.iter(|| Model::parse(black_box(&bytes)).map(|m| m.workspace_len()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
