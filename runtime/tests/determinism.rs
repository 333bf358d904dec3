//! Bit-determinism: a hash of every output bit for fixed models and inputs is pinned.
//!
//! The constants are golden values computed once; the same test must pass in `cargo test`,
//! `cargo test --release` and with `RUSTFLAGS="-C target-cpu=native"`, and with the
//! `dispatch` feature on every instruction set the CPU offers (the accumulation order is
//! fixed by `NUMERICS.md`, so vector width, optimisation level and FMA availability cannot
//! change a bit). If a deliberate numerics change moves them, update `NUMERICS.md` first.

mod common;

use common::*;
use gmvae_format::Architecture;
use gmvae_runtime::{Decision, Model, Workspace};

/// Hash of classify's verdict, encode's latent and decode_into's reconstruction for three
/// images through one model, the same on every instruction set the CPU offers.
fn outputs_hash(arch: Architecture, model_seed: u64) -> u64 {
    let bytes = random_model(arch, model_seed);
    same_on_every_isa(Model::parse(&bytes).unwrap(), |model| {
        let mut ws: Box<Workspace<60_000>> = Box::new(Workspace::new());
        let mut values = Vec::new();
        for image_seed in 0..3 {
            let image = random_image(model.image_len(), 1000 + image_seed);
            let v = model.classify(&image, &mut ws).unwrap();
            assert_eq!(v.decision, Decision::Accepted);
            values.push(v.label as f32);
            values.extend_from_slice(&v.latent);
            values.push(v.mahalanobis_sq);
            values.push(v.reconstruction_error);
            let z = model.encode(&image, &mut ws).unwrap();
            assert_eq!(z, v.latent);
            let mut recon = vec![0.0; model.image_len()];
            model.decode_into(&z, &mut ws, &mut recon).unwrap();
            values.extend_from_slice(&recon);
        }
        hash_f32(values)
    })
}

#[test]
fn tiny_model_outputs_are_pinned() {
    assert_eq!(outputs_hash(TINY, 77), 16_268_388_547_963_994_858);
}

#[test]
fn edge_model_outputs_are_pinned() {
    assert_eq!(outputs_hash(EDGE, 78), 596_326_547_828_128_505);
}

#[test]
fn paper_model_outputs_are_pinned() {
    assert_eq!(outputs_hash(PAPER, 79), 6_270_835_567_936_932_938);
}
