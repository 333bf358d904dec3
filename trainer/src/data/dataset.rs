//! In-memory datasets: images as `f32` rows in `[0, 1]`, labels as class indices.

use super::DataError;
use ndarray::{Array1, Array2, ArrayView1, Axis};

/// The shape of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Colour channels (1 for greyscale).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl ImageShape {
    /// Values per image: `channels * height * width`.
    pub fn pixels(&self) -> usize {
        self.channels * self.height * self.width
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// A labelled set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// One row per image, `shape.pixels()` columns in channel, row, column order; a stored byte
    /// `k` becomes `k / 255`.
    pub images: Array2<f32>,
    /// The class index of each image, each below `class_names.len()`.
    pub labels: Array1<u8>,
    /// The shape of each image.
    pub shape: ImageShape,
    /// Human-readable class names, indexed by label.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Builds a dataset from byte pixels (`k` becomes `k / 255`) and labels.
    ///
    /// Fails if the pixel count is not `labels.len() * shape.pixels()` or a label has no class name.
    pub fn from_bytes(
        pixels: &[u8],
        labels: Vec<u8>,
        shape: ImageShape,
        class_names: Vec<String>,
    ) -> Result<Self, DataError> {
        if let Some(&label) = labels
            .iter()
            .find(|&&l| usize::from(l) >= class_names.len())
        {
            return Err(DataError::InvalidImages {
                reason: format!(
                    "label {label} has no name among {} classes",
                    class_names.len()
                ),
            });
        }
        let values = pixels.iter().map(|&k| f32::from(k) / 255.0).collect();
        let images =
            Array2::from_shape_vec((labels.len(), shape.pixels()), values).map_err(|e| {
                DataError::InvalidImages {
                    reason: format!(
                        "{} pixels for {} images of {shape}: {e}",
                        pixels.len(),
                        labels.len()
                    ),
                }
            })?;
        Ok(Self {
            images,
            labels: Array1::from(labels),
            shape,
            class_names,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes (the length of `class_names`).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The images and labels at `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is `>= self.len()`.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            images: self.images.select(Axis(0), indices),
            labels: self.labels.select(Axis(0), indices),
            shape: self.shape,
            class_names: self.class_names.clone(),
        }
    }

    /// The pixels of image `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`.
    pub fn image(&self, index: usize) -> ArrayView1<'_, f32> {
        self.images.row(index)
    }

    /// How many images each class has, indexed by label (length `num_classes()`); labels without
    /// a class name are not counted.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &label in &self.labels {
            if let Some(count) = counts.get_mut(usize::from(label)) {
                *count += 1;
            }
        }
        counts
    }
}

/// A dataset's training and test parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// A short name for the dataset, e.g. `mnist-10k`.
    pub name: String,
    /// The training part.
    pub train: Dataset,
    /// The test part.
    pub test: Dataset,
}
