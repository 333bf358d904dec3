//! The decoder's forward and backward pass for reclassification ([`crate::reclassify`]):
//! `L = Σ (x − g(z))²` and `∂L/∂z` for the starts of a lockstep [`Bank`]. The dense layers
//! of all running starts share one pass over fc2's weights ([`crate::kernels::batch`]); the
//! convolutions run one start at a time through the classify regions (the backward pass
//! follows each start's forward pass, so its activations are still in `d_pad` and `u_pad`).
//! Every start's arithmetic is that of one start alone; the order of every sum is written
//! down in `NUMERICS.md` ("The backward pass").

use gmvae_format::TensorId;

use crate::error::Error;
use crate::forward::{spans, Conv1Kernel, Sink};
use crate::isa::dispatch;
use crate::kernels::active_grad::{active_grad, ActiveGrad, ActiveScratch};
use crate::kernels::batch::{dense_batch, dense_input_grad_batch, Listed};
use crate::kernels::dense::{compact_nonzero, dense};
use crate::kernels::dense_t::dense_input_grad;
use crate::kernels::grid_grad::{grid_grad, transpose_fold_channel_minor, GridGrad};
use crate::kernels::phases::{scatter_phases, OutputGrad};
use crate::kernels::recon::reconstruction_error;
use crate::kernels::relu::relu_in_place;
use crate::kernels::upconv::fold_phases;
use crate::kernels::window_upconv::fold_channel_minor;
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

    /// `∂L/∂a2`: conv1's input gradient where fc2's ReLU (saved in `d_pad`) was active,
    /// into `target`.
    fn conv1_grad_ws(&self, ws: &mut [f32], target: Span) -> Result<(), Error> {
        let l = self.layout();
        let (d, rc) = (&l.dims, &l.rc);
        let regions = [rc.g1, rc.k1, l.d_pad, rc.terms, rc.active, target];
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
    use crate::layout::Bank;
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
            let classes = l.dims.classes;
            let mut ws = vec![0.0f32; l.rc.len_for(classes)];
            let image: Vec<f32> = (0..l.dims.pixels).map(|i| (i % 7) as f32 / 7.0).collect();
            model.prepare_backward(&mut ws).unwrap();
            let one = Bank::new(&l, 1).unwrap();
            for (i, z) in ws[one.row(one.z, 0).range()].iter_mut().enumerate() {
                *z = if i == 3 { 1.0 } else { 0.01 * i as f32 };
            }
            let listed = model.start_fc1(&mut ws, &one, 0).unwrap();
            time("decoder fc1", 50, || {
                model.start_fc1(&mut ws, &one, 0).unwrap();
            });
            time("decoder fc2, 1 start", 50, || {
                model.lockstep_fc2(&mut ws, &one, &[Some(listed)]).unwrap();
            });
            time("convolutions + loss", 50, || {
                model.start_loss(&image, &mut ws, &one, 0).unwrap();
            });
            time("  output gradient", 50, || {
                model.output_grad_ws(&image, &mut ws).unwrap();
            });
            time("  conv2 gradient", 50, || {
                model.conv2_grad_ws(&mut ws).unwrap();
            });
            time("  conv1 gradient", 50, || {
                model.conv1_grad_ws(&mut ws, one.row(one.a2, 0)).unwrap();
            });
            time("fc2 gradient, 1 start", 50, || {
                model.lockstep_fc2_grad(&mut ws, &one, &[true]).unwrap();
            });
            time("fc1 gradient", 50, || {
                model.start_fc1_grad(&mut ws, &one, 0).unwrap();
            });
            // All starts in lockstep: per start.
            let all = Bank::new(&l, classes).unwrap();
            let mut listed = Vec::new();
            for k in 0..classes {
                ws.copy_within(one.row(one.z, 0).range(), all.row(all.z, k).start);
                listed.push(Some(model.start_fc1(&mut ws, &all, k).unwrap()));
            }
            let per = classes as f64;
            let t = Instant::now();
            for _ in 0..20 {
                model.lockstep_fc2(&mut ws, &all, &listed).unwrap();
            }
            let fwd = t.elapsed().as_secs_f64() / 20.0 / per;
            let run = vec![true; classes];
            let t = Instant::now();
            for _ in 0..20 {
                model.lockstep_fc2_grad(&mut ws, &all, &run).unwrap();
            }
            let bwd = t.elapsed().as_secs_f64() / 20.0 / per;
            std::println!(
                "fc2 in lockstep, per start   {:>9.1} µs forward {:>9.1} µs gradient",
                fwd * 1e6,
                bwd * 1e6
            );
            time("prepare_backward", 50, || {
                model.prepare_backward(&mut ws).unwrap();
            });
        }
    }
}
