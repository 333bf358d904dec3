//! The decoder's backward pass over the workspace: `L = Σ (x − g(z))²` and `∂L/∂z`, for
//! reclassification ([`crate::reclassify`]). The forward pass is [`Model::decode_ws`] with the
//! reconstruction sent to the reclassification region, so the activations the backward pass
//! needs stay where the forward pass left them (`dh`, `d_pad`, `u_pad`); the order of every
//! sum is written down in `NUMERICS.md` ("The backward pass").

use gmvae_format::TensorId;

use crate::error::Error;
use crate::forward::{spans, Conv1Kernel, Sink};
use crate::isa::dispatch;
use crate::kernels::active_grad::{active_grad, ActiveGrad, ActiveScratch};
use crate::kernels::dense_t::dense_input_grad;
use crate::kernels::grid_grad::{grid_grad, transpose_fold_channel_minor, GridGrad};
use crate::kernels::phases::{scatter_phases, OutputGrad};
use crate::kernels::recon::reconstruction_error;
use crate::kernels::upconv::fold_phases;
use crate::kernels::window_upconv::fold_channel_minor;
use crate::layout::Span;
use crate::model::Model;

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

    /// Decodes the `z` span into the reclassification `recon` span, keeping the decoder's
    /// activations, and returns `L = Σ (x − g(z))²` (the lane order of classify's
    /// reconstruction error).
    pub(crate) fn loss_ws(&self, image: &[f32], ws: &mut [f32]) -> Result<f32, Error> {
        let l = self.layout();
        let (cls, rest) = ws
            .split_at_mut_checked(l.classify_len)
            .ok_or(Error::Internal)?;
        let [recon, k1] = rest
            .get_disjoint_mut([
                local(l.rc.recon, l.classify_len)?,
                local(l.rc.k1, l.classify_len)?,
            ])
            .map_err(|_| Error::Internal)?;
        self.decode_ws(cls, Sink::Caller(recon), Conv1Kernel::Folded(k1))?;
        Ok(reconstruction_error(image, recon)?)
    }

    /// After [`Model::loss_ws`] (and [`Model::prepare_backward`]), writes `∂L/∂z` into the
    /// `gz` span.
    pub(crate) fn grad_ws(&self, image: &[f32], ws: &mut [f32]) -> Result<(), Error> {
        self.output_grad_ws(image, ws)?;
        self.conv2_grad_ws(ws)?;
        self.conv1_grad_ws(ws)?;
        self.dense_grads_ws(ws)
    }

    /// `∂L/∂o` at the output pre-activation, as conv2's output phase planes (`go`).
    fn output_grad_ws(&self, image: &[f32], ws: &mut [f32]) -> Result<(), Error> {
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
    fn conv2_grad_ws(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);
        let [go, k2, u_pad, g1] = spans(ws, [rc.go, rc.k2, l.u_pad, rc.g1])?;
        let op = GridGrad {
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

    /// `∂L/∂a2`: conv1's input gradient where fc2's ReLU (saved in `d_pad`) was active.
    fn conv1_grad_ws(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);
        let regions = [rc.g1, rc.k1, l.d_pad, rc.terms, rc.active, rc.ga2];
        let [g1, k1, d_pad, terms, active, ga2] = spans(ws, regions)?;
        let op = ActiveGrad {
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

    /// The dense layers: `∂L/∂a1` through fc1's ReLU (saved in `dh`), then `∂L/∂z`.
    fn dense_grads_ws(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let rc = &l.rc;
        let [ga2, dh, ga1] = spans(ws, [rc.ga2, l.dh, rc.ga1])?;
        let w2 = self.weights(TensorId::DecFc2Weight);
        dispatch!(self.isa(), dense_input_grad(w2, ga2, Some(dh), ga1))?;
        let [ga1, gz] = spans(ws, [rc.ga1, rc.gz])?;
        let w1 = self.weights(TensorId::DecFc1Weight);
        dispatch!(self.isa(), dense_input_grad(w1, ga1, None, gz))?;
        Ok(())
    }
}

/// `span` as a range into the part of the workspace that starts at `base`.
fn local(span: Span, base: usize) -> Result<core::ops::Range<usize>, Error> {
    let start = span.start.checked_sub(base).ok_or(Error::Internal)?;
    Ok(start..start.saturating_add(span.len))
}

#[cfg(test)]
mod timing {
    //! Per-pass timing, for performance work, on the model file named by
    //! `GMVAE_TIMING_MODEL` (a trained model shows realistic ReLU sparsity) or else on the
    //! paper-sized architecture with random weights:
    //! `GMVAE_TIMING_MODEL=runs/demo/model.gmvae cargo test -p gmvae-runtime --release
    //! --features dispatch --lib backward::timing -- --ignored --nocapture`

    use super::*;
    use crate::isa::Isa;
    use gmvae_format::{Architecture, Calibration, CovarianceKind, ModelFile, TauDecStatistic};
    use std::time::Instant;
    use std::vec::Vec;

    fn time(name: &str, reps: usize, mut f: impl FnMut()) {
        f();
        let mut best = f64::INFINITY;
        for _ in 0..15 {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        std::println!("{name:<28} {:>9.1} µs", best * 1e6);
    }

    fn model_bytes() -> Vec<u8> {
        if let Ok(path) = std::env::var("GMVAE_TIMING_MODEL") {
            return std::fs::read(path).unwrap();
        }
        let cal = Calibration {
            s2: 0.25,
            covariance: CovarianceKind::Isotropic,
            tau_enc: 1e30,
            tau_dec: 1e30,
            confidence: 0.9973,
            tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
            samples: 1,
        };
        let mut file = ModelFile::new(Architecture::MNIST_PAPER, cal).unwrap();
        let mut rng = crate::kernels::testutil::Rng(3);
        for id in TensorId::ALL {
            for v in file.tensor_mut(id).iter_mut() {
                *v = rng.sym() * 0.05;
            }
        }
        file.to_bytes().unwrap()
    }

    #[test]
    #[ignore]
    fn timing() {
        let bytes = model_bytes();
        for isa in [Isa::detect(), Isa::Baseline] {
            let model = Model::parse(&bytes).unwrap().limit_isa(isa);
            std::println!("-- {}", model.isa().name());
            let l = *model.layout();
            let mut ws = vec![0.0f32; l.rc.len];
            let image: Vec<f32> = (0..l.dims.pixels).map(|i| (i % 7) as f32 / 7.0).collect();
            model.prepare_backward(&mut ws).unwrap();
            for (i, z) in ws[l.z.range()].iter_mut().enumerate() {
                *z = if i == 3 { 1.0 } else { 0.01 * i as f32 };
            }
            time("loss (decode + error)", 50, || {
                model.loss_ws(&image, &mut ws).unwrap();
            });
            time("  decoder fc2", 50, || {
                let sparse = (l.sparse_vals, l.sparse_idx);
                let (w, b) = (TensorId::DecFc2Weight, TensorId::DecFc2Bias);
                model
                    .dense_layer(&mut ws, l.dh, sparse, l.dflat, w, b)
                    .unwrap();
            });
            time("  decoder conv1", 50, || {
                let (cls, rest) = ws.split_at_mut(l.classify_len);
                let k1 = &rest[l.rc.k1.start - l.classify_len..][..l.rc.k1.len];
                model
                    .decoder_conv1(cls, crate::forward::Conv1Kernel::Folded(k1))
                    .unwrap();
            });
            time("  output gradient", 50, || {
                model.output_grad_ws(&image, &mut ws).unwrap();
            });
            time("  conv2 gradient", 50, || {
                model.conv2_grad_ws(&mut ws).unwrap();
            });
            time("  conv1 gradient", 50, || {
                model.conv1_grad_ws(&mut ws).unwrap();
            });
            time("  dense gradients", 50, || {
                model.dense_grads_ws(&mut ws).unwrap();
            });
            time("grad (backward)", 50, || {
                model.grad_ws(&image, &mut ws).unwrap();
            });
            time("prepare_backward", 50, || {
                model.prepare_backward(&mut ws).unwrap();
            });
        }
    }
}
