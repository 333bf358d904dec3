//! The byte-deterministic writer (`std` feature): an owned model that encodes to the exact
//! bytes of `SPEC.md` and validates them with the reader before handing them out.

use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use crate::arch::Architecture;
use crate::calib::Calibration;
use crate::error::FormatError;
use crate::layout::{
    align_up, header as field, CALIBRATION_LEN, ENTRY_COUNT, HEADER_LEN, LAYER_COUNT,
    LAYER_RECORD_LEN, MAGIC, MAJOR, MINOR, TABLE_ENTRY_LEN, TRAILER_LEN,
};
use crate::limits::{MAX_FILE_LEN, MAX_NAME_LEN};
use crate::tensor::{Entry, Shape, TensorId};
use crate::view::ModelView;
use crate::{crc::crc32, table::encode_entry};
use byteorder::{ByteOrder, LittleEndian as Le};

/// An owned model, ready to be encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    /// The model's sizes.
    pub architecture: Architecture,
    /// Encoder variance, covariance model, thresholds and calibration settings.
    pub calibration: Calibration,
    /// Class means, `[classes][latent]`.
    pub class_means: Vec<f32>,
    /// Precision matrices, `[classes][latent][latent]`.
    pub precisions: Vec<f32>,
    /// Dataset name (≤ 64 UTF-8 bytes).
    pub dataset_name: String,
    /// One name per class (each ≤ 64 UTF-8 bytes).
    pub class_names: Vec<String>,
    /// The 16 network tensors, indexed by [`TensorId::index`], in the layouts of
    /// [`TensorId`].
    pub tensors: [Vec<f32>; TensorId::COUNT],
}

/// Why [`ModelFile::to_bytes`] (or a [`corrupt`](crate::corrupt) helper) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The model breaks a rule of the format; the error is the one the reader would give.
    Invalid(FormatError),
    /// A vector's length does not match the architecture.
    WrongLength {
        /// The entry.
        entry: Entry,
        /// Length the architecture requires.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// `class_names` does not hold one name per class.
    ClassNameCount {
        /// Number of classes.
        expected: usize,
        /// Names given.
        found: usize,
    },
    /// The requested corruption needs something this model lacks (e.g. a non-empty name).
    CorruptionNotApplicable,
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteError::Invalid(e) => write!(f, "invalid model: {e}"),
            WriteError::WrongLength {
                entry,
                expected,
                found,
            } => write!(f, "{entry}: {found} values given, {expected} required"),
            WriteError::ClassNameCount { expected, found } => {
                write!(f, "{found} class names given for {expected} classes")
            }
            WriteError::CorruptionNotApplicable => {
                f.write_str("the corruption cannot be applied to this model")
            }
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FormatError> for WriteError {
    fn from(e: FormatError) -> Self {
        WriteError::Invalid(e)
    }
}

/// Precision matrices `(1/s2)·I` for every class, as the isotropic covariance requires
/// (`1/s2` computed in `f32`, exactly as the reader checks it).
pub fn isotropic_precisions(arch: &Architecture, s2: f32) -> Vec<f32> {
    let n = arch.latent;
    let mut p = vec![0.0f32; arch.classes * n * n];
    for (i, v) in p.iter_mut().enumerate() {
        let (row, col) = ((i / n) % n, i % n);
        if row == col {
            *v = 1.0 / s2;
        }
    }
    p
}

/// Class means `one_hot(c)` zero-padded to `latent`, for every class.
pub fn one_hot_means(arch: &Architecture) -> Vec<f32> {
    let n = arch.latent;
    let mut m = vec![0.0f32; arch.classes * n];
    for c in 0..arch.classes {
        m[c * n + c] = 1.0;
    }
    m
}

/// Knobs of the encoder beyond the standard 1.0 file: used to build newer-minor files
/// that a 1.0 reader must still accept (see `corrupt::future_minor`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Encoding<'e> {
    pub(crate) minor: u16,
    pub(crate) extra: usize,
    pub(crate) extensions: &'e [(u16, &'e [u8])],
}

impl Encoding<'_> {
    /// A standard file of this crate's version.
    pub(crate) const STANDARD: Encoding<'static> = Encoding {
        minor: MINOR,
        extra: 0,
        extensions: &[],
    };
}

/// Filler for the bytes a newer minor appends to a structure (ignored by a 1.0 reader).
const EXTENSION_FILLER: u8 = 0xA5;

impl ModelFile {
    /// A model of `architecture` with zero weights, one-hot means, isotropic precisions
    /// `(1/s2)·I`, an empty dataset name and classes named `"0"`, `"1"`, ….
    pub fn new(architecture: Architecture, calibration: Calibration) -> Result<Self, WriteError> {
        architecture.validate()?;
        Ok(ModelFile {
            architecture,
            calibration,
            class_means: one_hot_means(&architecture),
            precisions: isotropic_precisions(&architecture, calibration.s2),
            dataset_name: String::new(),
            class_names: (0..architecture.classes).map(|c| format!("{c}")).collect(),
            tensors: TensorId::ALL.map(|t| vec![0.0; t.shape(&architecture).len()]),
        })
    }

    /// An owned copy of a parsed model; `from_view(&parse(b)).to_bytes() == b` for every
    /// file this writer produced.
    pub fn from_view(view: &ModelView<'_>) -> Self {
        ModelFile {
            architecture: view.architecture(),
            calibration: view.calibration(),
            class_means: view.class_means().iter().collect(),
            precisions: view.precisions().iter().collect(),
            dataset_name: view.dataset_name().into(),
            class_names: view.class_names().map(String::from).collect(),
            tensors: TensorId::ALL.map(|t| view.tensor(t).iter().collect()),
        }
    }

    /// Network tensor `id`.
    pub fn tensor(&self, id: TensorId) -> &[f32] {
        &self.tensors[id.index()]
    }

    /// Network tensor `id`, mutably.
    pub fn tensor_mut(&mut self, id: TensorId) -> &mut Vec<f32> {
        &mut self.tensors[id.index()]
    }

    /// Encodes the model as a version 1.0 file. The same model always gives the same bytes
    /// (zero padding, no timestamps). The result is parsed before it is returned, so every
    /// rule of the reader holds; a violation is [`WriteError::Invalid`] with the reader's
    /// error.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WriteError> {
        let bytes = self.encode(&Encoding::STANDARD)?;
        ModelView::parse(&bytes)?;
        Ok(bytes)
    }

    /// The values of table entry `id` (0..=17).
    fn entry_values(&self, entry: Entry) -> &[f32] {
        match entry {
            Entry::Tensor(t) => self.tensor(t),
            Entry::ClassMeans => &self.class_means,
            Entry::Precisions => &self.precisions,
            Entry::Extension(_) => &[],
        }
    }

    /// Structural checks needed before sizes can be computed and memory allocated.
    fn check_structure(&self) -> Result<(), WriteError> {
        let arch = &self.architecture;
        arch.validate()?;
        for id in 0..ENTRY_COUNT as u16 {
            let entry = Entry::from_id(id);
            let expected = entry.shape(arch).map_or(0, |s| s.len());
            let found = self.entry_values(entry).len();
            if found != expected {
                return Err(WriteError::WrongLength {
                    entry,
                    expected,
                    found,
                });
            }
        }
        if self.class_names.len() != arch.classes {
            return Err(WriteError::ClassNameCount {
                expected: arch.classes,
                found: self.class_names.len(),
            });
        }
        for (index, name) in core::iter::once(&self.dataset_name)
            .chain(&self.class_names)
            .enumerate()
        {
            if name.len() > MAX_NAME_LEN {
                return Err(FormatError::StringTooLong {
                    index,
                    len: name.len(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Encodes without the final parse; `enc` selects the minor version and extensions.
    pub(crate) fn encode(&self, enc: &Encoding<'_>) -> Result<Vec<u8>, WriteError> {
        self.check_structure()?;
        let arch = &self.architecture;
        let fill = if enc.extra > 0 { EXTENSION_FILLER } else { 0 };

        let mut strings = Vec::new();
        for name in core::iter::once(&self.dataset_name).chain(&self.class_names) {
            strings.extend_from_slice(&(name.len() as u16).to_le_bytes());
            strings.extend_from_slice(name.as_bytes());
        }
        strings.resize(strings.len() + enc.extra, fill);

        let header_len = HEADER_LEN + enc.extra;
        let record_len = LAYER_RECORD_LEN + enc.extra;
        let calib_len = CALIBRATION_LEN + enc.extra;
        let entry_len = TABLE_ENTRY_LEN + enc.extra;
        let count = ENTRY_COUNT + enc.extensions.len();
        let arch_offset = header_len;
        let calib_offset = arch_offset + LAYER_COUNT * record_len;
        let strings_offset = calib_offset + calib_len;
        let table_offset = strings_offset + strings.len();
        let table_end = table_offset + count * entry_len;
        let too_large = |len: usize| FormatError::FileTooLarge { len: len as u64 };
        let data_offset = align_up(table_end).ok_or(too_large(usize::MAX))?;

        // (id, shape, byte length, offset) of every entry, packed at 16-byte boundaries.
        let mut placed: Vec<(u16, Shape, usize, usize)> = Vec::with_capacity(count);
        let mut end = data_offset;
        let known = (0..ENTRY_COUNT as u16).map(|id| {
            let shape = Entry::from_id(id).shape(arch);
            (id, shape, shape.map_or(0, |s| s.len() * 4))
        });
        let extensions = enc.extensions.iter().map(|(id, b)| (*id, None, b.len()));
        for (id, shape, len) in known.chain(extensions) {
            let offset = align_up(end).ok_or(too_large(usize::MAX))?;
            end = offset.checked_add(len).ok_or(too_large(usize::MAX))?;
            let shape = shape.unwrap_or(Shape::vector(len));
            placed.push((id, shape, len, offset));
        }
        let file_len = end + TRAILER_LEN;
        if file_len > MAX_FILE_LEN {
            return Err(too_large(file_len).into());
        }

        let mut b = vec![0u8; file_len];
        b[field::MAGIC..field::MAGIC + 8].copy_from_slice(&MAGIC);
        Le::write_u16(&mut b[field::MAJOR..], MAJOR);
        Le::write_u16(&mut b[field::MINOR..], enc.minor);
        Le::write_u32(&mut b[field::HEADER_LEN..], header_len as u32);
        Le::write_u64(&mut b[field::FILE_LEN..], file_len as u64);
        Le::write_u32(&mut b[field::ARCH_OFFSET..], arch_offset as u32);
        Le::write_u16(&mut b[field::ARCH_COUNT..], LAYER_COUNT as u16);
        Le::write_u16(&mut b[field::ARCH_RECORD_LEN..], record_len as u16);
        Le::write_u32(&mut b[field::CALIB_OFFSET..], calib_offset as u32);
        Le::write_u32(&mut b[field::CALIB_LEN..], calib_len as u32);
        Le::write_u32(&mut b[field::STRINGS_OFFSET..], strings_offset as u32);
        Le::write_u32(&mut b[field::STRINGS_LEN..], strings.len() as u32);
        Le::write_u32(&mut b[field::TABLE_OFFSET..], table_offset as u32);
        Le::write_u16(&mut b[field::TABLE_COUNT..], count as u16);
        Le::write_u16(&mut b[field::TABLE_ENTRY_LEN..], entry_len as u16);
        Le::write_u32(&mut b[field::DATA_OFFSET..], data_offset as u32);
        b[HEADER_LEN..header_len].fill(fill);

        for (i, layer) in arch.layers().iter().enumerate() {
            let at = arch_offset + i * record_len;
            b[at..at + LAYER_RECORD_LEN].copy_from_slice(&layer.to_bytes());
            b[at + LAYER_RECORD_LEN..at + record_len].fill(fill);
        }
        let classes = arch.classes as u32;
        b[calib_offset..calib_offset + CALIBRATION_LEN]
            .copy_from_slice(&self.calibration.to_bytes(classes));
        b[calib_offset + CALIBRATION_LEN..strings_offset].fill(fill);
        b[strings_offset..table_offset].copy_from_slice(&strings);

        for (i, (id, shape, len, offset)) in placed.iter().enumerate() {
            let at = table_offset + i * entry_len;
            let mut e = encode_entry(*id, shape, *offset as u64, *len as u64);
            if *id as usize >= ENTRY_COUNT {
                e[crate::layout::entry::DTYPE] = 0xEE;
            }
            b[at..at + TABLE_ENTRY_LEN].copy_from_slice(&e);
            b[at + TABLE_ENTRY_LEN..at + entry_len].fill(fill);
            let data = &mut b[*offset..*offset + *len];
            if let Some(k) = i.checked_sub(ENTRY_COUNT) {
                data.copy_from_slice(enc.extensions[k].1);
            } else {
                let values = self.entry_values(Entry::from_id(*id));
                for (word, v) in data.chunks_exact_mut(4).zip(values) {
                    word.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        let crc = crc32(&b[..end]);
        Le::write_u32(&mut b[end..], crc);
        Ok(b)
    }
}
