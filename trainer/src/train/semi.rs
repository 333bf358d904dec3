//! Semi-supervised training (paper §3.3): a few labelled images per class trained with Eq. 7,
//! every other training image trained without its label (reconstruction plus the mixture
//! prior term of Eq. 3).
//!
//! Batches mix both kinds: each holds `labeled_per_batch` labelled images and fills the rest
//! with unlabelled ones. An epoch is one pass over the unlabelled images; the labelled images
//! are drawn from a shuffled cycle that restarts (reshuffled) when exhausted, so the small
//! labelled set is revisited many times per epoch while every batch keeps the same share of
//! label information (a batch of unlabelled images alone would let the latent drift away
//! from the class means between labelled batches).

use crate::data::stratify::{indices_by_class, seeded_rng, shuffle};
use crate::data::DataError;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Labelled images per batch of 64 by default: a quarter of the batch.
pub const DEFAULT_LABELED_PER_BATCH: usize = 16;

/// β by default (chosen by the sweep in BENCHMARKS.md).
pub const DEFAULT_PRIOR_WEIGHT: f32 = 200.0;

/// Which encodings calibrate a semi-supervised model by default (chosen by measurement,
/// BENCHMARKS.md).
pub const DEFAULT_CALIBRATE_ON: CalibrationImages = CalibrationImages::Both;

/// How the semi-supervised run is set up.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SemiSupervised {
    /// Labelled training images per class (the paper: 100 on MNIST).
    pub labels_per_class: usize,
    /// Labelled images in each batch (the rest of the batch is unlabelled).
    pub labeled_per_batch: usize,
    /// β, the weight of the mixture prior term of unlabelled images.
    pub prior_weight: f32,
    /// Which encodings calibrate the thresholds.
    pub calibrate_on: CalibrationImages,
}

/// The encodings a semi-supervised model's thresholds are fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalibrationImages {
    /// Only the labelled images, with their labels.
    Labeled,
    /// Every calibration image, each assigned to its nearest class mean (no label used).
    Predicted,
    /// The labelled images with their labels and every other one assigned to its nearest mean.
    Both,
}

crate::choice::choice!(CalibrationImages {
    Labeled => "labeled", "only the labelled images, with their labels";
    Predicted => "predicted", "every calibration image, assigned to its nearest class mean";
    Both => "both", "labelled images with their labels, the others assigned to their nearest mean";
});

impl SemiSupervised {
    /// Checks the settings against the batch size before any work: at least one labelled
    /// image per class, at least one labelled and one unlabelled slot per batch, and a finite,
    /// non-negative β.
    pub fn validate(&self, batch_size: usize) -> Result<(), super::TrainError> {
        if self.labels_per_class == 0 {
            return Err(super::TrainError::LabelsPerClass(0));
        }
        if self.labeled_per_batch == 0 || self.labeled_per_batch >= batch_size {
            return Err(super::TrainError::LabeledPerBatch {
                value: self.labeled_per_batch,
                batch_size,
            });
        }
        if !(self.prior_weight.is_finite() && self.prior_weight >= 0.0) {
            return Err(super::TrainError::PriorWeight(self.prior_weight));
        }
        Ok(())
    }
}

/// The labelled images of a run: for each class in order, its indices in `labels` are
/// shuffled with one `seeded_rng(seed)` and the first `per_class` kept; returned in increasing
/// order. Fails when a class has fewer than `per_class` images or when no image would be left
/// unlabelled.
pub fn labeled_subset(labels: &[u8], per_class: usize, seed: u64) -> Result<Vec<usize>, DataError> {
    let by_class = indices_by_class(labels);
    let mut rng = seeded_rng(seed);
    let mut chosen = Vec::with_capacity(per_class.saturating_mul(by_class.len()).min(labels.len()));
    for (class, mut members) in by_class.into_iter().enumerate() {
        if members.len() < per_class {
            return Err(DataError::TooFewOfClass {
                class,
                available: members.len(),
                wanted: per_class,
            });
        }
        shuffle(&mut members, &mut rng);
        chosen.extend_from_slice(&members[..per_class]);
    }
    if chosen.len() >= labels.len() {
        return Err(DataError::NothingUnlabeled {
            labeled: chosen.len(),
        });
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// One epoch's batches: each is `(indices, labelled)` with the first `labelled` indices
/// labelled. The unlabelled images (every index of `0..len` not in `labeled`) are shuffled and
/// taken `batch_size − labeled_per_batch` at a time; each batch's labelled images come from
/// a cycle over `labeled`, reshuffled at every restart.
pub fn epoch_batches(
    len: usize,
    labeled: &[usize],
    batch_size: usize,
    labeled_per_batch: usize,
    rng: &mut impl Rng,
) -> Vec<(Vec<usize>, usize)> {
    let mut is_labeled = vec![false; len];
    for &i in labeled {
        if let Some(flag) = is_labeled.get_mut(i) {
            *flag = true;
        }
    }
    let mut unlabeled: Vec<usize> = (0..len).filter(|&i| !is_labeled[i]).collect();
    unlabeled.shuffle(rng);
    let per_batch = batch_size.saturating_sub(labeled_per_batch).max(1);
    let mut cycle: Vec<usize> = Vec::new();
    let mut batches = Vec::with_capacity(unlabeled.len().div_ceil(per_batch));
    for chunk in unlabeled.chunks(per_batch) {
        let mut indices = Vec::with_capacity(labeled_per_batch + chunk.len());
        while indices.len() < labeled_per_batch && !labeled.is_empty() {
            if cycle.is_empty() {
                cycle = labeled.to_vec();
                cycle.shuffle(rng);
            }
            if let Some(i) = cycle.pop() {
                indices.push(i);
            }
        }
        let count = indices.len();
        indices.extend_from_slice(chunk);
        batches.push((indices, count));
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn labels() -> Vec<u8> {
        (0..300).map(|i| ((i * 7) % 3) as u8).collect()
    }

    #[test]
    fn the_labelled_subset_is_stratified_seeded_and_sorted() {
        let labels = labels();
        let chosen = labeled_subset(&labels, 5, 9).unwrap();
        assert_eq!(chosen.len(), 15);
        assert!(chosen.windows(2).all(|w| w[0] < w[1]));
        for class in 0..3u8 {
            assert_eq!(chosen.iter().filter(|&&i| labels[i] == class).count(), 5);
        }
        assert_eq!(labeled_subset(&labels, 5, 9).unwrap(), chosen);
        assert_ne!(labeled_subset(&labels, 5, 10).unwrap(), chosen);
        // A smaller subset with the same seed is not a prefix rule over indices: it is the
        // first 4 of the same per-class shuffles.
        let four = labeled_subset(&labels, 4, 9).unwrap();
        assert!(four.iter().all(|i| chosen.contains(i)));
        assert!(matches!(
            labeled_subset(&labels, 101, 9),
            Err(DataError::TooFewOfClass {
                wanted: 101,
                available: 100,
                ..
            })
        ));
        assert!(matches!(
            labeled_subset(&labels, 100, 9),
            Err(DataError::NothingUnlabeled { labeled: 300 })
        ));
    }

    #[test]
    fn an_epoch_visits_every_unlabelled_image_once_and_cycles_the_labelled_ones() {
        let labeled: Vec<usize> = vec![3, 10, 20];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let batches = epoch_batches(50, &labeled, 8, 2, &mut rng);
        // 47 unlabelled images, 6 per batch.
        assert_eq!(batches.len(), 8);
        let mut unlabeled_seen: Vec<usize> = Vec::new();
        let mut labeled_seen: Vec<usize> = Vec::new();
        for (indices, count) in &batches {
            assert_eq!(*count, 2);
            labeled_seen.extend_from_slice(&indices[..*count]);
            unlabeled_seen.extend_from_slice(&indices[*count..]);
        }
        unlabeled_seen.sort_unstable();
        let expected: Vec<usize> = (0..50).filter(|i| !labeled.contains(i)).collect();
        assert_eq!(unlabeled_seen, expected);
        // 16 labelled draws from a cycle of 3: each image 5 or 6 times, and every whole
        // cycle holds each image once.
        for chunk in labeled_seen.chunks(3).filter(|c| c.len() == 3) {
            let mut sorted = chunk.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, labeled);
        }
    }

    #[test]
    fn settings_are_checked_against_the_batch() {
        let ok = SemiSupervised {
            labels_per_class: 100,
            labeled_per_batch: 16,
            prior_weight: 1.0,
            calibrate_on: CalibrationImages::Both,
        };
        assert!(ok.validate(64).is_ok());
        assert!(ok.validate(16).is_err());
        assert!(SemiSupervised {
            labels_per_class: 0,
            ..ok
        }
        .validate(64)
        .is_err());
        assert!(SemiSupervised {
            labeled_per_batch: 0,
            ..ok
        }
        .validate(64)
        .is_err());
        assert!(SemiSupervised {
            prior_weight: f32::NAN,
            ..ok
        }
        .validate(64)
        .is_err());
        assert!(SemiSupervised {
            prior_weight: -1.0,
            ..ok
        }
        .validate(64)
        .is_err());
    }
}
