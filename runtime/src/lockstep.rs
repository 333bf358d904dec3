//! The search of [`crate::reclassify`] for a group of starts that run in lockstep.
//!
//! Every start of the group takes its Adam steps at the same time, so that the decoder's
//! wide dense layer reads its weights once per step for the whole group (see
//! [`crate::kernels::dense_forward_lockstep`] and
//! [`crate::kernels::dense_input_grad_lockstep`]); the convolutions still run one start at a
//! time. Each start computes exactly what it would alone — the same losses, gradients, steps
//! and stopping decisions, in the same `f32` operations — so the group's width never changes
//! a result, only how long it takes.

use crate::error::Error;
use crate::forward::spans;
use crate::kernels::adam::{adam_step, AdamStep};
use crate::layout::Bank;
use crate::model::Model;
use crate::reclassify::{ReclassifySettings, StartValues};

/// One start's outcome: the loss of its best iterate (left in its `z_best` row of the bank)
/// and the Adam steps it took.
pub(crate) struct Start {
    pub loss: f32,
    pub steps: u32,
}

/// Where a start stands.
#[derive(Clone, Copy)]
struct State {
    /// The smallest finite loss so far.
    best: f32,
    /// The loss of the previous iterate (early stopping).
    previous: Option<f32>,
    /// Adam steps taken.
    steps: u32,
    /// Still searching.
    running: bool,
}

impl Model<'_> {
    /// Descends from the means of classes `first .. first + bank.width`, one start each, in
    /// lockstep (module documentation of `reclassify` for one start's rules).
    pub(crate) fn descend_lockstep(
        &self,
        image: &[f32],
        ws: &mut [f32],
        bank: &Bank,
        first: usize,
        s: &ReclassifySettings,
    ) -> Result<StartValues<Start>, Error> {
        let mut states: StartValues<State> = StartValues::new();
        for k in 0..bank.width {
            self.start_at_mean(ws, bank, k, first + k)?;
            let state = State {
                best: f32::INFINITY,
                previous: None,
                steps: 0,
                running: true,
            };
            states.push(state).map_err(|_| Error::Internal)?;
        }
        let (mut b1t, mut b2t) = (1.0f32, 1.0f32);
        while states.iter().any(|st| st.running) {
            let mut listed: StartValues<Option<usize>> = StartValues::new();
            for (k, st) in states.iter().enumerate() {
                let n = match st.running {
                    true => Some(self.start_fc1(ws, bank, k)?),
                    false => None,
                };
                listed.push(n).map_err(|_| Error::Internal)?;
            }
            self.lockstep_fc2(ws, bank, &listed)?;
            let mut stepping: StartValues<bool> = StartValues::new();
            for (k, st) in states.iter_mut().enumerate() {
                let step = st.running && self.evaluate(image, ws, bank, k, st, s)?;
                stepping.push(step).map_err(|_| Error::Internal)?;
            }
            if !stepping.iter().any(|&step| step) {
                continue;
            }
            self.lockstep_fc2_grad(ws, bank, &stepping)?;
            // Every start that steps now takes its step number `t` for the same `t`, so one
            // running product serves them all (the same roundings as a start alone).
            b1t *= s.beta1;
            b2t *= s.beta2;
            let step = AdamStep {
                lr: s.learning_rate,
                beta1: s.beta1,
                beta2: s.beta2,
                eps: s.epsilon,
                c1: 1.0 - b1t,
                c2: 1.0 - b2t,
            };
            for ((k, st), _) in states
                .iter_mut()
                .enumerate()
                .zip(&stepping)
                .filter(|(_, &step)| step)
            {
                self.adam(ws, bank, (k, first + k), st, &step, s)?;
            }
        }
        let mut starts = StartValues::new();
        for st in &states {
            let start = Start {
                loss: st.best,
                steps: st.steps,
            };
            starts.push(start).map_err(|_| Error::Internal)?;
        }
        Ok(starts)
    }

    /// Start `k` at the mean of `class`, its best iterate there, its moments zero.
    fn start_at_mean(
        &self,
        ws: &mut [f32],
        bank: &Bank,
        k: usize,
        class: usize,
    ) -> Result<(), Error> {
        let mu = self.view().class_mean(class).ok_or(Error::Internal)?;
        let rows = [bank.z, bank.z_best, bank.m, bank.v].map(|r| bank.row(r, k));
        let [z, z_best, m, v] = spans(ws, rows)?;
        for ((z, best), w) in z.iter_mut().zip(z_best.iter_mut()).zip(mu.words()) {
            *z = f32::from_le_bytes(*w);
            *best = *z;
        }
        m.fill(0.0);
        v.fill(0.0);
        Ok(())
    }

    /// Start `k`'s loss (after [`Model::lockstep_fc2`]), its best iterate and stopping
    /// rules, and — if it goes on — its convolutions' backward pass. Returns whether it
    /// takes a step.
    fn evaluate(
        &self,
        image: &[f32],
        ws: &mut [f32],
        bank: &Bank,
        k: usize,
        st: &mut State,
        s: &ReclassifySettings,
    ) -> Result<bool, Error> {
        let loss = self.start_loss(image, ws, bank, k)?;
        let stop = if !loss.is_finite() {
            true
        } else {
            if loss < st.best {
                st.best = loss;
                let [z, best] = spans(ws, [bank.row(bank.z, k), bank.row(bank.z_best, k)])?;
                best.copy_from_slice(z);
            }
            let converged = st.previous.is_some_and(|p| {
                s.early_stop_tolerance > 0.0 && (p - loss).abs() <= s.early_stop_tolerance * p
            });
            st.steps == s.steps || converged
        };
        if stop {
            st.running = false;
            return Ok(false);
        }
        st.previous = Some(loss);
        self.start_conv_grads(image, ws, bank, k)?;
        Ok(true)
    }

    /// Start `k`'s Adam step (after [`Model::lockstep_fc2_grad`]), confined to `class` if
    /// the settings say so.
    fn adam(
        &self,
        ws: &mut [f32],
        bank: &Bank,
        (k, class): (usize, usize),
        st: &mut State,
        step: &AdamStep,
        s: &ReclassifySettings,
    ) -> Result<(), Error> {
        self.start_fc1_grad(ws, bank, k)?;
        let gz_span = self.layout().rc.gz;
        let regions = [
            bank.row(bank.z, k),
            gz_span,
            bank.row(bank.m, k),
            bank.row(bank.v, k),
        ];
        let [z, gz, m, v] = spans(ws, regions)?;
        if !gz.iter().all(|g| g.is_finite()) {
            st.running = false;
            return Ok(());
        }
        adam_step(step, z, gz, m, v)?;
        if s.confine_to_class {
            self.confine(z, class, s.confine_fraction)?;
        }
        st.steps += 1;
        if !z.iter().all(|v| v.is_finite()) {
            st.running = false;
        }
        Ok(())
    }
}
