//! Hidden hooks for the runtime's per-stage benchmark (`benches/stages.rs`), which times every
//! layer of classify and of one reclassification step on its own. Not part of the API: no
//! stability promise, hidden from the documentation, called by nothing else.
//!
//! The crate has no clock (`no_std`), so the hooks hand each stage to the benchmark's timer
//! as a closure. The stages run in pass order on one workspace: each reads only what the
//! stages before it wrote, so the timer may run it as often as it likes. Their outputs are
//! those of the real passes (the same kernels on the model's own activations, so the sparse
//! kernels see the model's own ReLU zeros).

use crate::error::Error;
use crate::forward::{spans, Conv1Kernel, Sink};
use crate::kernels::mahalanobis::mahalanobis_sq;
use crate::kernels::nearest_mean::nearest_mean;
use crate::kernels::reconstruction_error::reconstruction_error;
use crate::layout::Bank;
use crate::model::Model;
use crate::reclassify::StartValues;

/// One stage of a pass, handed to the benchmark's timer, which runs it (as often as it likes)
/// and returns the first error.
pub struct Stage<'s> {
    /// What it computes, as the benchmark prints it.
    pub name: &'static str,
    /// How many reclassification starts it computes at once (`1` unless in lockstep).
    pub starts: usize,
    /// Runs the stage once.
    pub run: &'s mut dyn FnMut() -> Result<(), Error>,
}

/// Hands `time` every stage of [`Model::classify`] on `image` (checked first), in pass order.
/// `ws` needs [`crate::WorkspaceSizes::classify`] `f32`s.
pub fn classify_stages(
    model: &Model<'_>,
    image: &[f32],
    ws: &mut [f32],
    time: &mut dyn FnMut(Stage<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    model.check_image(image)?;
    let ws = crate::workspace::take(ws, model.layout().classify_len)?;
    let mut stage = |name: &'static str, run: &mut dyn FnMut() -> Result<(), Error>| {
        time(Stage {
            name,
            starts: 1,
            run,
        })
    };
    stage("encoder input", &mut || model.encoder_input(image, ws))?;
    stage("encoder conv1", &mut || model.encoder_conv1(ws))?;
    stage("encoder pool1", &mut || model.encoder_pool1(ws))?;
    stage("encoder conv2", &mut || model.encoder_conv2(ws))?;
    stage("encoder pool2", &mut || model.encoder_pool2(ws))?;
    stage("encoder fc1", &mut || model.encoder_fc1(ws))?;
    stage("encoder fc2", &mut || model.encoder_fc2(ws))?;
    stage("nearest mean + Mahalanobis", &mut || {
        let z = ws.get(model.layout().z.range()).ok_or(Error::Internal)?;
        let (label, _) = nearest_mean(z, model.view().class_means().words())?;
        let mu = model.view().class_mean(label).ok_or(Error::Internal)?;
        let precision = model.view().precision(label).ok_or(Error::Internal)?;
        mahalanobis_sq(z, mu.words(), precision.words())?;
        Ok(())
    })?;
    stage("decoder fc1", &mut || model.decoder_fc1(ws))?;
    stage("decoder fc2", &mut || model.decoder_fc2(ws))?;
    stage("decoder conv1 (and its fold)", &mut || {
        model.decoder_conv1(ws, Conv1Kernel::Fold)
    })?;
    stage("decoder conv2 + sigmoid", &mut || {
        model.decoder_conv2(ws, Sink::Workspace)
    })?;
    stage("reconstruction error", &mut || {
        let recon = ws
            .get(model.layout().recon.range())
            .ok_or(Error::Internal)?;
        reconstruction_error(image, recon)?;
        Ok(())
    })?;
    Ok(())
}

/// Hands `time` every stage of one reclassification step from the code `z` on `image` (both
/// checked first): once per call, the kernel folding; one start alone, its forward and
/// backward passes in order; then decoder fc2 and its gradient for every start at once, in
/// lockstep. `ws` needs [`crate::WorkspaceSizes::reclassify_lockstep`] `f32`s.
pub fn reclassify_stages(
    model: &Model<'_>,
    image: &[f32],
    z: &[f32],
    ws: &mut [f32],
    time: &mut dyn FnMut(Stage<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    model.check_image(image)?;
    let l = *model.layout();
    let classes = l.dims.classes;
    if z.len() != l.dims.latent {
        return Err(Error::LatentLength {
            expected: l.dims.latent,
            found: z.len(),
        });
    }
    if let Some(index) = z.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFiniteLatent { index });
    }
    let ws = crate::workspace::take(ws, l.rc.len_for(classes))?;
    let mut stage =
        |name: &'static str, starts: usize, run: &mut dyn FnMut() -> Result<(), Error>| {
            time(Stage { name, starts, run })
        };
    stage("prepare_backward (folds)", 1, &mut || {
        model.prepare_backward(ws)
    })?;
    let one = Bank::new(&l, 1).ok_or(Error::Internal)?;
    let [row] = spans(ws, [one.row(one.z, 0)])?;
    row.copy_from_slice(z);
    let mut listed = model.start_fc1(ws, &one, 0)?;
    stage("decoder fc1", 1, &mut || {
        listed = model.start_fc1(ws, &one, 0)?;
        Ok(())
    })?;
    let listed_one = [Some(listed)];
    stage("decoder fc2, 1 start", 1, &mut || {
        model.lockstep_fc2(ws, &one, &listed_one)
    })?;
    stage("convolutions + loss", 1, &mut || {
        model.start_loss(image, ws, &one, 0).map(|_| ())
    })?;
    stage("  output gradient", 1, &mut || {
        model.output_grad_ws(image, ws)
    })?;
    stage("  conv2 gradient", 1, &mut || model.conv2_grad_ws(ws))?;
    stage("  conv1 gradient", 1, &mut || {
        model.conv1_grad_ws(ws, one.row(one.a2, 0))
    })?;
    stage("fc2 gradient, 1 start", 1, &mut || {
        model.lockstep_fc2_grad(ws, &one, &[true])
    })?;
    stage("fc1 gradient", 1, &mut || model.start_fc1_grad(ws, &one, 0))?;

    // Every start in lockstep, each from `z`.
    let all = Bank::new(&l, classes).ok_or(Error::Internal)?;
    let mut listed: StartValues<Option<usize>> = StartValues::new();
    let mut running: StartValues<bool> = StartValues::new();
    for k in 0..classes {
        let [row] = spans(ws, [all.row(all.z, k)])?;
        row.copy_from_slice(z);
        let n = model.start_fc1(ws, &all, k)?;
        listed.push(Some(n)).map_err(|_| Error::Internal)?;
        running.push(true).map_err(|_| Error::Internal)?;
    }
    stage("fc2 in lockstep", classes, &mut || {
        model.lockstep_fc2(ws, &all, &listed)
    })?;
    stage("fc2 gradient in lockstep", classes, &mut || {
        model.lockstep_fc2_grad(ws, &all, &running)
    })?;
    Ok(())
}
