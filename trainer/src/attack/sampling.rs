//! Which test inputs an attack runs on: a seeded, class-stratified subset, so small runs still
//! cover every class and every report attacks the same inputs.

use super::AttackError;
use crate::data::Dataset;
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// Attacked inputs: their test indices, pixels and true labels.
#[derive(Clone, Debug)]
pub struct SampleSet {
    /// Indices into the test split.
    pub indices: Vec<usize>,
    /// Pixels, `(n, pixels)`.
    pub images: Array2<f32>,
    /// True classes.
    pub labels: Vec<usize>,
}

impl SampleSet {
    /// The first `n` inputs (all of them if there are fewer).
    pub fn first(&self, n: usize) -> SampleSet {
        let n = n.min(self.len());
        SampleSet {
            indices: self.indices[..n].to_vec(),
            images: self.images.slice(ndarray::s![..n, ..]).to_owned(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Up to `n` inputs of `test`, drawn class by class in turn from a seeded shuffle (so any
/// prefix is balanced); `n ≥ test.len()` takes the whole split in its own order.
pub fn stratified(test: &Dataset, n: usize, seed: u64) -> SampleSet {
    draw(test, n, seed, &BTreeSet::new())
}

/// Like [`stratified`], but only from the inputs outside `seen` (test indices an earlier
/// evaluation showed), so that a fresh evaluation repeats none of them. With nothing seen it
/// draws exactly [`stratified`]'s sample. Fails as [`check_seen`] does.
pub fn stratified_unseen(
    test: &Dataset,
    n: usize,
    seed: u64,
    seen: &BTreeSet<usize>,
) -> Result<SampleSet, AttackError> {
    check_seen(test, seen)?;
    Ok(draw(test, n, seed, seen))
}

/// Checks that `seen` can be set aside from `test`: every index is in it (else the earlier
/// evaluation was of another split) and at least one input is left.
pub fn check_seen(test: &Dataset, seen: &BTreeSet<usize>) -> Result<(), AttackError> {
    if let Some(&index) = seen.range(test.len()..).next() {
        return Err(AttackError::SeenInputs {
            reason: format!(
                "input {index} is not in the test split of {} inputs: the earlier evaluation was of another split",
                test.len()
            ),
        });
    }
    if !seen.is_empty() && seen.len() >= test.len() {
        return Err(AttackError::SeenInputs {
            reason: format!(
                "all {} test inputs were seen: nothing is left to draw from",
                test.len()
            ),
        });
    }
    Ok(())
}

/// The one sampler behind [`stratified`] and [`stratified_unseen`] (`seen` indices are in `test`).
fn draw(test: &Dataset, n: usize, seed: u64, seen: &BTreeSet<usize>) -> SampleSet {
    let unseen = (0..test.len()).filter(|i| !seen.contains(i));
    let indices: Vec<usize> = if n >= test.len().saturating_sub(seen.len()) {
        unseen.collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut per_class: Vec<Vec<usize>> = vec![Vec::new(); test.num_classes().max(1)];
        for i in unseen {
            if let Some(bucket) = per_class.get_mut(usize::from(test.labels[i])) {
                bucket.push(i);
            }
        }
        for bucket in &mut per_class {
            bucket.shuffle(&mut rng);
            bucket.reverse();
        }
        let mut picked = Vec::with_capacity(n);
        while picked.len() < n && per_class.iter().any(|b| !b.is_empty()) {
            for bucket in &mut per_class {
                if picked.len() < n {
                    if let Some(i) = bucket.pop() {
                        picked.push(i);
                    }
                }
            }
        }
        picked
    };
    let subset = test.subset(&indices);
    SampleSet {
        indices,
        images: subset.images,
        labels: subset.labels.iter().map(|&l| usize::from(l)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;

    /// 60 one-pixel images of three classes in turn (image `i` has label `i % 3`).
    fn split() -> Dataset {
        let labels: Vec<u8> = (0..60u8).map(|i| i % 3).collect();
        let shape = ImageShape {
            channels: 1,
            height: 1,
            width: 1,
        };
        let names = ["a", "b", "c"].map(String::from).to_vec();
        Dataset::from_bytes(&(0..60u8).collect::<Vec<_>>(), labels, shape, names).unwrap()
    }

    #[test]
    fn unseen_samples_avoid_the_seen_inputs_and_stay_balanced() {
        let test = split();
        let first = stratified(&test, 12, 5);
        let none = BTreeSet::new();
        assert_eq!(
            stratified_unseen(&test, 12, 5, &none).unwrap().indices,
            first.indices
        );
        let seen: BTreeSet<usize> = first.indices.iter().copied().collect();
        assert_eq!(seen.len(), 12);
        let fresh = stratified_unseen(&test, 12, 5, &seen).unwrap();
        assert_eq!(fresh.len(), 12);
        assert!(fresh.indices.iter().all(|i| !seen.contains(i)));
        for class in 0..3 {
            assert_eq!(fresh.labels.iter().filter(|&&l| l == class).count(), 4);
        }
        // Asking for more than is left takes every unseen input, in the split's order.
        let rest = stratified_unseen(&test, 60, 5, &seen).unwrap();
        let expected: Vec<usize> = (0..60).filter(|i| !seen.contains(i)).collect();
        assert_eq!(rest.indices, expected);
    }

    #[test]
    fn seen_inputs_outside_the_split_or_covering_it_are_refused() {
        let test = split();
        let err = stratified_unseen(&test, 5, 1, &BTreeSet::from([3, 60])).unwrap_err();
        assert!(
            err.to_string()
                .contains("input 60 is not in the test split of 60"),
            "{err}"
        );
        let err = stratified_unseen(&test, 5, 1, &(0..60).collect()).unwrap_err();
        assert!(
            err.to_string().contains("all 60 test inputs were seen"),
            "{err}"
        );
    }
}
