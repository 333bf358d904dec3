//! Adaptive attacks on the full defended model, following Tramèr et al. 2020 ("On Adaptive
//! Attacks to Adversarial Example Defenses"): L∞-bounded PGD whose loss is the defence's own
//! acceptance rule — be classified as another class t AND pass both thresholds:
//!
//! L = relu(ln(d²_c/τ_enc) − ln(1−m)) + relu(ln(e/τ_dec) − ln(1−m)) + relu(max_{k≠t} z_k − z_t + κ)
//!
//! where d²_c = (f(x) − c)ᵀ P_t (f(x) − c) uses the detector's precision of class t, e is the
//! reconstruction error, and the hinges switch a term off once it is satisfied with margin m.
//! Log scale balances the terms (d² starts hundreds of times over τ_enc, e below τ_dec).
//!
//! Strategies, each with `restarts` starts (the first deterministic, the rest uniformly random
//! in the ball):
//! * **mean** — centre c = μ_t for the `targets` most likely wrong classes of the clean input;
//!   deterministic start = the clean input;
//! * **code** — centre c = f(x′), the latent code of the nearest (L2) accepted, correctly
//!   classified training image x′ of another class (one per class, `targets` nearest classes);
//!   deterministic start = x′ projected onto the ball around x;
//! * **best wrong class** (optional, untargeted) — the same loss with t re-chosen before
//!   every step as the wrong class with the lowest latent part of the loss at f(x) (the first
//!   step aims at the most likely wrong class); one run per start instead of one per target,
//!   so many steps and restarts stay affordable.
//!
//! Every iterate is judged as the deployed model would; the first accepted-and-misclassified
//! iterate is kept (best-iterate retention; with `keep_going`, the run's last winning one)
//! and the input counts as broken. Balls are nested,
//! so an input broken at a smaller ε stays broken (with the same image) at larger ones.

use super::metrics::judge;
use super::objective::{host, input_gradient, Objective};
use super::project::{ascend, distance, project, random_start, sign, Norm};
use super::tensor::{check_budget, check_inputs, BATCH};
use super::AttackError;
use crate::infer;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Settings of the adaptive attack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveOptions {
    /// L∞ budgets, attacked in increasing order.
    pub eps: Vec<f32>,
    /// PGD steps per start.
    pub steps: usize,
    /// Starts per strategy and target (the first deterministic, the rest random).
    pub restarts: usize,
    /// At most this many of the starts for the targeted strategies (`None`: all of them), so
    /// that the untargeted one can take many starts at the cost of one run each (absent in
    /// older records: all).
    #[serde(default)]
    pub targeted_restarts: Option<usize>,
    /// Target classes per targeted strategy (0 with `untargeted`: that strategy alone).
    pub targets: usize,
    /// Also run the latent-code strategy.
    pub codes: bool,
    /// Also run the untargeted best-wrong-class strategy (absent in older records: off).
    #[serde(default)]
    pub untargeted: bool,
    /// Keep stepping after a run's first win and retain its last winning iterate, which lies
    /// deeper inside the wrong class (what a transfer attack needs); off: stop at the first
    /// win (absent in older records: off).
    #[serde(default)]
    pub keep_going: bool,
    /// Step size α = `step_scale`·ε/`steps` (Madry et al. use 2.5).
    pub step_scale: f32,
    /// Hinge margin m: aim for d² ≤ (1−m)·τ_enc and e ≤ (1−m)·τ_dec.
    pub margin: f32,
    /// Latent class margin κ.
    pub kappa: f32,
    /// Seed of the random starts.
    pub seed: u64,
    /// How the step length moves over a run's steps.
    #[serde(default)]
    pub schedule: StepSchedule,
}

/// The step-length rule of the adaptive attack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepSchedule {
    /// PGD: the same signed step `step_scale·ε/steps` throughout.
    #[default]
    Constant,
    /// APGD (Croce & Hein 2020): per input, a step of 2ε halved at checkpoints where the loss
    /// improved on fewer than 75 % of the steps since the last one (or neither the step nor
    /// the best loss changed), restarting from the best point; momentum 0.75.
    Apgd,
}

crate::choice::choice!(StepSchedule {
    Constant => "pgd", "PGD: a constant step of step_scale·ε/steps";
    Apgd => "apgd", "APGD: step 2ε halved at checkpoints, from the best point, momentum 0.75";
});

/// APGD's checkpoints for a run of `steps` steps: ⌈p_j·steps⌉ with p_0 = 0, p_1 = 0.22,
/// p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06).
pub fn apgd_checkpoints(steps: usize) -> Vec<usize> {
    let (mut previous, mut current) = (0.0f64, 0.22f64);
    let mut out = Vec::new();
    while current <= 1.0 {
        // (less a hair, so that 0.41·100 is 41 and not 42 by rounding)
        let at = (current * steps as f64 - 1e-9).ceil() as usize;
        if at > 0 && out.last() != Some(&at) {
            out.push(at);
        }
        let next = current + (current - previous - 0.03).max(0.06);
        previous = current;
        current = next;
    }
    out
}

/// APGD's momentum α.
const APGD_MOMENTUM: f32 = 0.75;
/// APGD's share ρ of improving steps below which the step is halved.
const APGD_RHO: f64 = 0.75;

impl Default for AdaptiveOptions {
    fn default() -> Self {
        Self {
            eps: vec![0.1, 0.2, 0.3],
            steps: 40,
            restarts: 2,
            targeted_restarts: None,
            targets: 3,
            codes: true,
            untargeted: false,
            keep_going: false,
            step_scale: 2.5,
            margin: 0.1,
            kappa: 0.1,
            seed: 2019,
            schedule: StepSchedule::Constant,
        }
    }
}

/// Training images the code strategy may aim at.
pub struct CodePool<'a> {
    /// Pixels, `(n, pixels)`.
    pub images: ArrayView2<'a, f32>,
    /// True classes.
    pub labels: &'a [usize],
}

/// The result at one budget.
#[derive(Clone, Debug)]
pub struct AdaptiveEps {
    /// The budget.
    pub eps: f32,
    /// Per input: the retained winning iterate, else the lowest-loss iterate of any run.
    pub images: Array2<f32>,
    /// Per input: the strategy that broke it (e.g. `code t=7 start 0`), if any.
    pub won_by: Vec<Option<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Strategy {
    Mean,
    Code,
    BestWrong,
}

impl Strategy {
    /// Every strategy, in the order they run.
    const ALL: [Strategy; 3] = [Strategy::Mean, Strategy::Code, Strategy::BestWrong];

    /// Whether `options` run this strategy.
    fn enabled(self, options: &AdaptiveOptions) -> bool {
        match self {
            Strategy::Mean => true,
            Strategy::Code => options.codes,
            Strategy::BestWrong => options.untargeted,
        }
    }

    /// Its starts: all of them for the untargeted strategy, at most `targeted_restarts` for
    /// the targeted ones.
    fn starts(self, options: &AdaptiveOptions) -> usize {
        match self {
            Strategy::Mean | Strategy::Code => options
                .targeted_restarts
                .map_or(options.restarts, |r| r.min(options.restarts)),
            Strategy::BestWrong => options.restarts,
        }
    }

    /// Runs per start: one per target class, one for the untargeted strategy.
    fn runs(self, options: &AdaptiveOptions) -> usize {
        match self {
            Strategy::Mean | Strategy::Code => options.targets,
            Strategy::BestWrong => 1,
        }
    }

    /// How it is named in a winning iterate's label.
    fn name(self) -> &'static str {
        match self {
            Strategy::Mean => "mean",
            Strategy::Code => "code",
            Strategy::BestWrong => "best-wrong",
        }
    }
}

/// Per-input targets of both strategies.
struct Targets {
    mean_classes: Vec<Vec<usize>>,
    code_classes: Vec<Vec<usize>>,
    code_images: Vec<Vec<Vec<f32>>>,
    code_latents: Vec<Vec<Vec<f32>>>,
}

impl AdaptiveOptions {
    /// Checks the settings before any work: at least one step and restart, at least one
    /// target unless the untargeted strategy runs (it may run alone), and finite
    /// non-negative budgets.
    pub fn validate(&self) -> Result<(), AttackError> {
        let targets = if self.untargeted { 1 } else { self.targets };
        for (setting, count) in [
            ("steps", self.steps),
            ("restarts", self.restarts),
            ("targets", targets),
        ] {
            if count == 0 {
                return Err(AttackError::ZeroCount { setting });
            }
        }
        if self.targeted_restarts == Some(0) {
            return Err(AttackError::ZeroCount {
                setting: "targeted restarts",
            });
        }
        for &e in &self.eps {
            check_budget(e)?;
        }
        Ok(())
    }
}

/// Runs the adaptive attack on `images` with true `labels`; `progress` advances by one per image
/// and step taken (at most [`work`] in all: inputs already broken are not attacked further).
pub fn adaptive<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    pool: &CodePool<'_>,
    options: &AdaptiveOptions,
    progress: &dyn Progress,
) -> Result<Vec<AdaptiveEps>, AttackError> {
    check_inputs(model, images, Some(labels))?;
    check_inputs(model, pool.images, Some(pool.labels))?;
    options.validate()?;
    let targets = choose_targets(model, images, labels, pool, options);
    let mut eps = options.eps.clone();
    eps.sort_by(f32::total_cmp);
    let n = images.nrows();
    let mut won: Vec<Option<(Vec<f32>, String)>> = vec![None; n];
    let mut results = Vec::with_capacity(eps.len());
    for (e_index, &e) in eps.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(e_index as u64));
        let mut best: Vec<(f32, Vec<f32>)> = (0..n)
            .map(|i| (f32::INFINITY, images.row(i).to_vec()))
            .collect();
        for restart in 0..options.restarts {
            for strategy in Strategy::ALL {
                if !strategy.enabled(options) || restart >= strategy.starts(options) {
                    continue;
                }
                for rank in 0..strategy.runs(options) {
                    let active: Vec<usize> = (0..n)
                        .filter(|&i| {
                            won[i].is_none() && target_of(&targets, strategy, i, rank).is_some()
                        })
                        .collect();
                    for chunk in active.chunks(BATCH) {
                        let run = Run {
                            strategy,
                            rank,
                            restart,
                            eps: e,
                        };
                        run.attack(
                            model, images, labels, &targets, chunk, options, &mut rng, &mut won,
                            &mut best, progress,
                        );
                    }
                }
            }
        }
        let mut adv = images.to_owned();
        let mut won_by = vec![None; n];
        for i in 0..n {
            let row = match &won[i] {
                Some((image, name)) => {
                    won_by[i] = Some(name.clone());
                    image
                }
                None => &best[i].1,
            };
            adv.row_mut(i)
                .assign(&ndarray::ArrayView1::from(row.as_slice()));
        }
        results.push(AdaptiveEps {
            eps: e,
            images: adv,
            won_by,
        });
    }
    Ok(results)
}

/// Upper bound of the image-steps the attack may take: the total of its progress task.
pub fn work(n: usize, options: &AdaptiveOptions) -> u64 {
    let runs: usize = Strategy::ALL
        .iter()
        .filter(|s| s.enabled(options))
        .map(|s| s.starts(options) * s.runs(options))
        .sum();
    (n * options.eps.len() * runs * options.steps) as u64
}

fn target_of(targets: &Targets, strategy: Strategy, i: usize, rank: usize) -> Option<usize> {
    match strategy {
        Strategy::Mean => targets.mean_classes[i].get(rank).copied(),
        Strategy::Code => targets.code_classes[i].get(rank).copied(),
        // One run; its first step aims at the most likely wrong class.
        Strategy::BestWrong => (rank == 0)
            .then(|| targets.mean_classes[i].first().copied())
            .flatten(),
    }
}

/// One strategy, target rank and start, on one batch of inputs.
struct Run {
    strategy: Strategy,
    rank: usize,
    restart: usize,
    eps: f32,
}

impl Run {
    #[allow(clippy::too_many_arguments)]
    fn attack<D: Device<f32>>(
        &self,
        model: &TrainedModel<D>,
        images: ArrayView2<f32>,
        labels: &[usize],
        targets: &Targets,
        chunk: &[usize],
        options: &AdaptiveOptions,
        rng: &mut ChaCha8Rng,
        won: &mut [Option<(Vec<f32>, String)>],
        best: &mut [(f32, Vec<f32>)],
        progress: &dyn Progress,
    ) {
        let objective = Objective::new(model);
        let cal = &model.calibration;
        let classes = model.network.config().classes;
        let clean = images.select(Axis(0), chunk);
        let mut t: Vec<usize> = chunk
            .iter()
            .filter_map(|&i| target_of(targets, self.strategy, i, self.rank))
            .collect();
        let latent = model.network.config().latent;
        let mut centres = match self.strategy {
            Strategy::Mean | Strategy::BestWrong => objective.class_means(&t),
            Strategy::Code => Array2::from_shape_fn((chunk.len(), latent), |(r, j)| {
                targets.code_latents[chunk[r]][self.rank][j]
            }),
        };
        let mut x = if self.restart > 0 {
            random_start(clean.view(), Norm::Linf, self.eps, rng)
        } else {
            match self.strategy {
                Strategy::Mean | Strategy::BestWrong => clean.clone(),
                Strategy::Code => {
                    let mut start = Array2::from_shape_fn(clean.dim(), |(r, j)| {
                        targets.code_images[chunk[r]][self.rank][j]
                    });
                    project(&mut start, clean.view(), Norm::Linf, self.eps);
                    start
                }
            }
        };
        let strategy = self.strategy.name();
        let step = options.step_scale * self.eps / options.steps as f32;
        let hinge = (1.0 - options.margin.clamp(0.0, 0.99)).ln();
        let (tau_enc, tau_dec, kappa) = (cal.tau_enc, cal.tau_dec, options.kappa);
        let mut done = vec![false; chunk.len()];
        let mut apgd = (options.schedule == StepSchedule::Apgd)
            .then(|| Apgd::new(&x, self.eps, options.steps));
        for it in 0..=options.steps {
            let (mut grad, probe) =
                input_gradient(model.network.device(), x.view(), |xt, probe| {
                    let z = objective.encode(xt.with_empty_tape());
                    probe.latents = Some(host(&z));
                    let rec = objective.reconstruction_error(xt, z.with_empty_tape());
                    probe.reconstruction_errors = Some(rec.as_vec());
                    let maha = objective.mahalanobis_sq(z.with_empty_tape(), centres.view(), &t);
                    let margin = objective.margin(z, &t);
                    ((maha * (1.0 / tau_enc) + 1e-6).ln() - hinge).relu()
                        + ((rec * (1.0 / tau_dec) + 1e-6).ln() - hinge).relu()
                        + (margin + kappa).relu()
                });
            if let (Some(z), Some(rec)) = (&probe.latents, &probe.reconstruction_errors) {
                for (r, &i) in chunk.iter().enumerate() {
                    if done[r] {
                        continue;
                    }
                    let verdict = judge(cal, classes, z.row(r), rec[r]);
                    if verdict.accepted && verdict.prediction != labels[i] {
                        let label = format!(
                            "{strategy} target #{} (class {}), start {}, iterate {it}",
                            self.rank + 1,
                            t[r],
                            self.restart
                        );
                        won[i] = Some((x.row(r).to_vec(), label));
                        done[r] = !options.keep_going;
                    } else if probe.loss[r] < best[i].0 {
                        best[i] = (probe.loss[r], x.row(r).to_vec());
                    }
                }
            }
            if it == options.steps || done.iter().all(|&d| d) {
                break;
            }
            if let (Strategy::BestWrong, Some(z)) = (self.strategy, &probe.latents) {
                for (r, &i) in chunk.iter().enumerate() {
                    t[r] = best_wrong_class(cal, classes, z.row(r), labels[i], hinge, kappa);
                }
                centres = objective.class_means(&t);
            }
            grad.mapv_inplace(|g| -g);
            match &mut apgd {
                None => {
                    ascend(&mut x, grad.view(), Norm::Linf, step);
                    project(&mut x, clean.view(), Norm::Linf, self.eps);
                }
                Some(state) => state.step(&mut x, grad.view(), &probe.loss, clean.view(), it),
            }
            progress.advance(chunk.len() as u64);
        }
        debug_assert!(x
            .rows()
            .into_iter()
            .zip(clean.rows())
            .all(|(a, c)| distance(Norm::Linf, a, c) <= self.eps + 1e-5));
    }
}

/// The wrong class (not `label`) with the lowest latent part of the attack's loss at `z`:
/// the Mahalanobis hinge `relu(ln(d²_k/τ_enc) − hinge)` plus the class margin
/// `relu(max_{j≠k} z_j − z_k + κ)` (the reconstruction hinge is the same for every class).
fn best_wrong_class(
    calibration: &crate::calibrate::Calibration,
    classes: usize,
    z: ndarray::ArrayView1<f32>,
    label: usize,
    hinge: f32,
    kappa: f32,
) -> usize {
    let loss = |k: usize| {
        let maha = calibration.mahalanobis_sq(z, k) / calibration.tau_enc + 1e-6;
        let others = (0..classes)
            .filter(|&j| j != k)
            .map(|j| z[j])
            .fold(f32::NEG_INFINITY, f32::max);
        (maha.ln() - hinge).max(0.0) + (others - z[k] + kappa).max(0.0)
    };
    (0..classes)
        .filter(|&k| k != label)
        .map(|k| (loss(k), k))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(label, |(_, k)| k)
}

/// Per-input state of APGD over one run (rows of one batch).
struct Apgd {
    eps: f32,
    checkpoints: Vec<usize>,
    eta: Vec<f32>,
    previous: Array2<f32>,
    best_loss: Vec<f32>,
    best: Array2<f32>,
    last_loss: Vec<f32>,
    improved: Vec<usize>,
    eta_at_checkpoint: Vec<f32>,
    best_at_checkpoint: Vec<f32>,
    last_checkpoint: usize,
}

impl Apgd {
    fn new(x: &Array2<f32>, eps: f32, steps: usize) -> Self {
        let n = x.nrows();
        Self {
            eps,
            checkpoints: apgd_checkpoints(steps),
            eta: vec![2.0 * eps; n],
            previous: x.clone(),
            best_loss: vec![f32::INFINITY; n],
            best: x.clone(),
            last_loss: vec![f32::INFINITY; n],
            improved: vec![0; n],
            eta_at_checkpoint: vec![2.0 * eps; n],
            best_at_checkpoint: vec![f32::INFINITY; n],
            last_checkpoint: 0,
        }
    }

    /// One APGD step at iteration `it` from `x`, whose losses are `loss` and whose ascent
    /// direction is `direction` (the negated loss gradient).
    fn step(
        &mut self,
        x: &mut Array2<f32>,
        direction: ArrayView2<f32>,
        loss: &[f32],
        clean: ArrayView2<f32>,
        it: usize,
    ) {
        for (r, &l) in loss.iter().enumerate() {
            if l < self.last_loss[r] && it > 0 {
                self.improved[r] += 1;
            }
            self.last_loss[r] = l;
            if l < self.best_loss[r] {
                self.best_loss[r] = l;
                self.best.row_mut(r).assign(&x.row(r));
            }
        }
        if self.checkpoints.contains(&it) {
            let since = (it - self.last_checkpoint).max(1) as f64;
            for r in 0..x.nrows() {
                let few = (self.improved[r] as f64) < APGD_RHO * since;
                let stuck = self.eta_at_checkpoint[r] == self.eta[r]
                    && self.best_at_checkpoint[r] == self.best_loss[r];
                if few || stuck {
                    self.eta[r] /= 2.0;
                    x.row_mut(r).assign(&self.best.row(r));
                    self.previous.row_mut(r).assign(&self.best.row(r));
                }
                self.improved[r] = 0;
                self.eta_at_checkpoint[r] = self.eta[r];
                self.best_at_checkpoint[r] = self.best_loss[r];
            }
            self.last_checkpoint = it;
        }
        let current = x.clone();
        for (r, mut row) in x.rows_mut().into_iter().enumerate() {
            let eta = self.eta[r];
            let momentum = if it == 0 { 1.0 } else { APGD_MOMENTUM };
            for (j, value) in row.iter_mut().enumerate() {
                let c = clean[[r, j]];
                let bounded = |v: f32| v.clamp(c - self.eps, c + self.eps).clamp(0.0, 1.0);
                let z = bounded(current[[r, j]] + eta * sign(direction[[r, j]]));
                let previous = self.previous[[r, j]];
                *value = bounded(
                    current[[r, j]]
                        + momentum * (z - current[[r, j]])
                        + (1.0 - momentum) * (current[[r, j]] - previous),
                );
            }
        }
        self.previous = current;
    }
}

/// The `count` wrong classes with the largest class coordinates of f(x) (the nearest wrong
/// class means), most likely first, for every input.
pub fn likely_wrong_classes<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    count: usize,
) -> Vec<Vec<usize>> {
    let classes = model.network.config().classes;
    let latents = infer::encode_images(&model.network, &model.params, images);
    latents
        .rows()
        .into_iter()
        .zip(labels)
        .map(|(z, &y)| {
            let mut others: Vec<usize> = (0..classes).filter(|&k| k != y).collect();
            others.sort_by(|&a, &b| z[b].total_cmp(&z[a]));
            others.truncate(count);
            others
        })
        .collect()
}

/// The target classes of both strategies for every input.
fn choose_targets<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    pool: &CodePool<'_>,
    options: &AdaptiveOptions,
) -> Targets {
    let classes = model.network.config().classes;
    // The untargeted strategy starts from the first, even with no targeted runs.
    let count = options.targets.max(usize::from(options.untargeted));
    let mean_classes = likely_wrong_classes(model, images, labels, count);
    let mut targets = Targets {
        mean_classes,
        code_classes: vec![Vec::new(); images.nrows()],
        code_images: vec![Vec::new(); images.nrows()],
        code_latents: vec![Vec::new(); images.nrows()],
    };
    if !options.codes || options.targets == 0 {
        return targets;
    }
    // Candidates: pool images the model accepts and classifies correctly.
    let verdicts = super::metrics::verdicts(model, pool.images);
    let good: Vec<usize> = (0..pool.images.nrows())
        .filter(|&j| verdicts[j].accepted && verdicts[j].prediction == pool.labels[j])
        .collect();
    let good_images = pool.images.select(Axis(0), &good);
    let good_latents = infer::encode_images(&model.network, &model.params, good_images.view());
    for (i, x) in images.rows().into_iter().enumerate() {
        let mut nearest: Vec<(f32, usize)> = vec![(f32::INFINITY, usize::MAX); classes];
        for (g, &j) in good.iter().enumerate() {
            let class = pool.labels[j];
            if class == labels[i] {
                continue;
            }
            let d = distance(Norm::L2, good_images.row(g), x);
            if d < nearest[class].0 {
                nearest[class] = (d, g);
            }
        }
        let mut order: Vec<usize> = (0..classes)
            .filter(|&k| nearest[k].1 != usize::MAX)
            .collect();
        order.sort_by(|&a, &b| nearest[a].0.total_cmp(&nearest[b].0));
        order.truncate(options.targets);
        for k in order {
            let g = nearest[k].1;
            targets.code_classes[i].push(k);
            targets.code_images[i].push(good_images.row(g).to_vec());
            targets.code_latents[i].push(good_latents.row(g).to_vec());
        }
    }
    targets
}
