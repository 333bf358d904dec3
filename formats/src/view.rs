//! [`ModelView`]: the zero-copy, validated view of a model file.

use crate::arch::Architecture;
use crate::calib::Calibration;
use crate::crc::crc32;
use crate::error::FormatError;
use crate::header::Header;
use crate::layout::{ENTRY_COUNT, TRAILER_LEN};
use crate::le::LeF32;
use crate::strings::{ClassNames, Strings};
use crate::tensor::TensorId;
use crate::{bytes::u32_at, precision, table};

/// A checked view of a model file borrowed from `&'a [u8]`.
///
/// [`ModelView::parse`] performs every check of `SPEC.md` once; afterwards no accessor can
/// fail or panic. The view holds slices into the input and never copies tensor data.
#[derive(Clone, Copy)]
pub struct ModelView<'a> {
    bytes: &'a [u8],
    version: (u16, u16),
    architecture: Architecture,
    calibration: Calibration,
    entries: [LeF32<'a>; ENTRY_COUNT],
    dataset_name: &'a str,
    class_names: &'a [u8],
}

impl<'a> ModelView<'a> {
    /// Validates `bytes` as a complete model file (no trailing bytes) and returns a view.
    ///
    /// Checks run in the order of `SPEC.md`, "Validation order", and the first failure is
    /// returned. Uses no heap; the positive-definiteness check uses a stack buffer of
    /// `8·t(t+1)/2` bytes where `t` is the smallest of 16, 32, 64, 128 that is ≥ `latent`
    /// (about 1 KiB for latent ≤ 16, 66 KiB at the maximum).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        // 1–4: magic, major version, fixed header, declared length.
        let header = Header::parse(bytes)?;
        // 5: CRC32 of everything before the trailer.
        let data_end = header.data_end();
        let stored = u32_at(bytes, data_end).ok_or(FormatError::Truncated {
            needed: data_end.saturating_add(TRAILER_LEN),
            len: bytes.len(),
        })?;
        let computed = crc32(bytes.get(..data_end).unwrap_or(&[]));
        if stored != computed {
            return Err(FormatError::ChecksumMismatch { stored, computed });
        }
        // 6: section layout.
        let sections = header.sections(bytes)?;
        // 7: architecture (the class count lives in the calibration block).
        let architecture = Architecture::parse(
            sections.arch,
            header.arch_count,
            header.arch_record_len,
            Calibration::classes(sections.calibration),
        )?;
        // 8: calibration values.
        let calibration = Calibration::parse(sections.calibration)?;
        // 9: names.
        let strings = Strings::parse(sections.strings, architecture.classes, header.newer())?;
        // 10: tensor table.
        let entries = table::parse(bytes, sections.table, &header, &architecture)?;
        // 11: values.
        precision::check_finite(&entries)?;
        precision::check_precisions(entries[17], &architecture, &calibration)?;
        Ok(ModelView {
            bytes,
            version: (header.major, header.minor),
            architecture,
            calibration,
            entries,
            dataset_name: strings.dataset,
            class_names: strings.class_names,
        })
    }

    /// The file's `(major, minor)` version.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// The model's sizes.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Network tensor `id` in the layout documented on [`TensorId`].
    #[allow(clippy::indexing_slicing)] // `entries` has one slot per `TensorId`
    pub fn tensor(&self, id: TensorId) -> LeF32<'a> {
        self.entries[id.index()]
    }

    /// Class means, `[classes][latent]`.
    pub fn class_means(&self) -> LeF32<'a> {
        self.entries[16]
    }

    /// The mean of `class` (`latent` values), or `None` past the last class.
    pub fn class_mean(&self, class: usize) -> Option<LeF32<'a>> {
        let n = self.architecture.latent;
        self.class_means().slice(class.checked_mul(n)?, n)
    }

    /// Precision (inverse covariance) matrices, `[classes][latent][latent]`, each symmetric
    /// positive definite.
    pub fn precisions(&self) -> LeF32<'a> {
        self.entries[17]
    }

    /// The precision matrix of `class` (`latent²` values, row-major), or `None` past the
    /// last class.
    pub fn precision(&self, class: usize) -> Option<LeF32<'a>> {
        let n = self.architecture.latent * self.architecture.latent;
        self.precisions().slice(class.checked_mul(n)?, n)
    }

    /// Encoder variance, covariance model, thresholds and calibration settings.
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// The dataset's name (may be empty).
    pub fn dataset_name(&self) -> &'a str {
        self.dataset_name
    }

    /// The name of `class` (may be empty), or `None` past the last class.
    pub fn class_name(&self, class: usize) -> Option<&'a str> {
        self.class_names().nth(class)
    }

    /// The class names in class order.
    pub fn class_names(&self) -> ClassNames<'a> {
        ClassNames::new(self.class_names)
    }

    /// Length of the file in bytes, trailer included.
    pub fn file_len(&self) -> usize {
        self.bytes.len()
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for ModelView<'_> {
    /// A summary: version, sizes, calibration, names and length (not the tensor data).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ModelView")
            .field("version", &self.version)
            .field("architecture", &self.architecture)
            .field("calibration", &self.calibration)
            .field("dataset_name", &self.dataset_name)
            .field("file_len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}
