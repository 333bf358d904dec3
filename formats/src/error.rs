//! The reader's error type: one small `Copy` variant per failure, carrying the numbers that
//! locate it.

use crate::tensor::Entry;

/// A section of the file, as named in layout errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// The fixed header.
    Header,
    /// The architecture layer records.
    Architecture,
    /// The calibration block.
    Calibration,
    /// The strings (metadata) section.
    Strings,
    /// The tensor table.
    Table,
    /// The data region.
    Data,
}

/// A size of the architecture, as named in dimension errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dim {
    /// Input channels `C`.
    InChannels,
    /// Input height `H`.
    Height,
    /// Input width `W`.
    Width,
    /// Encoder conv1 output channels.
    Conv1,
    /// Encoder conv2 output channels.
    Conv2,
    /// Dense hidden width.
    Hidden,
    /// Latent dimension.
    Latent,
    /// Number of classes.
    Classes,
    /// Total payload of all tensor entries, in `f32` elements.
    Parameters,
}

/// A calibration setting, as named in calibration errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CalibrationField {
    /// The encoder variance `s2` (finite, > 0).
    S2,
    /// The confidence level (finite, strictly between 0 and 1).
    Confidence,
    /// The reconstruction statistic's parameter (quantile level in (0, 1]; k finite ≥ 0).
    StatisticParameter,
    /// The number of calibration samples (≥ 1).
    Samples,
}

/// One of the two rejection thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Threshold {
    /// `tau_enc`, on the squared Mahalanobis distance.
    Enc,
    /// `tau_dec`, on the reconstruction sum of squared errors.
    Dec,
}

/// Why a file was rejected. See `SPEC.md`, "Validation order", for when each is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FormatError {
    /// The input ends before `needed` bytes (it has `len`).
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// The first 8 bytes are not the magic.
    BadMagic,
    /// The major version is not the one this reader understands.
    UnsupportedMajorVersion {
        /// Major version in the file.
        found: u16,
    },
    /// The declared file length exceeds [`MAX_FILE_LEN`](crate::limits::MAX_FILE_LEN).
    FileTooLarge {
        /// Declared length.
        len: u64,
    },
    /// The input is longer than the declared file length.
    TrailingBytes {
        /// Declared length.
        expected: usize,
        /// Actual input length.
        len: usize,
    },
    /// The CRC32 trailer does not match the bytes before it.
    ChecksumMismatch {
        /// Value in the trailer.
        stored: u32,
        /// Value computed over the file.
        computed: u32,
    },
    /// A section's offset or size breaks the layout rules.
    BadLayout {
        /// The offending section.
        section: Section,
    },
    /// A padding byte at `offset` is not zero.
    NonZeroPadding {
        /// Absolute offset of the first non-zero padding byte.
        offset: usize,
    },
    /// The layer list is not the supported family; `layer` is the first differing record
    /// (equal to the family's length when records are missing or in excess).
    UnsupportedArchitecture {
        /// Index of the first differing layer record.
        layer: usize,
    },
    /// A size exceeds its maximum.
    DimensionTooLarge {
        /// Which size.
        dim: Dim,
        /// Its value.
        value: u64,
        /// The maximum.
        max: u64,
    },
    /// A size is zero, not a multiple of 4 (height, width) or below `classes` (latent).
    InvalidDimension {
        /// Which size.
        dim: Dim,
        /// Its value.
        value: u64,
    },
    /// The covariance kind code is unknown.
    UnknownCovarianceKind {
        /// Code in the file.
        found: u32,
    },
    /// The reconstruction statistic code is unknown.
    UnknownStatistic {
        /// Code in the file.
        found: u32,
    },
    /// A calibration setting is out of range or not finite.
    BadCalibration {
        /// The offending setting.
        field: CalibrationField,
    },
    /// A threshold is not finite or not > 0.
    BadThreshold {
        /// The offending threshold.
        which: Threshold,
    },
    /// A name is longer than [`MAX_NAME_LEN`](crate::limits::MAX_NAME_LEN).
    /// `index` 0 is the dataset name, `1 + c` the name of class `c`.
    StringTooLong {
        /// Which string.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// A name is not valid UTF-8 (`index` as in [`FormatError::StringTooLong`]).
    BadUtf8 {
        /// Which string.
        index: usize,
    },
    /// The tensor table has the wrong number of entries.
    BadTensorCount {
        /// Entries in the table.
        found: usize,
    },
    /// Table entry `index` has the wrong id (ids 0..=17 in order, then increasing ids ≥ 18).
    BadTensorId {
        /// Position in the table.
        index: usize,
        /// Id found there.
        found: u16,
    },
    /// A required entry has a data type other than f32.
    UnsupportedDtype {
        /// The entry.
        entry: Entry,
        /// Data type code found.
        found: u8,
    },
    /// A required entry's rank or dimensions differ from the architecture's.
    BadTensorShape {
        /// The entry.
        entry: Entry,
        /// Rank in the file.
        rank: u8,
        /// Dimensions in the file.
        dims: [u32; 4],
    },
    /// A required entry's byte length is not 4 × its element count.
    BadTensorLength {
        /// The entry.
        entry: Entry,
        /// Length in the file.
        length: u64,
    },
    /// An entry's offset is not a multiple of 16.
    MisalignedTensor {
        /// The entry.
        entry: Entry,
        /// Offset in the file.
        offset: u64,
    },
    /// An entry starts before the previous one (or the table) ends.
    OverlappingTensors {
        /// The entry.
        entry: Entry,
        /// Its offset.
        offset: u64,
        /// Where the previous entry (or the table's padding) ends.
        previous_end: u64,
    },
    /// An entry starts after the aligned end of the previous one.
    TensorGap {
        /// The entry.
        entry: Entry,
        /// Its offset.
        offset: u64,
        /// The only offset allowed.
        expected: u64,
    },
    /// An entry extends past the data region (which ends where the trailer begins).
    TensorOutOfBounds {
        /// The entry.
        entry: Entry,
        /// Its end offset.
        end: u64,
        /// End of the data region.
        data_end: u64,
    },
    /// The last entry ends before the data region does.
    DataEndMismatch {
        /// Where the last entry ends.
        end: u64,
        /// Where the data region ends.
        expected: u64,
    },
    /// A value is NaN or infinite.
    NonFiniteValue {
        /// The entry holding it.
        entry: Entry,
        /// Element index within the entry.
        index: usize,
    },
    /// Precision matrix `class` is not exactly symmetric at (`row`, `col`).
    NotSymmetric {
        /// The class.
        class: usize,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// Precision matrix `class` is not positive definite (a pivot is ≤ 0).
    NotPositiveDefinite {
        /// The class.
        class: usize,
    },
    /// With isotropic covariance, precision matrix `class` is not `(1/s2)·I`: an
    /// off-diagonal value is not zero, or a diagonal value `p` has `|p·s2 − 1| > 1e-6`.
    PrecisionMismatch {
        /// The class.
        class: usize,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
}

impl core::fmt::Display for Section {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Section::Header => "header",
            Section::Architecture => "architecture",
            Section::Calibration => "calibration",
            Section::Strings => "strings",
            Section::Table => "tensor table",
            Section::Data => "data",
        })
    }
}

impl core::fmt::Display for Dim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Dim::InChannels => "input channels",
            Dim::Height => "height",
            Dim::Width => "width",
            Dim::Conv1 => "conv1 channels",
            Dim::Conv2 => "conv2 channels",
            Dim::Hidden => "hidden width",
            Dim::Latent => "latent dimension",
            Dim::Classes => "classes",
            Dim::Parameters => "parameter count",
        })
    }
}

impl core::fmt::Display for CalibrationField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CalibrationField::S2 => "encoder variance s2",
            CalibrationField::Confidence => "confidence level",
            CalibrationField::StatisticParameter => "reconstruction statistic parameter",
            CalibrationField::Samples => "calibration sample count",
        })
    }
}

impl core::fmt::Display for Threshold {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Threshold::Enc => "tau_enc",
            Threshold::Dec => "tau_dec",
        })
    }
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use FormatError as E;
        match *self {
            E::Truncated { needed, len } => {
                write!(f, "truncated: needs {needed} bytes, has {len}")
            }
            E::BadMagic => f.write_str("not a gmvae model file (bad magic)"),
            E::UnsupportedMajorVersion { found } => write!(
                f,
                "unsupported major version {found} (this reader knows {})",
                crate::layout::MAJOR
            ),
            E::FileTooLarge { len } => write!(
                f,
                "declared file length {len} exceeds the maximum {}",
                crate::limits::MAX_FILE_LEN
            ),
            E::TrailingBytes { expected, len } => {
                write!(f, "{len} bytes given but the file declares {expected}")
            }
            E::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            E::BadLayout { section } => write!(f, "bad layout of the {section} section"),
            E::NonZeroPadding { offset } => write!(f, "non-zero padding byte at {offset}"),
            E::UnsupportedArchitecture { layer } => {
                write!(f, "unsupported architecture: layer record {layer} differs")
            }
            E::DimensionTooLarge { dim, value, max } => {
                write!(f, "{dim} {value} exceeds the maximum {max}")
            }
            E::InvalidDimension { dim, value } => write!(f, "invalid {dim} {value}"),
            E::UnknownCovarianceKind { found } => {
                write!(f, "unknown covariance kind {found}")
            }
            E::UnknownStatistic { found } => {
                write!(f, "unknown reconstruction statistic {found}")
            }
            E::BadCalibration { field } => write!(f, "invalid {field}"),
            E::BadThreshold { which } => write!(f, "{which} is not finite and > 0"),
            E::StringTooLong { index, len } => write!(
                f,
                "string {index} is {len} bytes (maximum {})",
                crate::limits::MAX_NAME_LEN
            ),
            E::BadUtf8 { index } => write!(f, "string {index} is not valid UTF-8"),
            E::BadTensorCount { found } => write!(f, "bad tensor table entry count {found}"),
            E::BadTensorId { index, found } => {
                write!(f, "tensor table entry {index} has unexpected id {found}")
            }
            E::UnsupportedDtype { entry, found } => {
                write!(f, "{entry}: unsupported data type {found}")
            }
            E::BadTensorShape { entry, rank, dims } => {
                write!(
                    f,
                    "{entry}: shape (rank {rank}, dims {dims:?}) does not match the architecture"
                )
            }
            E::BadTensorLength { entry, length } => {
                write!(f, "{entry}: byte length {length} does not match its shape")
            }
            E::MisalignedTensor { entry, offset } => {
                write!(f, "{entry}: offset {offset} is not 16-byte aligned")
            }
            E::OverlappingTensors {
                entry,
                offset,
                previous_end,
            } => write!(
                f,
                "{entry}: offset {offset} overlaps what precedes it (ends at {previous_end})"
            ),
            E::TensorGap {
                entry,
                offset,
                expected,
            } => write!(
                f,
                "{entry}: offset {offset} leaves a gap (expected {expected})"
            ),
            E::TensorOutOfBounds {
                entry,
                end,
                data_end,
            } => write!(f, "{entry}: ends at {end}, past the data end {data_end}"),
            E::DataEndMismatch { end, expected } => {
                write!(
                    f,
                    "tensors end at {end} but the data region ends at {expected}"
                )
            }
            E::NonFiniteValue { entry, index } => {
                write!(f, "{entry}: value {index} is not finite")
            }
            E::NotSymmetric { class, row, col } => {
                write!(
                    f,
                    "precision matrix of class {class} is not symmetric at ({row}, {col})"
                )
            }
            E::NotPositiveDefinite { class } => {
                write!(
                    f,
                    "precision matrix of class {class} is not positive definite"
                )
            }
            E::PrecisionMismatch { class, row, col } => write!(
                f,
                "isotropic precision matrix of class {class} is not (1/s2)·I at ({row}, {col})"
            ),
        }
    }
}

impl core::error::Error for FormatError {}
