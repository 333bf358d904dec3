//! The experiments behind `gmvae reclassify` and `gmvae eval --reclassify`: classify a set
//! with thresholds, reclassify the rejected (or all) samples with either engine, and tally
//! the paper's figures ([`super::report`]).

use super::report::{CleanReport, FgsmRow, FgsmTable, Recovery, RejectedSample};
use super::{autograd, engine, Outcome, ReclassifyError, ReclassifySettings};
use crate::attack::{fgsm_sweep, EncoderLoss};
use crate::infer;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{ArrayView2, Axis as NdAxis};
use serde::Serialize;

/// Which implementation reclassifies.
#[derive(Clone, Debug)]
pub enum Engine {
    /// `gmvae-runtime` on the model file's bytes, one sample per thread.
    Runtime {
        /// The model file.
        bytes: Vec<u8>,
        /// Worker threads.
        threads: usize,
    },
    /// dfdx autograd, batched over samples × starts, on the model's device.
    Dfdx,
}

impl Engine {
    /// Reclassifies every row of `images`.
    pub fn run<D: Device<f32>>(
        &self,
        model: &TrainedModel<D>,
        images: ArrayView2<f32>,
        settings: &ReclassifySettings,
    ) -> Result<Vec<Outcome>, ReclassifyError> {
        match self {
            Engine::Runtime { bytes, threads } => {
                engine::reclassify(bytes, images, settings, *threads)
            }
            Engine::Dfdx => autograd::reclassify(model, images, settings),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Runtime { .. } => "runtime",
            Engine::Dfdx => "dfdx",
        }
    }
}

/// Classification with thresholds of a set of images.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// Nearest-mean predictions.
    pub predictions: Vec<usize>,
    /// Whether each image passed both thresholds.
    pub accepted: Vec<bool>,
}

impl Classified {
    /// Scores `images` with the model's encoder, decoder and thresholds; images of another
    /// size than the model's, and a model whose codes or reconstructions are not finite
    /// (overflowing weights), are errors.
    pub fn new<D: Device<f32>>(
        model: &TrainedModel<D>,
        images: ArrayView2<f32>,
    ) -> Result<Self, ReclassifyError> {
        let expected = model.network.config().pixels();
        if images.ncols() != expected {
            return Err(ReclassifyError::ImageSize {
                found: images.ncols(),
                expected,
            });
        }
        let encoded = infer::encode_and_reconstruct(&model.network, &model.params, images);
        if let Some(index) = encoded.first_non_finite() {
            return Err(ReclassifyError::NonFinite { index });
        }
        let scores = model
            .calibration
            .score(&encoded, model.network.config().classes);
        let accepted = scores
            .mahalanobis_sq
            .iter()
            .zip(&scores.reconstruction_errors)
            .map(|(&m, &e)| model.calibration.accepts(m, e))
            .collect();
        Ok(Self {
            predictions: scores.predictions,
            accepted,
        })
    }

    /// Indices of the rejected images.
    pub fn rejected(&self) -> Vec<usize> {
        (0..self.accepted.len())
            .filter(|&i| !self.accepted[i])
            .collect()
    }

    /// `(correct without thresholds, accepted and correct, accepted and wrong)`.
    pub fn counts(&self, labels: &[usize]) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for ((&p, &a), &y) in self.predictions.iter().zip(&self.accepted).zip(labels) {
            c.0 += usize::from(p == y);
            c.1 += usize::from(a && p == y);
            c.2 += usize::from(a && p != y);
        }
        c
    }
}

/// Reclassified samples: which rows, and what came out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reclassifications {
    /// Row indices of the rejected samples.
    pub rejected: Vec<usize>,
    /// The encoder's nearest-mean label for every row of the evaluated set.
    pub encoder_labels: Vec<usize>,
    /// Row indices into the evaluated set.
    pub indices: Vec<usize>,
    /// One outcome per index.
    pub outcomes: Vec<Outcome>,
}

/// Classifies `images`, reclassifies the rejected ones (or every one with `all`), and
/// reports the recovered clean samples.
pub fn clean_report<D: Device<f32>>(
    model: &TrainedModel<D>,
    dataset: &str,
    images: ArrayView2<f32>,
    labels: &[usize],
    engine: &Engine,
    settings: &ReclassifySettings,
    all: bool,
) -> Result<(CleanReport, Reclassifications), ReclassifyError> {
    let classified = Classified::new(model, images)?;
    let rejected = classified.rejected();
    let indices: Vec<usize> = if all {
        (0..labels.len()).collect()
    } else {
        rejected.clone()
    };
    let outcomes = engine.run(model, images.select(NdAxis(0), &indices).view(), settings)?;
    let of_rejected: Vec<(Outcome, usize)> = indices
        .iter()
        .zip(&outcomes)
        .filter(|(&i, _)| !classified.accepted[i])
        .map(|(&i, o)| (o.clone(), labels[i]))
        .collect();
    let (o, y): (Vec<Outcome>, Vec<usize>) = of_rejected.into_iter().unzip();
    let (correct_unthresholded, accepted_correct, accepted_wrong) = classified.counts(labels);
    let report = CleanReport {
        dataset: dataset.to_owned(),
        samples: labels.len(),
        correct_unthresholded,
        accepted_correct,
        accepted_wrong,
        rejected: rejected.len(),
        recovery: Recovery::tally(&o, &y),
    };
    Ok((
        report,
        Reclassifications {
            rejected,
            encoder_labels: classified.predictions,
            indices,
            outcomes,
        },
    ))
}

/// Table 2: FGSM (against the encoder, the attack module's default loss) at every budget,
/// then reclassification of the rejected adversarial samples (and of all of them with
/// `all`). Each row also says how the same digits *unperturbed* reclassify — the ceiling the
/// attack is measured against: an input the reclassifier gets wrong even without the attack
/// is not the attack's doing.
#[allow(clippy::too_many_arguments)]
pub fn fgsm_table<D: Device<f32>>(
    model: &TrainedModel<D>,
    dataset: &str,
    images: ArrayView2<f32>,
    labels: &[usize],
    eps: &[f32],
    engine: &Engine,
    settings: &ReclassifySettings,
    all: bool,
) -> Result<FgsmTable, ReclassifyError> {
    let adversarial = fgsm_sweep(model, images, labels, eps, EncoderLoss::default())?;
    let mut rows = Vec::new();
    let mut done_per_row = Vec::new();
    for (&e, adv) in eps.iter().zip(&adversarial) {
        let (report, done) =
            clean_report(model, dataset, adv.view(), labels, engine, settings, all)?;
        // With `all`, every row was reclassified, in order.
        let all = all.then(|| Recovery::tally(&done.outcomes, labels));
        rows.push(FgsmRow {
            eps: e,
            samples: report.samples,
            correct_unthresholded: report.correct_unthresholded,
            accepted_correct: report.accepted_correct,
            accepted_wrong: report.accepted_wrong,
            rejected: report.rejected,
            recovery: report.recovery,
            all,
            unperturbed: Recovery::default(),
            per_sample: Vec::new(),
        });
        done_per_row.push(done);
    }
    // The clean originals of every row's rejected samples, reclassified once.
    let mut union: Vec<usize> = done_per_row
        .iter()
        .flat_map(|d| d.rejected.iter().copied())
        .collect();
    union.sort_unstable();
    union.dedup();
    let clean = engine.run(model, images.select(NdAxis(0), &union).view(), settings)?;
    for (row, done) in rows.iter_mut().zip(&done_per_row) {
        // Each rejected row index beside its clean original's outcome, looked up once.
        let originals: Vec<(usize, &Outcome)> = done
            .rejected
            .iter()
            .filter_map(|&i| Some((i, clean.get(union.binary_search(&i).ok()?)?)))
            .collect();
        let (outcomes, truth): (Vec<Outcome>, Vec<usize>) = originals
            .iter()
            .map(|&(i, o)| (o.clone(), labels[i]))
            .unzip();
        row.unperturbed = Recovery::tally(&outcomes, &truth);
        row.per_sample = per_sample(done, &originals, labels);
    }
    Ok(FgsmTable {
        dataset: dataset.to_owned(),
        rows,
    })
}

/// One record per rejected sample of a Table 2 row: its attacked outcome (found among the
/// row's reclassified `indices`) beside its clean original's (`originals`).
fn per_sample(
    done: &Reclassifications,
    originals: &[(usize, &Outcome)],
    labels: &[usize],
) -> Vec<RejectedSample> {
    originals
        .iter()
        .filter_map(|&(i, original)| {
            let attacked = done.outcomes.get(done.indices.binary_search(&i).ok()?)?;
            Some(RejectedSample {
                index: i,
                label: *labels.get(i)?,
                reclassified: attacked.label,
                passes_thresholds: attacked.passes_thresholds,
                unperturbed: original.label,
                encoder_label: done.encoder_labels.get(i).copied(),
                start_losses: attacked.start_losses.clone(),
            })
        })
        .collect()
}
