//! An attack on the decision *with* reclassification (paper §3.5): the deployed model
//! classifies an input, and when it rejects it, reclassifies it by descent on z from every
//! class mean and accepts the best code if that passes both thresholds. The attacker wins when
//! this whole decision accepts the input with a wrong label.
//!
//! The reclassifier minimises `‖x − g(z)‖²` over z. The attack therefore optimises the image
//! and the code it hopes the reclassifier will find *together* (the reclassifier's descent is
//! replaced by the attacker's own code, as BPDA replaces a non-differentiable step): for a
//! wrong class t, from x = the clean input and z = μ_t,
//!
//! L = ln(‖x − g(z)‖²/τ_dec) + relu(ln(d²_t(z)/τ_enc) − ln(1−m)) + relu(max_{k≠t} z_k − z_t + κ)
//!     + relu(ln(1+m) − ln(d²_y(f(x))/τ_enc))
//!
//! (reconstruct x well from a code inside t's acceptance region that is nearest to μ_t, and
//! make the first stage reject x by moving f(x) out of its true class's region). x takes
//! signed steps in the L∞ ball and `[0, 1]`, z takes Adam steps. Every iterate is scored by
//! the classifier alone (cheap): one it accepts with a wrong label is a win under the whole
//! decision, and the input's first such image is kept. Otherwise the lowest-loss iterate of
//! the input over targets and starts is judged by the deployed decision itself
//! ([`deployed_verdicts`](super::deployed::deployed_verdicts)): the real reclassification, not
//! the attacker's code.

use super::deployed::deployed_verdicts;
use super::{ReclassifyError, ReclassifySettings};
use crate::attack::adaptive::likely_wrong_classes;
use crate::attack::metrics::{verdicts, Verdict};
use crate::attack::objective::Objective;
use crate::attack::project::{ascend, project, random_start, Norm};
use crate::attack::report::SecurityReport;
use crate::attack::results::BoundedRun;
use crate::attack::sampling::SampleSet;
use crate::attack::suite::{judged_run, tidy};
use crate::attack::tensor::{check_inputs, from_device, to_device, BATCH};
use crate::attack::AttackError;
use crate::progress::{task, Progress};
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2, Axis as NdAxis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Settings of the attack through reclassification.
#[derive(Clone, Debug, PartialEq)]
pub struct ThroughReclassification {
    /// L∞ budgets, attacked in increasing order (an input broken at one stays broken, with
    /// the same image, at the larger ones).
    pub eps: Vec<f32>,
    /// Joint steps per start.
    pub steps: usize,
    /// Starts per target: the first from the clean input, the others uniform in the ball.
    pub restarts: usize,
    /// Wrong classes attacked per input (the most likely ones at the clean input).
    pub targets: usize,
    /// Total L∞ path of the image as a multiple of ε (each step is `step_scale·ε/steps`).
    pub step_scale: f32,
    /// Adam learning rate of the attacker's code.
    pub latent_lr: f32,
    /// Hinge margin m: a threshold term switches off once it holds by this fraction.
    pub margin: f32,
    /// Class margin κ of the latent term.
    pub kappa: f32,
    /// The deployed reclassification that judges the result.
    pub reclassify: ReclassifySettings,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for ThroughReclassification {
    /// Budgets 0.1, 0.2, 0.3; 100 steps, one start, 3 targets, step scale 2.5, code learning
    /// rate 0.01, margins 0.1 (the adaptive attack's), the runtime's default reclassification.
    fn default() -> Self {
        Self {
            eps: vec![0.1, 0.2, 0.3],
            steps: 100,
            restarts: 1,
            targets: 3,
            step_scale: 2.5,
            latent_lr: 0.01,
            margin: 0.1,
            kappa: 0.1,
            reclassify: ReclassifySettings::DEFAULT,
            seed: 2019,
        }
    }
}

impl ThroughReclassification {
    /// Checks every setting before any work.
    pub fn validate(&self) -> Result<(), ReclassifyError> {
        for &eps in &self.eps {
            if !(eps.is_finite() && eps >= 0.0) {
                return Err(AttackError::InvalidBudget { eps }.into());
            }
        }
        for (setting, count) in [
            ("steps", self.steps),
            ("restarts", self.restarts),
            ("targets", self.targets),
        ] {
            if count == 0 {
                return Err(AttackError::ZeroCount { setting }.into());
            }
        }
        if !(self.step_scale.is_finite() && self.step_scale >= 0.0) {
            return Err(AttackError::InvalidStepSize {
                step: self.step_scale,
            }
            .into());
        }
        if !(self.latent_lr.is_finite() && self.latent_lr > 0.0) {
            return Err(AttackError::InvalidLearningRate { lr: self.latent_lr }.into());
        }
        self.reclassify
            .validate()
            .map_err(ReclassifyError::Settings)?;
        Ok(())
    }

    /// Checks that `report` attacked the inputs this attack will (the same seed draws the same
    /// sample), so that the two can be combined input by input; reports without a recorded
    /// seed pass.
    pub fn check_report(&self, report: &SecurityReport) -> Result<(), ReclassifyError> {
        match report.seed {
            Some(seed) if seed != self.seed => Err(ReclassifyError::ReportSeed {
                report: seed,
                attack: self.seed,
            }),
            _ => Ok(()),
        }
    }

    /// The settings as JSON, for reports.
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::json!({
            "eps": self.eps,
            "steps": self.steps,
            "restarts": self.restarts,
            "targets": self.targets,
            "step_scale": self.step_scale,
            "latent_lr": self.latent_lr,
            "margin": self.margin,
            "kappa": self.kappa,
            "reclassify": {
                "steps": self.reclassify.steps,
                "learning_rate": self.reclassify.learning_rate,
                "early_stop_tolerance": self.reclassify.early_stop_tolerance,
                "reject_fooling": self.reclassify.reject_fooling,
                "confine_to_class": self.reclassify.confine_to_class,
                "confine_fraction": self.reclassify.confine_fraction,
            },
            "seed": self.seed,
        })
    }

    /// Upper bound of the image-steps the attack takes (its progress total).
    pub fn work(&self, n: usize) -> u64 {
        (n * self.eps.len() * self.targets * self.restarts * self.steps) as u64
    }
}

/// The attack's result at one budget.
#[derive(Clone, Debug)]
pub struct ReclassifiedEps {
    /// The budget.
    pub eps: f32,
    /// The judged image of every input.
    pub images: Array2<f32>,
    /// The deployed decision on each.
    pub verdicts: Vec<Verdict>,
    /// Rows whose image the classifier alone rejects and the reclassification accepts with a
    /// wrong label: the wins that only the second stage gives the attacker.
    pub second_stage_wins: Vec<usize>,
}

/// Runs the attack on `images` with true `labels`; `progress` advances by one per image and
/// step (at most [`ThroughReclassification::work`]).
pub fn attack_through_reclassification<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    options: &ThroughReclassification,
    progress: &dyn Progress,
) -> Result<Vec<ReclassifiedEps>, ReclassifyError> {
    check_inputs(model, images, Some(labels))?;
    options.validate()?;
    let targets = likely_wrong_classes(model, images, labels, options.targets);
    let mut eps = options.eps.clone();
    eps.sort_by(f32::total_cmp);
    let n = images.nrows();
    let mut won: Vec<Option<(Vec<f32>, Verdict)>> = vec![None; n];
    let mut results = Vec::with_capacity(eps.len());
    task(
        progress,
        "through reclassification",
        options.work(n),
        || -> Result<(), ReclassifyError> {
            for (e_index, &e) in eps.iter().enumerate() {
                let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(e_index as u64));
                let active: Vec<usize> = (0..n).filter(|&i| won[i].is_none()).collect();
                let mut best: Vec<(f32, Vec<f32>)> = (0..n)
                    .map(|i| (f32::INFINITY, images.row(i).to_vec()))
                    .collect();
                progress.status(&format!("ε = {e}: descending"));
                for restart in 0..options.restarts {
                    for rank in 0..options.targets {
                        for chunk in active.chunks(BATCH) {
                            let chunk: Vec<usize> = chunk
                                .iter()
                                .copied()
                                .filter(|&i| {
                                    targets[i].len() > rank && best[i].0 > f32::NEG_INFINITY
                                })
                                .collect();
                            let t: Vec<usize> = chunk.iter().map(|&i| targets[i][rank]).collect();
                            let job = Job {
                                eps: e,
                                restart,
                                chunk: &chunk,
                                targets: &t,
                            };
                            job.run(
                                model, images, labels, options, &mut rng, &mut best, progress,
                            );
                        }
                    }
                }
                let mut judged = images.to_owned();
                for i in 0..n {
                    let row = won[i].as_ref().map_or(&best[i].1, |(image, _)| image);
                    judged
                        .row_mut(i)
                        .assign(&ndarray::ArrayView1::from(row.as_slice()));
                }
                progress.status(&format!(
                    "ε = {e}: judging {} inputs by the decision with reclassification",
                    active.len()
                ));
                let fresh = deployed_verdicts(
                    model,
                    judged.select(NdAxis(0), &active).view(),
                    &options.reclassify,
                )?;
                let mut decided: Vec<Option<Verdict>> =
                    won.iter().map(|w| w.as_ref().map(|(_, v)| *v)).collect();
                for (&i, verdict) in active.iter().zip(fresh) {
                    if verdict.accepted && verdict.prediction != labels[i] {
                        won[i] = Some((judged.row(i).to_vec(), verdict));
                    }
                    decided[i] = Some(verdict);
                }
                let first_stage = verdicts(model, judged.view());
                let decided: Vec<Verdict> = decided.into_iter().flatten().collect();
                let second_stage_wins = (0..n)
                    .filter(|&i| {
                        let v = decided[i];
                        v.accepted && v.prediction != labels[i] && !first_stage[i].accepted
                    })
                    .collect();
                results.push(ReclassifiedEps {
                    eps: e,
                    images: judged,
                    verdicts: decided,
                    second_stage_wins,
                });
            }
            Ok(())
        },
    )?;
    Ok(results)
}

/// The attack on `set` as a bounded run (kind `reclassify`), every image judged by the
/// deployed decision with reclassification, the clean inputs too; reported to `progress` as
/// the task `through reclassification`. Its settings list, per budget, the test indices of the
/// wins only the second stage gave (`second_stage_wins`).
pub fn run_through_reclassification<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    options: &ThroughReclassification,
    progress: &dyn Progress,
) -> Result<BoundedRun, ReclassifyError> {
    let start = Instant::now();
    let results =
        attack_through_reclassification(model, set.images.view(), &set.labels, options, progress)?;
    let clean = deployed_verdicts(model, set.images.view(), &options.reclassify)?;
    let second_stage: Vec<Vec<usize>> = results
        .iter()
        .map(|r| {
            r.second_stage_wins
                .iter()
                .map(|&i| set.indices[i])
                .collect()
        })
        .collect();
    let mut settings = options.settings_json();
    settings["second_stage_wins"] = serde_json::json!(second_stage);
    let judged = results
        .into_iter()
        .map(|r| (r.eps, r.images, r.verdicts))
        .collect();
    Ok(judged_run(
        model,
        set,
        "reclassify",
        "Joint image and code descent through reclassification (decision with reclassification)",
        Norm::Linf,
        clean,
        judged,
        tidy(settings),
        start,
    ))
}

/// One start against one target for a batch of inputs at one budget.
struct Job<'a> {
    eps: f32,
    restart: usize,
    /// Rows of the inputs attacked.
    chunk: &'a [usize],
    /// Each one's target class.
    targets: &'a [usize],
}

impl Job<'_> {
    /// Runs the joint descent and keeps, per input, the lowest-loss image in `best`, or the
    /// first image the classifier alone accepts with a wrong label (kept with loss −∞).
    #[allow(clippy::too_many_arguments)]
    fn run<D: Device<f32>>(
        &self,
        model: &TrainedModel<D>,
        images: ArrayView2<f32>,
        labels: &[usize],
        options: &ThroughReclassification,
        rng: &mut ChaCha8Rng,
        best: &mut [(f32, Vec<f32>)],
        progress: &dyn Progress,
    ) {
        if self.chunk.is_empty() {
            return;
        }
        let objective = Objective::new(model);
        let dev = model.network.device();
        let cal = &model.calibration;
        let clean = images.select(NdAxis(0), self.chunk);
        let truth: Vec<usize> = self.chunk.iter().map(|&i| labels[i]).collect();
        let target_means = objective.class_means(self.targets);
        let true_means = objective.class_means(&truth);
        let mut x = if self.restart > 0 {
            random_start(clean.view(), Norm::Linf, self.eps, rng)
        } else {
            clean.clone()
        };
        let mut z = target_means.clone();
        let (mut m, mut v) = (Array2::zeros(z.dim()), Array2::zeros(z.dim()));
        let adam = ReclassifySettings {
            learning_rate: options.latent_lr,
            ..ReclassifySettings::DEFAULT
        };
        let (mut b1t, mut b2t) = (1.0f32, 1.0f32);
        let hinge = (1.0 - options.margin.clamp(0.0, 0.99)).ln();
        let outside = (1.0 + options.margin.max(0.0)).ln();
        let (tau_enc, tau_dec, kappa) = (cal.tau_enc, cal.tau_dec, options.kappa);
        let step = options.step_scale * self.eps / options.steps as f32;
        for it in 0..=options.steps {
            let xd = to_device(dev, x.view());
            let zd = to_device(dev, z.view());
            let xt = xd.clone().traced(Gradients::leaky());
            let zt = zd.clone().traced(Gradients::leaky());
            let first_stage = objective.encode(xt.with_empty_tape());
            let true_distance = objective.mahalanobis_sq(first_stage, true_means.view(), &truth);
            let rec = objective.reconstruction_error(xt, zt.with_empty_tape());
            let target_distance =
                objective.mahalanobis_sq(zt.with_empty_tape(), target_means.view(), self.targets);
            let margin = objective.margin(zt, self.targets);
            let loss = (rec * (1.0 / tau_dec) + 1e-6).ln()
                + ((target_distance * (1.0 / tau_enc) + 1e-6).ln() - hinge).relu()
                + (margin + kappa).relu()
                + ((true_distance * (1.0 / tau_enc) + 1e-6).ln().negate() + outside).relu();
            let classified = verdicts(model, x.view());
            for (r, &l) in loss.as_vec().iter().enumerate() {
                let i = self.chunk[r];
                if classified[r].accepted && classified[r].prediction != labels[i] {
                    // Accepted and wrong at the first stage: a win under the whole decision.
                    if best[i].0 > f32::NEG_INFINITY {
                        best[i] = (f32::NEG_INFINITY, x.row(r).to_vec());
                    }
                } else if l.is_finite() && l < best[i].0 {
                    best[i] = (l, x.row(r).to_vec());
                }
            }
            if it == options.steps {
                break;
            }
            let grads = loss.sum().backward();
            let gx = from_device(&grads.get(&xd)).mapv(|g| -g);
            let gz = from_device(&grads.get(&zd));
            ascend(&mut x, gx.view(), Norm::Linf, step);
            project(&mut x, clean.view(), Norm::Linf, self.eps);
            b1t *= adam.beta1;
            b2t *= adam.beta2;
            for ((z, &g), (m, v)) in z.iter_mut().zip(&gz).zip(m.iter_mut().zip(v.iter_mut())) {
                if g.is_finite() {
                    super::adam_step(&adam, 1.0 - b1t, 1.0 - b2t, z, g, m, v);
                }
            }
            progress.advance(self.chunk.len() as u64);
        }
    }
}
