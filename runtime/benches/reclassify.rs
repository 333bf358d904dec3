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
use gmvae_format::Architecture;
use gmvae_runtime::{Model, ReclassifySettings, Workspace};

mod common;
use common::{image, model_bytes, EDGE};

fn bench(c: &mut Criterion) {
    for (name, arch) in [("paper", Architecture::MNIST_PAPER), ("edge", EDGE)] {
        let bytes = model_bytes(arch, 1);
        let model = Model::parse(&bytes).expect("model parses");
        let x = image(model.image_len());
        let mut ws: Box<Workspace<110_000>> = Box::new(Workspace::new());
        // One start at a time on the paper model, all ten in lockstep on `edge`.
        assert!(model.workspace_sizes().reclassify <= ws.capacity());
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
