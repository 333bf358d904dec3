//! Where classify's and reclassification's time goes: every stage (layer and pass) on its
//! own — the encoder's and decoder's layers of `classify`, then one reclassification step one
//! start at a time and decoder fc2 for all starts in lockstep — best of 15 rounds, on every
//! instruction set the CPU offers. On the model file named by `GMVAE_TIMING_MODEL` (a trained
//! model shows realistic ReLU sparsity, which the sparse kernels depend on), else on
//! random-weight models of the paper's MNIST size and of the `edge` preset:
//!
//! ```text
//! cargo bench -p gmvae-runtime --features dispatch --bench stages
//! GMVAE_TIMING_MODEL=runs/demo/model.gmvae cargo bench -p gmvae-runtime --features dispatch --bench stages
//! RUSTFLAGS="-C target-cpu=native" cargo bench -p gmvae-runtime --bench stages
//! ```
//!
//! The stages come from the runtime's hidden `bench` hooks, which run each layer's kernels
//! on the model's own activations.
#![allow(missing_docs)]

use std::time::Instant;

use gmvae_format::Architecture;
use gmvae_runtime::bench::{classify_stages, reclassify_stages, Stage};
use gmvae_runtime::{Error, Isa, Model};

mod common;
use common::{image, model_bytes, EDGE};

/// Runs a stage 5 times per round, 15 rounds, and prints the fastest round's mean (per start
/// for stages that run several starts at once).
fn time(stage: Stage<'_>) -> Result<(), Error> {
    let Stage { name, starts, run } = stage;
    run()?;
    let reps = 5;
    let mut best = f64::INFINITY;
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..reps {
            run()?;
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    if starts > 1 {
        let per = best / starts as f64;
        println!(
            "{name:<30} {:>9.1} µs per start ({starts} starts)",
            per * 1e6
        );
    } else {
        println!("{name:<30} {:>9.1} µs", best * 1e6);
    }
    Ok(())
}

fn main() {
    let models = match std::env::var("GMVAE_TIMING_MODEL") {
        Ok(path) => vec![std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))],
        Err(_) => vec![
            model_bytes(Architecture::MNIST_PAPER, 1),
            model_bytes(EDGE, 1),
        ],
    };
    for bytes in &models {
        stages(&Model::parse(bytes).expect("model parses"));
    }
}

/// Every stage of `parsed` on each instruction set.
fn stages(parsed: &Model<'_>) {
    let mut isas = vec![Isa::detect()];
    if Isa::detect() != Isa::Baseline {
        isas.push(Isa::Baseline);
    }
    for isa in isas {
        let model = parsed.limit_isa(isa);
        println!("-- {} ({:?})", model.isa().name(), model.architecture());
        let x = image(model.image_len());
        let mut ws = vec![0.0f32; model.workspace_sizes().reclassify_lockstep];
        println!("classify");
        classify_stages(&model, &x, &mut ws, &mut time).expect("classify stages");
        println!("reclassify, one step");
        let latent = model.architecture().latent;
        let z: Vec<f32> = (0..latent)
            .map(|i| if i == 3 { 1.0 } else { 0.01 * i as f32 })
            .collect();
        reclassify_stages(&model, &x, &z, &mut ws, &mut time).expect("reclassify stages");
    }
}
