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
use gmvae_format::Architecture;
use gmvae_runtime::Model;

mod common;
use common::{image, model_bytes, EDGE};

fn bench(c: &mut Criterion) {
    for (name, arch) in [("paper", Architecture::MNIST_PAPER), ("edge", EDGE)] {
        let bytes = model_bytes(arch, 1);
        let model = Model::parse(&bytes).expect("model parses");
        let x = image(model.image_len());
        let mut ws = vec![0.0f32; model.workspace_sizes().classify];
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
        b.iter(|| Model::parse(black_box(&bytes)).map(|m| m.workspace_sizes()))
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
