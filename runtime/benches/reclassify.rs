//! Per-sample latency of `reclassify` (one start per class × N Adam steps through the
//! hand-written decoder backward pass) and of one `reconstruction_gradient` (a forward and a
//! backward pass of the decoder), on random-weight models of the paper's MNIST size and of
//! the `edge` preset. The comparison with PyTorch is `gmvae bench reclassify` (trainer).
//!
//! ```text
//! cargo bench -p gmvae-runtime --bench reclassify
//! RUSTFLAGS="-C target-cpu=native" cargo bench -p gmvae-runtime --bench reclassify
//! ```

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use gmvae_format::{Architecture, Calibration, CovarianceKind, ModelFile, TauDecStatistic};
use gmvae_runtime::{Model, ReclassifySettings, Workspace};

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

/// A random-weight model (uniform `±1/√fan_in`-ish weights), deterministic in `seed`.
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
    for id in gmvae_format::TensorId::ALL {
        let scale = (3.0 / (file.tensor(id).len() as f32).sqrt()).min(0.1);
        for v in file.tensor_mut(id).iter_mut() {
            *v = next() * scale;
        }
    }
    file.to_bytes().expect("writer accepts the model")
}

fn bench(c: &mut Criterion) {
    for (name, arch) in [("paper", Architecture::MNIST_PAPER), ("edge", EDGE)] {
        let bytes = model_bytes(arch, 1);
        let model = Model::parse(&bytes).expect("model parses");
        let x: Vec<f32> = (0..model.image_len())
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let mut ws: Box<Workspace<110_000>> = Box::new(Workspace::new());
        assert!(model.reclassify_workspace_len() <= ws.capacity());
        let latent = model.architecture().latent;
        let z: Vec<f32> = (0..latent)
            .map(|j| f32::from(j == 3) * 0.9 + 0.05)
            .collect();
        let mut grad = vec![0.0; latent];
        c.bench_function(&format!("reconstruction_gradient/{name}"), |b| {
            b.iter(|| {
                model
                    .reconstruction_gradient(black_box(&x), &z, &mut ws, &mut grad)
                    .expect("gradient")
            })
        });
        for steps in [10, 50] {
            let settings = ReclassifySettings {
                steps,
                ..ReclassifySettings::DEFAULT
            };
            c.bench_function(&format!("reclassify/{name}/{steps}-steps"), |b| {
                b.iter(|| {
                    model
                        .reclassify(black_box(&x), &mut ws, &settings)
                        .expect("reclassify")
                })
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = bench
}
criterion_main!(benches);
