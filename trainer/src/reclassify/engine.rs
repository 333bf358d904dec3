//! The runtime engine: `gmvae_runtime::Model::reclassify` (hand-written backward pass,
//! bit-deterministic), one sample per thread of a rayon pool. Results do not depend on the
//! thread count.

use super::{Outcome, ReclassifySettings};
use anyhow::{anyhow, bail, Result};
use gmvae_runtime::{Error, Model, Reclassified, Workspace};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Largest workspace (in `f32`s) the engine provides per thread (64 MiB).
pub const MAX_WORKSPACE: usize = 1 << 24;

/// A boxed runtime workspace of some capacity that can reclassify.
pub trait ReclassifyWorkspace: Send {
    /// [`Model::reclassify`] with this workspace.
    fn reclassify(
        &mut self,
        model: &Model<'_>,
        image: &[f32],
        settings: &ReclassifySettings,
    ) -> Result<Reclassified, Error>;
}

impl<const N: usize> ReclassifyWorkspace for Workspace<N> {
    fn reclassify(
        &mut self,
        model: &Model<'_>,
        image: &[f32],
        settings: &ReclassifySettings,
    ) -> Result<Reclassified, Error> {
        model.reclassify(image, self, settings)
    }
}

/// The smallest supported workspace with at least `needed` `f32`s, boxed. Needs a stack of
/// [`stack_for`]`(needed)` bytes (the array may be built on the stack first).
pub fn workspace_for(needed: usize) -> Result<Box<dyn ReclassifyWorkspace>> {
    fn boxed<const N: usize>() -> Box<dyn ReclassifyWorkspace> {
        Box::new(Workspace::<N>::new())
    }
    Ok(match needed {
        0..=32_768 => boxed::<32_768>(),
        32_769..=131_072 => boxed::<131_072>(),
        131_073..=524_288 => boxed::<524_288>(),
        524_289..=2_097_152 => boxed::<2_097_152>(),
        2_097_153..=MAX_WORKSPACE => boxed::<MAX_WORKSPACE>(),
        _ => bail!(
            "the model needs {needed} f32 of reclassification workspace, more than {MAX_WORKSPACE}"
        ),
    })
}

/// Stack bytes a thread needs to build [`workspace_for`]`(needed)`.
pub fn stack_for(needed: usize) -> usize {
    needed.next_power_of_two().max(32_768) * 4 * 2 + (8 << 20)
}

/// Reclassifies every row of `images` with the runtime, on `threads` threads.
pub fn reclassify(
    model_bytes: &[u8],
    images: ArrayView2<f32>,
    settings: &ReclassifySettings,
    threads: usize,
) -> Result<Vec<Outcome>> {
    let model = Model::parse(model_bytes).map_err(|e| anyhow!("invalid model: {e}"))?;
    let needed = model.reclassify_lockstep_workspace_len();
    workspace_for(needed)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .stack_size(stack_for(needed))
        .build()?;
    let rows: Vec<Vec<f32>> = images.rows().into_iter().map(|r| r.to_vec()).collect();
    pool.install(|| {
        rows.par_iter()
            .map_init(
                || workspace_for(needed),
                |ws, image| {
                    let ws = ws.as_mut().map_err(|e| anyhow!("{e}"))?;
                    ws.reclassify(&model, image, settings)
                        .map(|r| outcome(&r))
                        .map_err(|e| anyhow!("reclassification failed: {e}"))
                },
            )
            .collect()
    })
}

/// The trainer's view of a runtime result.
pub fn outcome(r: &Reclassified) -> Outcome {
    Outcome {
        label: r.label,
        start: r.start,
        latent: r.latent.to_vec(),
        reconstruction_error: r.reconstruction_error,
        mahalanobis_sq: r.mahalanobis_sq,
        start_losses: r.start_losses.to_vec(),
        start_steps: r.start_steps.to_vec(),
        passes_thresholds: r.threshold_test.is_accepted(),
        accepted: r.decision.is_accepted(),
    }
}
