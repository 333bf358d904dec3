//! Which test inputs an attack runs on: a seeded, class-stratified subset, so small runs still
//! cover every class and every report attacks the same inputs.

use crate::data::Dataset;
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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

    /// The first `n` inputs (all if fewer).
    pub fn take(&self, n: usize) -> SampleSet {
        let n = n.min(self.len());
        SampleSet {
            indices: self.indices[..n].to_vec(),
            images: self.images.slice(ndarray::s![..n, ..]).to_owned(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// Up to `n` inputs of `test`, drawn class by class in turn from a seeded shuffle (so any
/// prefix is balanced); `n ≥ test.len()` takes the whole split in its own order.
pub fn stratified(test: &Dataset, n: usize, seed: u64) -> SampleSet {
    let indices: Vec<usize> = if n >= test.len() {
        (0..test.len()).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut per_class: Vec<Vec<usize>> = vec![Vec::new(); test.num_classes().max(1)];
        for i in 0..test.len() {
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
