//! The decoder's backward pass over the workspace: `L = Σ (x − g(z))²` and `∂L/∂z`, for
//! reclassification ([`crate::reclassify`]). The forward pass is [`Model::decode_ws`] with the
//! reconstruction sent to the reclassification region, so the activations the backward pass
//! needs stay where the forward pass left them (`dh`, `d_pad`, `u_pad`); the order of every
//! sum is written down in `NUMERICS.md` ("The backward pass").

use gmvae_format::TensorId;

use crate::error::Error;
use crate::forward::{spans, Conv1Kernel, Sink};
use crate::isa::dispatch;
use crate::kernels::active_grad::{active_grad, phase_grid, ActiveGrad, ActiveScratch};
use crate::kernels::dense_t::dense_input_grad;
use crate::kernels::flat::{correlate, FlatConv, DEC_CO, DEC_P};
use crate::kernels::phases::{scatter_phases, transpose_fold, MaskedGrad, OutputGrad};
use crate::kernels::recon::reconstruction_error;
use crate::kernels::upconv::fold_phases;
use crate::kernels::window_upconv::fold_channel_minor;
use crate::layout::Span;
use crate::model::Model;

/// Geometry of a backward 2×2 correlation onto `cout` flat planes of an `h × w` map from
/// `4 · cin` phase planes.
fn backward_geometry(cin: usize, cout: usize, h: usize, w: usize) -> Result<FlatConv, Error> {
    let wp = w.checked_add(2).ok_or(Error::Internal)?;
    let hw = h.checked_sub(1).ok_or(Error::Internal)?;
    Ok(FlatConv {
        cin: cin.checked_mul(4).ok_or(Error::Internal)?,
        cout,
        in_plane: h
            .checked_add(2)
            .and_then(|hp| hp.checked_mul(wp))
            .ok_or(Error::Internal)?,
        out_plane: h.checked_mul(wp).ok_or(Error::Internal)?,
        n_out: hw
            .checked_mul(wp)
            .and_then(|v| v.checked_add(w))
            .ok_or(Error::Internal)?,
    })
}

impl Model<'_> {
    /// Folds both decoder convolutions' kernels once per reclassification call: `k1` as the
    /// forward pass folds decoder conv1 ([`fold_channel_minor`], which its input gradient
    /// reads too), `k2` transposed for decoder conv2's backward correlation. Depends only on
    /// the weights.
    pub(crate) fn prepare_backward(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [k1] = spans(ws, [l.rc.k1])?;
        fold_channel_minor(self.weights(TensorId::DecConv1Weight), d.c2, d.c1, k1)?;
        let [fold, k2] = spans(ws, [l.fold, l.rc.k2])?;
        fold_phases(self.weights(TensorId::DecConv2Weight), fold)?;
        transpose_fold(fold, d.c1, d.c, k2)?;
        let [zeros] = spans(ws, [l.rc.zeros])?;
        zeros.fill(0.0);
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
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);

        // ∂L/∂o at the output pre-activation, as conv2's output phase planes.
        let [go, recon] = spans(ws, [rc.go, rc.recon])?;
        let src = OutputGrad {
            recon,
            image,
            width: d.w,
            height: d.h,
        };
        dispatch!(self.isa(), scatter_phases(d.c, d.h2, d.w2, go, &src))?;

        // ∂L/∂u (conv2's input), then through conv1's ReLU into conv1's output phase grid.
        let [go, k2, zeros, gu] = spans(ws, [rc.go, rc.k2, rc.zeros, rc.gu])?;
        let g = backward_geometry(d.c, d.c1, d.h2, d.w2)?;
        let zeros = zeros.get(..d.c1).ok_or(Error::Internal)?;
        dispatch!(self.isa(), {
            correlate::<f32, f32, 2, 2, 4, DEC_CO, DEC_P>(go, &[0, d.w2 + 2], k2, zeros, gu, &g)
        })?;
        let [g1, gu, u_pad] = spans(ws, [rc.g1, rc.gu, l.u_pad])?;
        let src = MaskedGrad {
            grad: gu,
            saved: u_pad,
            width: d.w2,
            height: d.h2,
        };
        dispatch!(self.isa(), phase_grid(d.c1, d.h4, d.w4, g1, &src))?;

        // ∂L/∂a2: conv1's input gradient where fc2's ReLU (saved in `d_pad`) was active.
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

        // The dense layers: ∂L/∂a1 through fc1's ReLU (saved in `dh`), then ∂L/∂z.
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
    //! Per-pass timing on the paper-sized model (random weights), for performance work:
    //! `cargo test -p gmvae-runtime --release --lib backward::timing -- --ignored --nocapture`

    use super::*;
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

    #[test]
    #[ignore]
    fn timing() {
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
        let bytes = file.to_bytes().unwrap();
        let model = Model::parse(&bytes).unwrap();
        let l = *model.layout();
        let mut ws = vec![0.0f32; l.rc.len];
        let image: Vec<f32> = (0..784).map(|i| (i % 7) as f32 / 7.0).collect();
        model.prepare_backward(&mut ws).unwrap();
        for (i, z) in ws[l.z.range()].iter_mut().enumerate() {
            *z = if i == 3 { 1.0 } else { 0.1 };
        }
        time("loss (decode + error)", 50, || {
            model.loss_ws(&image, &mut ws).unwrap();
        });
        time("grad (backward)", 50, || {
            model.grad_ws(&image, &mut ws).unwrap();
        });
        time("prepare_backward", 50, || {
            model.prepare_backward(&mut ws).unwrap();
        });
    }
}
