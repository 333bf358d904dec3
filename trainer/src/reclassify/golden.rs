//! The golden reclassification fixture, `fixtures/golden/reclassify.json`: the runtime's
//! `reclassify` on every golden input of the `golden_fixtures` example, every `f32` as its bit pattern, so
//! that `tests/reclassify_conformance.rs` can demand the same bits from any build on any
//! target.

use super::{ReclassifyError, ReclassifySettings};
use crate::atomic::{pretty_json, write_atomically};
use crate::error::Result;
use gmvae_runtime::Model;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The file's name inside the golden directory.
pub const FILE: &str = "reclassify.json";

/// The value of the file's `format` field.
pub const FORMAT: &str = "gmvae-golden-reclassify-1";

/// The settings the fixture is made with, spelled out (they do not follow
/// `ReclassifySettings::DEFAULT`): 25 Adam steps of 0.05 (enough to move every start well
/// away from its mean, few enough for a debug-build test), β1 0.9, β2 0.999, ε 1e-8.
pub const SETTINGS: ReclassifySettings = ReclassifySettings {
    steps: 25,
    learning_rate: 0.05,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    early_stop_tolerance: 0.0,
    reject_fooling: true,
    confine_to_class: false,
    confine_fraction: 1.0,
};

/// An f32 as `0x` and 8 hex digits (the golden files' notation).
pub fn hex(x: f32) -> String {
    format!("0x{:08x}", x.to_bits())
}

/// The settings as JSON (floats as bit patterns).
pub fn settings_json(s: &ReclassifySettings) -> Value {
    json!({
        "steps": s.steps,
        "learning_rate": hex(s.learning_rate),
        "beta1": hex(s.beta1),
        "beta2": hex(s.beta2),
        "epsilon": hex(s.epsilon),
        "early_stop_tolerance": hex(s.early_stop_tolerance),
        "reject_fooling": s.reject_fooling,
        "confine_to_class": s.confine_to_class,
        "confine_fraction": hex(s.confine_fraction),
    })
}

/// The fixture's JSON for `inputs` (`(name, pixels)` pairs) through `model`.
pub fn expected<'i>(
    model: &Model<'_>,
    inputs: impl IntoIterator<Item = (&'i str, &'i [f32])>,
) -> Result<Value, ReclassifyError> {
    let sizes = model.workspace_sizes();
    let mut ws = vec![0.0f32; sizes.reclassify_lockstep];
    let mut cases = Vec::new();
    for (index, (name, pixels)) in inputs.into_iter().enumerate() {
        let r = model
            .reclassify(pixels, &mut ws, &SETTINGS)
            .map_err(|source| ReclassifyError::Runtime { index, source })?;
        let hexes = |v: &[f32]| v.iter().map(|&x| hex(x)).collect::<Vec<_>>();
        cases.push(json!({
            "index": index,
            "name": name,
            "label": r.label,
            "start": r.start,
            "latent": hexes(&r.latent),
            "reconstruction_error": hex(r.reconstruction_error),
            "mahalanobis_sq": hex(r.mahalanobis_sq),
            "start_losses": hexes(&r.start_losses),
            "start_steps": r.start_steps.to_vec(),
            "passes_thresholds": r.threshold_test.is_accepted(),
            "accepted": r.decision.is_accepted(),
            "approx": {
                "latent": r.latent.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
                "reconstruction_error": f64::from(r.reconstruction_error),
                "mahalanobis_sq": f64::from(r.mahalanobis_sq),
            },
        }));
    }
    Ok(json!({
        "format": FORMAT,
        "generated_by": "cargo run --release -p gmvae-trainer --example golden_fixtures",
        "inputs": "inputs.f32le (every golden input, in order)",
        "reclassify_workspace_len": sizes.reclassify,
        "reclassify_workspace_bytes": sizes.reclassify_bytes(),
        "settings": settings_json(&SETTINGS),
        "cases": cases,
    }))
}

/// Writes [`FILE`] into `dir`; returns its path.
pub fn write<'i>(
    dir: &Path,
    model: &Model<'_>,
    inputs: impl IntoIterator<Item = (&'i str, &'i [f32])>,
) -> Result<PathBuf> {
    let value = expected(model, inputs)?;
    let path = dir.join(FILE);
    write_atomically(&path, (pretty_json(FILE, &value)? + "\n").as_bytes())?;
    Ok(path)
}
