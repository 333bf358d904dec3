//! Directories in the MNIST layout: four IDX files under their standard names, each raw or gzip.

use super::idx::{read_images, read_labels, IdxImages};
use super::{DataError, Dataset, ImageShape, Split};
use std::path::{Path, PathBuf};

/// Standard name of the training image file (`.gz` optional).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Standard name of the training label file (`.gz` optional).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Standard name of the test image file (`.gz` optional).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Standard name of the test label file (`.gz` optional).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The four files of an MNIST-layout directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistFiles {
    /// Training images.
    pub train_images: PathBuf,
    /// Training labels.
    pub train_labels: PathBuf,
    /// Test images.
    pub test_images: PathBuf,
    /// Test labels.
    pub test_labels: PathBuf,
}

impl MnistFiles {
    /// Finds the four files in `dir`. Each may be called by its standard name (e.g.
    /// `train-images-idx3-ubyte`) or the common variant with a dot (`train-images.idx3-ubyte`),
    /// each with or without `.gz`; the first of these that exists wins.
    pub fn find(dir: &Path) -> Result<Self, DataError> {
        Ok(Self {
            train_images: find_one(dir, TRAIN_IMAGES, "training images")?,
            train_labels: find_one(dir, TRAIN_LABELS, "training labels")?,
            test_images: find_one(dir, TEST_IMAGES, "test images")?,
            test_labels: find_one(dir, TEST_LABELS, "test labels")?,
        })
    }
}

/// Looks for `stem`, its dotted variant, and both with `.gz`, in that order.
fn find_one(dir: &Path, stem: &str, what: &'static str) -> Result<PathBuf, DataError> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    let names = [
        stem.to_string(),
        format!("{stem}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ];
    names
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile {
            dir: dir.to_path_buf(),
            what,
            names: names.join(", "),
        })
}

/// Loads the MNIST-layout directory `dir` as a split called `name`.
///
/// With `class_names`, every label must index into it; without, the classes are named `"0"`,
/// `"1"`, ... up to the largest label seen in either part (at least two classes). A missing
/// directory is reported with `hint` appended to the message.
pub(crate) fn load_dir(
    dir: &Path,
    name: String,
    class_names: Option<Vec<String>>,
    hint: &str,
) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDirectory {
            path: dir.to_path_buf(),
            hint: hint.to_string(),
        });
    }
    let files = MnistFiles::find(dir)?;
    let (train_images, train_labels) = read_part(&files.train_images, &files.train_labels)?;
    let (test_images, test_labels) = read_part(&files.test_images, &files.test_labels)?;
    if (train_images.rows(), train_images.cols()) != (test_images.rows(), test_images.cols()) {
        return Err(DataError::ShapeMismatch {
            train: files.train_images,
            train_rows: train_images.rows(),
            train_cols: train_images.cols(),
            test: files.test_images,
            test_rows: test_images.rows(),
            test_cols: test_images.cols(),
        });
    }
    let class_names = class_names.unwrap_or_else(|| {
        let max = train_labels
            .iter()
            .chain(&test_labels)
            .copied()
            .max()
            .unwrap_or(0);
        (0..=usize::from(max).max(1))
            .map(|c| c.to_string())
            .collect()
    });
    check_labels(&files.train_labels, &train_labels, class_names.len())?;
    check_labels(&files.test_labels, &test_labels, class_names.len())?;
    let shape = ImageShape {
        channels: 1,
        height: train_images.rows(),
        width: train_images.cols(),
    };
    Ok(Split {
        name,
        train: Dataset::from_bytes(
            train_images.pixels(),
            train_labels,
            shape,
            class_names.clone(),
        )?,
        test: Dataset::from_bytes(test_images.pixels(), test_labels, shape, class_names)?,
    })
}

/// Reads one image file and its label file and checks that their counts agree.
fn read_part(images: &Path, labels: &Path) -> Result<(IdxImages, Vec<u8>), DataError> {
    // The counts in both headers are compared before either body is read, so that a file
    // whose header promises far more than its partner (a gzip bomb, say) is refused without
    // inflating it.
    if let (Some(image_count), Some(label_count)) = (
        super::idx::declared_count(images)?,
        super::idx::declared_count(labels)?,
    ) {
        if image_count != label_count {
            return Err(DataError::CountMismatch {
                images: images.to_path_buf(),
                image_count,
                labels: labels.to_path_buf(),
                label_count,
            });
        }
    }
    let image_data = read_images(images)?;
    let label_data = read_labels(labels)?;
    if image_data.count() != label_data.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            image_count: image_data.count(),
            labels: labels.to_path_buf(),
            label_count: label_data.len(),
        });
    }
    Ok((image_data, label_data))
}

/// Fails on the first label that is not below `classes`.
fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels
        .iter()
        .enumerate()
        .find(|&(_, &label)| usize::from(label) >= classes)
    {
        Some((index, &label)) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label,
            classes,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::encode_labels;
    use std::fs;

    #[test]
    fn labels_beyond_the_named_classes_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let images = IdxImages::new(2, 1, 1, vec![0, 255])
            .unwrap()
            .to_idx_bytes();
        fs::write(dir.path().join(TRAIN_IMAGES), &images).unwrap();
        fs::write(dir.path().join(TEST_IMAGES), &images).unwrap();
        fs::write(
            dir.path().join(TRAIN_LABELS),
            encode_labels(&[0, 1]).unwrap(),
        )
        .unwrap();
        fs::write(
            dir.path().join(TEST_LABELS),
            encode_labels(&[1, 2]).unwrap(),
        )
        .unwrap();
        let names = Some(vec!["a".to_string(), "b".to_string()]);
        match load_dir(dir.path(), "x".into(), names, "") {
            Err(DataError::LabelOutOfRange {
                path,
                index,
                label,
                classes,
            }) => {
                assert_eq!(path, dir.path().join(TEST_LABELS));
                assert_eq!((index, label, classes), (1, 2, 2));
            }
            other => panic!("expected LabelOutOfRange, got {other:?}"),
        }
        // Unnamed classes are counted from the labels: 0..=2.
        let split = load_dir(dir.path(), "x".into(), None, "").unwrap();
        assert_eq!(split.test.class_names, ["0", "1", "2"]);
        assert_eq!(split.train.image(1).to_vec(), [1.0]);
    }
}
