//! The decoder's forward and backward pass for reclassification ([`crate::reclassify`]):
//! `L = Σ (x − g(z))²` and `∂L/∂z` for the starts of a lockstep [`Bank`]. The dense layers
//! of all running starts share one pass over fc2's weights
//! ([`crate::kernels::dense_forward_lockstep`],
//! [`crate::kernels::dense_input_grad_lockstep`]); the convolutions run one start at a time
//! through the classify regions (the backward pass follows each start's forward pass, so its
//! activations are still in `d_pad` and `u_pad`). Every start's arithmetic is that of one
//! start alone; the order of every sum is written down in `NUMERICS.md` ("The backward
//! pass"); `crate::kernels` names the kernel of each layer and pass.

use gmvae_format::TensorId;

use crate::error::Error;
use crate::forward::{spans, Conv1Kernel, Sink};
use crate::isa::dispatch;
use crate::kernels::decoder_conv1_input_grad::{active_grad, ActiveScratch};
use crate::kernels::decoder_conv2_input_grad::grid_grad;
use crate::kernels::dense_forward::{compact_nonzero, dense};
use crate::kernels::dense_forward_lockstep::{dense_batch, Listed};
use crate::kernels::dense_input_grad::dense_input_grad;
use crate::kernels::dense_input_grad_lockstep::dense_input_grad_batch;
use crate::kernels::folded_weights::{
    fold_channel_minor, fold_phases, transpose_fold_channel_minor,
};
use crate::kernels::reconstruction_error::reconstruction_error;
use crate::kernels::reconstruction_error_grad::{scatter_phases, OutputGrad};
use crate::kernels::relu::relu_in_place;
use crate::kernels::MaskedInputGrad;
use crate::layout::{Bank, Span};
use crate::model::Model;
use crate::reclassify::StartValues;

impl Model<'_> {
    /// Folds both decoder convolutions' kernels once per reclassification call: `k1` as the
    /// forward pass folds decoder conv1 ([`fold_channel_minor`], which its input gradient
    /// reads too), `k2` tap-reversed with the input channel innermost for decoder conv2's
    /// input gradient ([`transpose_fold_channel_minor`]). Depends only on the weights.
    pub(crate) fn prepare_backward(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [k1] = spans(ws, [l.rc.k1])?;
        fold_channel_minor(self.weights(TensorId::DecConv1Weight), d.c2, d.c1, k1)?;
        let [fold, k2] = spans(ws, [l.fold, l.rc.k2])?;
        fold_phases(self.weights(TensorId::DecConv2Weight), fold)?;
        transpose_fold_channel_minor(fold, d.c1, d.c, k2)?;
        Ok(())
    }

    /// Decoder fc1 for start `s`: `h1 = ReLU(b1 + W1ᵀ z)`, then `h1` compacted (fc2's
    /// input); returns how many values are listed.
    pub(crate) fn start_fc1(&self, ws: &mut [f32], bank: &Bank, s: usize) -> Result<usize, Error> {
        let l = self.layout();
        let regions = [
            bank.row(bank.z, s),
            l.sparse_vals,
            l.sparse_idx,
            bank.row(bank.h1, s),
            bank.row(bank.vals, s),
            bank.row(bank.idx, s),
        ];
        let [z, zv, zi, h1, vals, idx] = spans(ws, regions)?;
        let (w, b) = (
            self.weights(TensorId::DecFc1Weight),
            self.weights(TensorId::DecFc1Bias),
        );
        let n = dispatch!(self.isa(), {
            let n = compact_nonzero(z, zv, zi)?;
            let (zv, zi) = zv.get(..n).zip(zi.get(..n)).ok_or(Error::Internal)?;
            dense(zv, zi, z.len(), w, b, h1)?;
            relu_in_place(h1);
            Ok::<usize, Error>(compact_nonzero(h1, vals, idx)?)
        })?;
        Ok(n)
    }

    /// Decoder fc2 for every start with a listed input (`listed[s]`: how many values
    /// [`Model::start_fc1`] listed; `None`: the start does not run): its output to `a2`.
    pub(crate) fn lockstep_fc2(
        &self,
        ws: &mut [f32],
        bank: &Bank,
        listed: &[Option<usize>],
    ) -> Result<(), Error> {
        let hidden = self.layout().dims.hidden;
        let [vals, idx, a2] = spans(ws, [bank.vals, bank.idx, bank.a2])?;
        let mut inputs: StartValues<Option<Listed<'_>>> = StartValues::new();
        let rows = vals.chunks_exact(hidden).zip(idx.chunks_exact(hidden));
        for (n, (v, i)) in listed.iter().zip(rows) {
            let input = match *n {
                Some(n) => Some(Listed {
                    vals: v.get(..n).ok_or(Error::Internal)?,
                    idx: i.get(..n).ok_or(Error::Internal)?,
                }),
                None => None,
            };
            inputs.push(input).map_err(|_| Error::Internal)?;
        }
        let (w, b) = (
            self.weights(TensorId::DecFc2Weight),
            self.weights(TensorId::DecFc2Bias),
        );
        dispatch!(self.isa(), dense_batch(&inputs, hidden, w, b, a2))?;
        Ok(())
    }

    /// The decoder's convolutions for start `s` (after [`Model::lockstep_fc2`]) into the
    /// reclassification `recon` span, keeping their activations; returns `L = Σ (x − g(z))²`
    /// (the lane order of classify's reconstruction error).
    pub(crate) fn start_loss(
        &self,
        image: &[f32],
        ws: &mut [f32],
        bank: &Bank,
        s: usize,
    ) -> Result<f32, Error> {
        let l = self.layout();
        let (cls, rest) = ws
            .split_at_mut_checked(l.classify_len)
            .ok_or(Error::Internal)?;
        let [a2, recon, k1] = rest
            .get_disjoint_mut([
                local(bank.row(bank.a2, s), l.classify_len)?,
                local(l.rc.recon, l.classify_len)?,
                local(l.rc.k1, l.classify_len)?,
            ])
            .map_err(|_| Error::Internal)?;
        let [d_pad] = spans(cls, [l.d_pad])?;
        self.unflatten(a2, d_pad)?;
        self.decode_convolutions(cls, Sink::Caller(recon), Conv1Kernel::Folded(k1))?;
        Ok(reconstruction_error(image, recon)?)
    }

    /// After [`Model::start_loss`] of start `s`: `∂L/∂a2` into its `a2` row.
    pub(crate) fn start_conv_grads(
        &self,
        image: &[f32],
        ws: &mut [f32],
        bank: &Bank,
        s: usize,
    ) -> Result<(), Error> {
        self.output_grad_ws(image, ws)?;
        self.conv2_grad_ws(ws)?;
        self.conv1_grad_ws(ws, bank.row(bank.a2, s))
    }

    /// Decoder fc2's input gradient `∂L/∂h1` (through fc1's ReLU) for every start with
    /// `run[s]`, from its `∂L/∂a2`.
    pub(crate) fn lockstep_fc2_grad(
        &self,
        ws: &mut [f32],
        bank: &Bank,
        run: &[bool],
    ) -> Result<(), Error> {
        let [ga2, h1, gh1] = spans(ws, [bank.a2, bank.h1, bank.gh1])?;
        let w = self.weights(TensorId::DecFc2Weight);
        dispatch!(self.isa(), dense_input_grad_batch(w, ga2, h1, run, gh1))?;
        Ok(())
    }

    /// `∂L/∂z` of start `s` (after [`Model::lockstep_fc2_grad`]) into the `gz` span.
    pub(crate) fn start_fc1_grad(
        &self,
        ws: &mut [f32],
        bank: &Bank,
        s: usize,
    ) -> Result<(), Error> {
        let [gh1, gz] = spans(ws, [bank.row(bank.gh1, s), self.layout().rc.gz])?;
        let w = self.weights(TensorId::DecFc1Weight);
        dispatch!(self.isa(), dense_input_grad(w, gh1, None, gz))?;
        Ok(())
    }

    /// `∂L/∂o` at the output pre-activation, as conv2's output phase planes (`go`).
    pub(crate) fn output_grad_ws(&self, image: &[f32], ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);
        let [go, recon] = spans(ws, [rc.go, rc.recon])?;
        let src = OutputGrad {
            recon,
            image,
            width: d.w,
            height: d.h,
        };
        dispatch!(self.isa(), scatter_phases(d.c, d.h2, d.w2, go, &src))?;
        Ok(())
    }

    /// `∂L/∂u` (conv2's input), through conv1's ReLU, into conv1's output phase grid (`g1`).
    pub(crate) fn conv2_grad_ws(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);
        let [go, k2, u_pad, g1] = spans(ws, [rc.go, rc.k2, l.u_pad, rc.g1])?;
        let op = MaskedInputGrad {
            grad: go,
            kernel: k2,
            saved: u_pad,
            cin: d.c1,
            cout: d.c,
            h: d.h2,
            w: d.w2,
        };
        dispatch!(self.isa(), grid_grad(&op, g1))?;
        Ok(())
    }

    /// `∂L/∂a2`: conv1's input gradient where fc2's ReLU (saved in `d_pad`) was active,
    /// into `target`.
    pub(crate) fn conv1_grad_ws(&self, ws: &mut [f32], target: Span) -> Result<(), Error> {
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);
        let regions = [rc.g1, rc.k1, l.d_pad, rc.terms, rc.active, target];
        let [g1, k1, d_pad, terms, active, ga2] = spans(ws, regions)?;
        let op = MaskedInputGrad {
            grad: g1,
            kernel: k1,
            saved: d_pad,
            cin: d.c2,
            cout: d.c1,
            h: d.h4,
            w: d.w4,
        };
        dispatch!(self.isa(), {
            active_grad(&op, ActiveScratch { terms, active }, ga2)
        })?;
        Ok(())
    }
}

/// `span` as a range into the part of the workspace that starts at `base`.
fn local(span: Span, base: usize) -> Result<core::ops::Range<usize>, Error> {
    let start = span.start.checked_sub(base).ok_or(Error::Internal)?;
    Ok(start..start.saturating_add(span.len))
}
