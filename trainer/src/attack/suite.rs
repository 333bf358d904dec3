//! Runs each attack on a sample set and scores it: the shared engine of `gmvae attack` and
//! `gmvae report`.

use super::adaptive::{adaptive, work, AdaptiveOptions, CodePool};
use super::fgsm::fgsm_sweep;
use super::fooling::{fooling, uniform_noise};
use super::metrics::{clean_metrics, judged_outcomes, verdicts, AttackPoint, Verdict};
use super::mim::{mim, MimOptions};
use super::objective::EncoderLoss;
use super::pgd::{pgd, PgdOptions};
use super::project::{distance, Norm};
use super::results::{BoundedRun, Examples, PairOutcome, TargetedRun};
use super::sampling::SampleSet;
use super::square::{square, SquareOptions};
use super::whitebox::{whitebox, wins, Optimised, WhiteboxOptions};
use super::AttackError;
use crate::infer;
use crate::progress::{task, Progress};
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};
use std::time::Instant;

/// An f32 setting as the f64 with the same shortest decimal form (0.3, not 0.30000001…).
pub fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// Settings JSON with every non-integer number shortened as an f32 (see [`widen`]).
pub fn tidy(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => n
            .as_f64()
            .and_then(|f| serde_json::Number::from_f64(widen(f as f32)))
            .map_or(Value::Number(n), Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(tidy).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, tidy(v))).collect()),
        other => other,
    }
}

/// Images shown in each example grid.
pub const EXAMPLES: usize = 10;

/// Runs `work` as the task `label` of `total` image-steps (one image through one step) on
/// `progress`, with the status `image-steps` naming the unit.
fn image_steps<T>(progress: &dyn Progress, label: &str, total: u64, work: impl FnOnce() -> T) -> T {
    task(progress, label, total, || {
        progress.status("image-steps");
        work()
    })
}

/// FGSM on the encoder at every budget of `eps`.
pub fn run_fgsm<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    eps: &[f32],
    loss: EncoderLoss,
) -> Result<BoundedRun, AttackError> {
    let start = Instant::now();
    let adv = fgsm_sweep(model, set.images.view(), &set.labels, eps, loss)?;
    let pairs: Vec<(f32, Array2<f32>)> = eps.iter().copied().zip(adv).collect();
    let settings = tidy(serde_json::json!({ "eps": eps, "loss": loss, "labels": "true" }));
    Ok(bounded(
        model,
        set,
        "fgsm",
        "FGSM on the encoder",
        Norm::Linf,
        pairs,
        settings,
        start,
    ))
}

/// PGD on the encoder at every budget of `eps` (other settings from `options`), reported to
/// `progress` as the task `kind`.
pub fn run_pgd<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    kind: &str,
    eps: &[f32],
    options: &PgdOptions,
    progress: &dyn Progress,
) -> Result<BoundedRun, AttackError> {
    let start = Instant::now();
    let total = (set.len() * options.steps * eps.len()) as u64;
    let pairs = image_steps(progress, kind, total, || {
        eps.iter()
            .map(|&e| {
                let o = PgdOptions { eps: e, ..*options };
                pgd(model, set.images.view(), &set.labels, &o, progress).map(|adv| (e, adv))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let title = format!(
        "PGD-{} on the encoder ({} steps of {}{})",
        match options.norm {
            Norm::Linf => "L∞",
            Norm::L2 => "L2",
        },
        options.steps,
        widen(options.step),
        if options.random_start {
            ", random start"
        } else {
            ""
        }
    );
    let settings = tidy(serde_json::json!({ "eps": eps, "options": options }));
    Ok(bounded(
        model,
        set,
        kind,
        &title,
        options.norm,
        pairs,
        settings,
        start,
    ))
}

/// MIM on the encoder at every budget of `eps`, reported to `progress` as the task `mim`.
pub fn run_mim<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    eps: &[f32],
    options: &MimOptions,
    progress: &dyn Progress,
) -> Result<BoundedRun, AttackError> {
    let start = Instant::now();
    let total = (set.len() * options.steps * eps.len()) as u64;
    let pairs = image_steps(progress, "mim", total, || {
        eps.iter()
            .map(|&e| {
                let o = MimOptions { eps: e, ..*options };
                mim(model, set.images.view(), &set.labels, &o, progress).map(|adv| (e, adv))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let settings = tidy(serde_json::json!({ "eps": eps, "options": options }));
    Ok(bounded(
        model,
        set,
        "mim",
        "MIM on the encoder",
        options.norm,
        pairs,
        settings,
        start,
    ))
}

/// The adaptive attack on the full defended model, reported to `progress` as the task
/// `adaptive`.
pub fn run_adaptive<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    pool: &CodePool<'_>,
    options: &AdaptiveOptions,
    progress: &dyn Progress,
) -> Result<BoundedRun, AttackError> {
    let start = Instant::now();
    let results = image_steps(progress, "adaptive", work(set.len(), options), || {
        adaptive(
            model,
            set.images.view(),
            &set.labels,
            pool,
            options,
            progress,
        )
    })?;
    let won_by: Vec<Vec<Option<String>>> = results.iter().map(|r| r.won_by.clone()).collect();
    let pairs = results.into_iter().map(|r| (r.eps, r.images)).collect();
    let settings = tidy(serde_json::json!({ "options": options, "won_by": won_by }));
    Ok(bounded(
        model,
        set,
        "adaptive",
        "Adaptive L∞ PGD on the full defended model",
        Norm::Linf,
        pairs,
        settings,
        start,
    ))
}

/// A transfer attack: the adaptive attack ([`adaptive`]) run on an independently trained
/// `source` model (with `source_pool`, that model's code targets), each budget's images then
/// scored on `model`. The source keeps stepping after its first win (`keep_going`), so the
/// transferred images lie deep inside the wrong class of the source. Refused
/// ([`check_transfer_source`]) when the two models do not take the same images or were trained
/// on different datasets.
pub fn run_transfer<D: Device<f32>>(
    model: &TrainedModel<D>,
    source: &TrainedModel<D>,
    set: &SampleSet,
    source_pool: &CodePool<'_>,
    options: &AdaptiveOptions,
    progress: &dyn Progress,
) -> Result<BoundedRun, AttackError> {
    check_transfer_source(model, source)?;
    let start = Instant::now();
    let options = AdaptiveOptions {
        keep_going: true,
        ..options.clone()
    };
    let results = image_steps(progress, "transfer", work(set.len(), &options), || {
        adaptive(
            source,
            set.images.view(),
            &set.labels,
            source_pool,
            &options,
            progress,
        )
    })?;
    let source_wins: Vec<usize> = results
        .iter()
        .map(|r| r.won_by.iter().filter(|w| w.is_some()).count())
        .collect();
    let pairs = results.into_iter().map(|r| (r.eps, r.images)).collect();
    let settings = tidy(serde_json::json!({
        "options": options,
        "broken_on_source": source_wins,
    }));
    Ok(bounded(
        model,
        set,
        "transfer",
        "Transfer: the adaptive attack on an independently trained model, scored on this one",
        Norm::Linf,
        pairs,
        settings,
        start,
    ))
}

/// Refuses a transfer source that takes other images, has other classes, or was trained on
/// another dataset than `model`.
pub fn check_transfer_source<D: Device<f32>>(
    model: &TrainedModel<D>,
    source: &TrainedModel<D>,
) -> Result<(), AttackError> {
    let (ours, theirs) = (model.network.config(), source.network.config());
    if (ours.in_channels, ours.height, ours.width, ours.classes)
        != (
            theirs.in_channels,
            theirs.height,
            theirs.width,
            theirs.classes,
        )
    {
        return Err(AttackError::TransferShape);
    }
    if source.dataset != model.dataset {
        return Err(AttackError::TransferDataset {
            source_dataset: source.dataset.clone(),
            attacked: model.dataset.clone(),
        });
    }
    Ok(())
}

/// The Square attack ([`square`]) on `set`, scored at each of its budgets.
pub fn run_square<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    options: &SquareOptions,
    progress: &dyn Progress,
) -> Result<BoundedRun, AttackError> {
    let start = Instant::now();
    let total = (set.len() * options.eps.len()) as u64;
    let results = task(progress, "square", total, || {
        square(model, set.images.view(), &set.labels, options, progress)
    })?;
    let broken: Vec<usize> = results
        .iter()
        .map(|r| r.broken.iter().filter(|&&b| b).count())
        .collect();
    let pairs = results.into_iter().map(|r| (r.eps, r.images)).collect();
    let settings = tidy(serde_json::json!({ "options": options, "broken": broken }));
    Ok(bounded(
        model,
        set,
        "square",
        "Square attack (gradient-free, L∞) on the full defended model",
        Norm::Linf,
        pairs,
        settings,
        start,
    ))
}

#[allow(clippy::too_many_arguments)]
fn bounded<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    kind: &str,
    title: &str,
    norm: Norm,
    adversarial: Vec<(f32, Array2<f32>)>,
    settings: serde_json::Value,
    start: Instant,
) -> BoundedRun {
    let clean = verdicts(model, set.images.view());
    let judged = adversarial
        .into_iter()
        .map(|(e, adv)| {
            let v = verdicts(model, adv.view());
            (e, adv, v)
        })
        .collect();
    judged_run(
        model, set, kind, title, norm, clean, judged, settings, start,
    )
}

/// A bounded run from verdicts already reached (by the deployed decision, which may be more
/// than the classifier): `clean` on the set's inputs, and per budget the adversarial images
/// with one verdict each.
#[allow(clippy::too_many_arguments)]
pub fn judged_run<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    kind: &str,
    title: &str,
    norm: Norm,
    clean: Vec<Verdict>,
    adversarial: Vec<(f32, Array2<f32>, Vec<Verdict>)>,
    settings: serde_json::Value,
    start: Instant,
) -> BoundedRun {
    let cal = &model.calibration;
    let mut points = Vec::new();
    let mut all = Vec::new();
    for (e, adv, judged) in &adversarial {
        let o = judged_outcomes(
            judged.clone(),
            set.images.view(),
            adv.view(),
            &set.labels,
            &set.indices,
        );
        points.push(AttackPoint::new(kind, norm, widen(*e), &o, &clean, cal));
        all.push(o);
    }
    let final_images = adversarial
        .last()
        .map_or_else(|| set.images.clone(), |(_, a, _)| a.clone());
    // Example grid: broken inputs first, then the others in order.
    let examples = all.last().map(|o| {
        let mut order: Vec<usize> = (0..o.len()).filter(|&i| o[i].attacker_wins()).collect();
        order.extend((0..o.len()).filter(|&i| !o[i].attacker_wins()));
        order.truncate(EXAMPLES);
        examples_of(model, &final_images, &order, o)
    });
    BoundedRun {
        kind: kind.to_owned(),
        title: title.to_owned(),
        settings,
        samples: set.len(),
        clean: clean_metrics(&clean, &set.labels, cal),
        points,
        outcomes: all,
        seconds: start.elapsed().as_secs_f64(),
        examples,
    }
}

/// The rows `order` of `images` and their reconstructions, captioned with the verdicts.
fn examples_of<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: &Array2<f32>,
    order: &[usize],
    outcomes: &[super::metrics::SampleOutcome],
) -> Examples {
    let picked = images.select(Axis(0), order);
    let recon = reconstruct(model, picked.view());
    Examples {
        images: picked.rows().into_iter().map(|r| r.to_vec()).collect(),
        reconstructions: recon.rows().into_iter().map(|r| r.to_vec()).collect(),
        captions: order
            .iter()
            .map(|&i| {
                let o = &outcomes[i];
                format!(
                    "#{} true {} → {} {}",
                    o.index,
                    o.label,
                    o.verdict.prediction,
                    if o.verdict.accepted {
                        "accepted"
                    } else {
                        "rejected"
                    }
                )
            })
            .collect(),
    }
}

/// g(f(x)) for every row.
pub fn reconstruct<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
) -> Array2<f32> {
    let z = infer::encode_images(&model.network, &model.params, images);
    infer::decode_all(&model.network, &model.params, z.view())
}

/// Eq. 10 from every input of `set` towards each of the other classes, reported to `progress`
/// as the task `whitebox`.
pub fn run_whitebox<D: Device<f32>>(
    model: &TrainedModel<D>,
    set: &SampleSet,
    options: &WhiteboxOptions,
    progress: &dyn Progress,
) -> Result<TargetedRun, AttackError> {
    let start = Instant::now();
    let classes = model.network.config().classes;
    let (mut rows, mut labels, mut targets, mut indices) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, &y) in set.labels.iter().enumerate() {
        for t in (0..classes).filter(|&t| t != y) {
            rows.push(i);
            labels.push(y);
            targets.push(t);
            indices.push(set.indices[i]);
        }
    }
    let x0 = set.images.select(Axis(0), &rows);
    let total = (rows.len() * options.steps) as u64;
    let result = image_steps(progress, "whitebox", total, || {
        whitebox(model, x0.view(), &labels, &targets, options, progress)
    })?;
    let settings = tidy(
        serde_json::json!({ "options": options, "optimiser": "Adam (β1 0.9, β2 0.999) on η from η = 0" }),
    );
    Ok(targeted(
        model,
        "whitebox",
        "White-box targeted attack (Eq. 10)",
        &x0,
        Some(&labels),
        &targets,
        &indices,
        result,
        settings,
        start,
    ))
}

/// Eq. 11 from `n` uniform-noise images towards every class, reported to `progress` as the
/// task `fooling`.
pub fn run_fooling<D: Device<f32>>(
    model: &TrainedModel<D>,
    n: usize,
    seed: u64,
    options: &WhiteboxOptions,
    progress: &dyn Progress,
) -> Result<TargetedRun, AttackError> {
    let start = Instant::now();
    let config = model.network.config();
    let classes = config.classes;
    let noise = uniform_noise(n, config.pixels(), seed);
    let rows: Vec<usize> = (0..n * classes).map(|r| r / classes).collect();
    let targets: Vec<usize> = (0..n * classes).map(|r| r % classes).collect();
    let x0 = noise.select(Axis(0), &rows);
    let total = (rows.len() * options.steps) as u64;
    let result = image_steps(progress, "fooling", total, || {
        fooling(model, &x0, &targets, options, progress)
    })?;
    let settings = tidy(
        serde_json::json!({ "options": options, "noise": "uniform [0,1]", "seed": seed, "optimiser": "Adam (β1 0.9, β2 0.999) on the image" }),
    );
    Ok(targeted(
        model,
        "fooling",
        "Fooling attack from uniform noise (Eq. 11)",
        &x0,
        None,
        &targets,
        &rows,
        result,
        settings,
        start,
    ))
}

#[allow(clippy::too_many_arguments)]
fn targeted<D: Device<f32>>(
    model: &TrainedModel<D>,
    kind: &str,
    title: &str,
    x0: &Array2<f32>,
    labels: Option<&[usize]>,
    targets: &[usize],
    indices: &[usize],
    result: Optimised,
    settings: serde_json::Value,
    start: Instant,
) -> TargetedRun {
    let finals = verdicts(model, result.images.view());
    // Verify retained iterates with the deployed scoring path.
    let kept: Vec<usize> = (0..targets.len())
        .filter(|&i| result.retained[i].is_some())
        .collect();
    let pixels = x0.ncols();
    let retained_images = Array2::from_shape_fn((kept.len(), pixels), |(r, j)| {
        result.retained[kept[r]].as_ref().map_or(0.0, |v| v[j])
    });
    let retained_verdicts = verdicts(model, retained_images.view());
    let mut any: Vec<Option<Verdict>> = vec![None; targets.len()];
    for (r, &i) in kept.iter().enumerate() {
        any[i] = Some(retained_verdicts[r]);
    }
    let pairs: Vec<PairOutcome> = (0..targets.len())
        .map(|i| {
            let source = labels.map(|l| l[i]);
            let final_win = wins(finals[i], source, targets[i]);
            let any_win = final_win || any[i].is_some_and(|v| wins(v, source, targets[i]));
            PairOutcome {
                index: indices[i],
                label: source,
                target: targets[i],
                verdict: finals[i],
                attacker_wins: final_win,
                attacker_wins_any_iterate: any_win,
                l2: distance(Norm::L2, result.images.row(i), x0.row(i)),
                linf: distance(Norm::Linf, result.images.row(i), x0.row(i)),
            }
        })
        .collect();
    // Example grid: wins first, then a spread of targets.
    let mut order: Vec<usize> = (0..pairs.len())
        .filter(|&i| pairs[i].attacker_wins)
        .collect();
    order.extend(
        (0..pairs.len())
            .filter(|&i| !pairs[i].attacker_wins)
            .step_by(pairs.len().div_ceil(EXAMPLES).max(1)),
    );
    order.truncate(EXAMPLES);
    let picked = result.images.select(Axis(0), &order);
    let recon = reconstruct(model, picked.view());
    let examples = Examples {
        images: picked.rows().into_iter().map(|r| r.to_vec()).collect(),
        reconstructions: recon.rows().into_iter().map(|r| r.to_vec()).collect(),
        captions: order
            .iter()
            .map(|&i| {
                let p = &pairs[i];
                format!(
                    "{} target {} → {} {}",
                    p.label
                        .map_or_else(|| "noise".to_string(), |l| format!("true {l}")),
                    p.target,
                    p.verdict.prediction,
                    if p.verdict.accepted {
                        "accepted"
                    } else {
                        "rejected"
                    }
                )
            })
            .collect(),
    };
    TargetedRun::new(
        kind,
        title,
        settings,
        pairs,
        result.loss_trace,
        start.elapsed().as_secs_f64(),
        examples,
    )
}
