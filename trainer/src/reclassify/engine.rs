//! The runtime engine: `gmvae_runtime::Model::reclassify` (hand-written backward pass,
//! bit-deterministic), one sample per thread of a rayon pool. Results do not depend on the
//! thread count.

use super::{Outcome, ReclassifyError, ReclassifySettings};
use gmvae_runtime::{Model, Reclassified};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Most `f32`s of runtime workspace a host tool allocates for one model (256 MiB); a model
/// file whose sizes need more (the format allows enormous layers) is refused, not allocated.
pub const MAX_WORKSPACE: usize = 1 << 26;

/// The `f32`s with which `model` reclassifies every start in lockstep (the most any runtime
/// call of it needs), if at most [`MAX_WORKSPACE`].
pub fn lockstep_workspace(model: &Model<'_>) -> Result<usize, ReclassifyError> {
    let needed = model.workspace_sizes().reclassify_lockstep;
    if needed > MAX_WORKSPACE {
        return Err(ReclassifyError::WorkspaceTooLarge {
            needed,
            max: MAX_WORKSPACE,
        });
    }
    Ok(needed)
}

/// Reclassifies every row of `images` with the runtime, on `threads` threads (each with a
/// workspace that runs every start in lockstep).
pub fn reclassify(
    model_bytes: &[u8],
    images: ArrayView2<f32>,
    settings: &ReclassifySettings,
    threads: usize,
) -> Result<Vec<Outcome>, ReclassifyError> {
    let model = Model::parse(model_bytes).map_err(ReclassifyError::Model)?;
    settings.validate().map_err(ReclassifyError::Settings)?;
    if images.ncols() != model.image_len() {
        return Err(ReclassifyError::ImageSize {
            found: images.ncols(),
            expected: model.image_len(),
        });
    }
    let needed = lockstep_workspace(&model)?;
    let threads = threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| ReclassifyError::Threads { threads, source })?;
    let rows: Vec<Vec<f32>> = images.rows().into_iter().map(|r| r.to_vec()).collect();
    pool.install(|| {
        rows.par_iter()
            .enumerate()
            .map_init(
                || vec![0.0f32; needed],
                |ws, (index, image)| {
                    model
                        .reclassify(image, ws, settings)
                        .map(|r| outcome(&r))
                        .map_err(|source| ReclassifyError::Runtime { index, source })
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
