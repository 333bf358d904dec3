//! Deliberately broken files (`std` feature), for fixtures and tests.
//!
//! Each [`Corruption`] starts from the valid bytes of a [`ModelFile`], breaks exactly one
//! thing and, unless the corruption is about the checksum or the file's extent, recomputes
//! the CRC trailer, so that the reader reports the specific error named by
//! [`Corruption::matches`]. [`future_minor`] makes the opposite: a valid file of a newer
//! minor version that this reader must still accept.

use std::vec::Vec;

use byteorder::{ByteOrder, LittleEndian as Le};

use crate::error::{Dim, FormatError, Threshold};
use crate::layout::{
    calibration as calib, entry, header, layer, HEADER_LEN, LAYER_RECORD_LEN, MINOR,
    TABLE_ENTRY_LEN, TRAILER_LEN,
};
use crate::tensor::{Entry, TensorId};
use crate::writer::{Encoding, ModelFile, WriteError};

/// One way to break a valid file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Corruption {
    /// The first 8 bytes are not the magic → [`FormatError::BadMagic`].
    BadMagic,
    /// Major version 2 → [`FormatError::UnsupportedMajorVersion`].
    UnknownMajorVersion,
    /// Only the first half of the file → [`FormatError::Truncated`].
    Truncated,
    /// One byte of tensor data inverted, CRC left stale → [`FormatError::ChecksumMismatch`].
    FlippedByte,
    /// `enc.fc1.weight` declared with its first dimension + 1 → [`FormatError::BadTensorShape`].
    WrongTensorShape,
    /// `tau_enc` = NaN → [`FormatError::BadThreshold`].
    NanThreshold,
    /// Hidden width 2^20 in the architecture → [`FormatError::DimensionTooLarge`].
    HugeDimension,
    /// `enc.conv1.bias` placed on top of `enc.conv1.weight` → [`FormatError::OverlappingTensors`].
    OverlappingTensors,
    /// `enc.conv1.bias` offset moved by 4 bytes → [`FormatError::MisalignedTensor`].
    MisalignedTensor,
    /// 16 zero bytes appended after the trailer → [`FormatError::TrailingBytes`].
    TrailingBytes,
    /// Encoder fc2 given a ReLU → [`FormatError::UnsupportedArchitecture`] at layer 7.
    UnsupportedArchitecture,
    /// First value of `enc.fc1.weight` = +∞ → [`FormatError::NonFiniteValue`].
    NonFiniteWeight,
    /// Precision (0, 0) of class 0 = −1 → [`FormatError::NotPositiveDefinite`].
    NotPositiveDefinite,
    /// First byte of the first non-empty name = 0xFF → [`FormatError::BadUtf8`].
    BadUtf8,
}

impl Corruption {
    /// Every corruption.
    pub const ALL: [Corruption; 14] = [
        Corruption::BadMagic,
        Corruption::UnknownMajorVersion,
        Corruption::Truncated,
        Corruption::FlippedByte,
        Corruption::WrongTensorShape,
        Corruption::NanThreshold,
        Corruption::HugeDimension,
        Corruption::OverlappingTensors,
        Corruption::MisalignedTensor,
        Corruption::TrailingBytes,
        Corruption::UnsupportedArchitecture,
        Corruption::NonFiniteWeight,
        Corruption::NotPositiveDefinite,
        Corruption::BadUtf8,
    ];

    /// A snake_case name, suitable as a fixture file stem.
    pub const fn name(self) -> &'static str {
        match self {
            Corruption::BadMagic => "bad_magic",
            Corruption::UnknownMajorVersion => "unknown_major_version",
            Corruption::Truncated => "truncated",
            Corruption::FlippedByte => "flipped_byte",
            Corruption::WrongTensorShape => "wrong_tensor_shape",
            Corruption::NanThreshold => "nan_threshold",
            Corruption::HugeDimension => "huge_dimension",
            Corruption::OverlappingTensors => "overlapping_tensors",
            Corruption::MisalignedTensor => "misaligned_tensor",
            Corruption::TrailingBytes => "trailing_bytes",
            Corruption::UnsupportedArchitecture => "unsupported_architecture",
            Corruption::NonFiniteWeight => "non_finite_weight",
            Corruption::NotPositiveDefinite => "not_positive_definite",
            Corruption::BadUtf8 => "bad_utf8",
        }
    }

    /// Whether `err` is the error the reader must give for this corruption.
    pub fn matches(self, err: &FormatError) -> bool {
        use FormatError as E;
        let fc1 = Entry::Tensor(TensorId::EncFc1Weight);
        let bias = Entry::Tensor(TensorId::EncConv1Bias);
        match self {
            Corruption::BadMagic => matches!(err, E::BadMagic),
            Corruption::UnknownMajorVersion => {
                matches!(err, E::UnsupportedMajorVersion { found: 2 })
            }
            Corruption::Truncated => matches!(err, E::Truncated { .. }),
            Corruption::FlippedByte => matches!(err, E::ChecksumMismatch { .. }),
            Corruption::WrongTensorShape => {
                matches!(err, E::BadTensorShape { entry, .. } if *entry == fc1)
            }
            Corruption::NanThreshold => matches!(
                err,
                E::BadThreshold {
                    which: Threshold::Enc
                }
            ),
            Corruption::HugeDimension => matches!(
                err,
                E::DimensionTooLarge {
                    dim: Dim::Hidden,
                    ..
                }
            ),
            Corruption::OverlappingTensors => {
                matches!(err, E::OverlappingTensors { entry, .. } if *entry == bias)
            }
            Corruption::MisalignedTensor => {
                matches!(err, E::MisalignedTensor { entry, .. } if *entry == bias)
            }
            Corruption::TrailingBytes => matches!(err, E::TrailingBytes { .. }),
            Corruption::UnsupportedArchitecture => {
                matches!(err, E::UnsupportedArchitecture { layer: 7 })
            }
            Corruption::NonFiniteWeight => {
                matches!(err, E::NonFiniteValue { entry, index: 0 } if *entry == fc1)
            }
            Corruption::NotPositiveDefinite => {
                matches!(err, E::NotPositiveDefinite { class: 0 })
            }
            Corruption::BadUtf8 => matches!(err, E::BadUtf8 { .. }),
        }
    }

    /// The bytes of `file` broken this way. Fails if `file` itself is invalid, or with
    /// [`WriteError::CorruptionNotApplicable`] for [`Corruption::BadUtf8`] when every name
    /// is empty.
    pub fn apply(self, file: &ModelFile) -> Result<Vec<u8>, WriteError> {
        let mut b = file.to_bytes()?;
        let table = Le::read_u32(&b[header::TABLE_OFFSET..]) as usize;
        let entry_at = |id: usize| table + id * TABLE_ENTRY_LEN;
        let data_of =
            |b: &[u8], id: usize| Le::read_u64(&b[entry_at(id) + entry::OFFSET..]) as usize;
        let record_at = |i: usize| HEADER_LEN + i * LAYER_RECORD_LEN;
        let calib = Le::read_u32(&b[header::CALIB_OFFSET..]) as usize;
        match self {
            Corruption::BadMagic => b[..8].copy_from_slice(b"NOTGMVAE"),
            Corruption::UnknownMajorVersion => Le::write_u16(&mut b[header::MAJOR..], 2),
            Corruption::Truncated => {
                b.truncate(b.len() / 2);
                return Ok(b);
            }
            Corruption::FlippedByte => {
                let at = data_of(&b, TensorId::EncFc1Weight.index());
                b[at] ^= 0xFF;
                return Ok(b);
            }
            Corruption::WrongTensorShape => {
                let at = entry_at(TensorId::EncFc1Weight.index()) + entry::DIMS;
                let d = Le::read_u32(&b[at..]);
                Le::write_u32(&mut b[at..], d + 1);
            }
            Corruption::NanThreshold => Le::write_f32(&mut b[calib + calib::TAU_ENC..], f32::NAN),
            Corruption::HugeDimension => {
                Le::write_u32(&mut b[record_at(6) + layer::OUTPUTS..], 1 << 20);
            }
            Corruption::OverlappingTensors => {
                let first = data_of(&b, 0) as u64;
                Le::write_u64(&mut b[entry_at(1) + entry::OFFSET..], first);
            }
            Corruption::MisalignedTensor => {
                let at = entry_at(1) + entry::OFFSET;
                let offset = Le::read_u64(&b[at..]);
                Le::write_u64(&mut b[at..], offset + 4);
            }
            Corruption::TrailingBytes => {
                b.extend_from_slice(&[0; 16]);
                return Ok(b);
            }
            Corruption::UnsupportedArchitecture => {
                Le::write_u16(&mut b[record_at(7) + layer::ACTIVATION..], 1);
            }
            Corruption::NonFiniteWeight => {
                let at = data_of(&b, TensorId::EncFc1Weight.index());
                Le::write_f32(&mut b[at..], f32::INFINITY);
            }
            Corruption::NotPositiveDefinite => {
                let at = data_of(&b, Entry::PRECISIONS_ID as usize);
                Le::write_f32(&mut b[at..], -1.0);
            }
            Corruption::BadUtf8 => {
                let mut at = Le::read_u32(&b[header::STRINGS_OFFSET..]) as usize;
                let names = core::iter::once(&file.dataset_name).chain(&file.class_names);
                let mut target = None;
                for name in names {
                    if !name.is_empty() {
                        target = Some(at + 2);
                        break;
                    }
                    at += 2 + name.len();
                }
                b[target.ok_or(WriteError::CorruptionNotApplicable)?] = 0xFF;
            }
        }
        refresh_crc(&mut b);
        Ok(b)
    }
}

/// Rewrites the CRC trailer (the last 4 bytes) to match the bytes before it.
pub fn refresh_crc(bytes: &mut [u8]) {
    if let Some(end) = bytes.len().checked_sub(TRAILER_LEN) {
        let crc = crate::crc::crc32(&bytes[..end]);
        Le::write_u32(&mut bytes[end..], crc);
    }
}

/// A valid file of minor version `MINOR + 1` holding `file`: every structure (header,
/// layer records, calibration block, strings section, table entries) is 8 bytes longer
/// than in 1.0, filled with `0xA5`, and the table has one extra entry (id 100, unknown
/// data type) after the precisions. A 1.0 reader must read the same model from it.
pub fn future_minor(file: &ModelFile) -> Result<Vec<u8>, WriteError> {
    let payload = [0x5Au8; 20];
    let extensions = [(100u16, &payload[..])];
    file.encode(&Encoding {
        minor: MINOR + 1,
        extra: 8,
        extensions: &extensions,
    })
}
