//! The fixed header: identification and lengths (checked before the CRC), then the section
//! offsets and sizes (checked after it).

use crate::bytes::{to_usize, u16_at, u32_at, u32_to_usize, u64_at};
use crate::error::{FormatError, Section};
use crate::layout::{
    align_up, header as field, CALIBRATION_LEN, HEADER_LEN, LAYER_RECORD_LEN, MAGIC, MAJOR, MINOR,
    TABLE_ENTRY_LEN, TRAILER_LEN,
};
use crate::limits::{
    MAX_CALIBRATION_LEN, MAX_FILE_LEN, MAX_HEADER_LEN, MAX_RECORD_LEN, MAX_STRINGS_LEN,
};

/// The fixed header's fields, widened to `usize`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) header_len: usize,
    pub(crate) file_len: usize,
    pub(crate) arch_offset: usize,
    pub(crate) arch_count: usize,
    pub(crate) arch_record_len: usize,
    pub(crate) calib_offset: usize,
    pub(crate) calib_len: usize,
    pub(crate) strings_offset: usize,
    pub(crate) strings_len: usize,
    pub(crate) table_offset: usize,
    pub(crate) table_count: usize,
    pub(crate) table_entry_len: usize,
    pub(crate) data_offset: usize,
    padding: u32,
}

/// The sections, sliced out of the file once their layout has been checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sections<'a> {
    pub(crate) arch: &'a [u8],
    pub(crate) calibration: &'a [u8],
    pub(crate) strings: &'a [u8],
    pub(crate) table: &'a [u8],
}

/// A structure size: exactly the 1.0 size, or (newer minors) between it and `max`.
fn size_ok(found: usize, v1_0: usize, max: usize, newer: bool) -> bool {
    if newer {
        (v1_0..=max).contains(&found)
    } else {
        found == v1_0
    }
}

impl Header {
    /// Steps 1–4 of the validation order: magic, major version, fixed header present,
    /// declared length within the maximum and equal to the input's length.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let len = bytes.len();
        let truncated = |needed| FormatError::Truncated { needed, len };
        let magic = bytes.get(..MAGIC.len()).ok_or(truncated(MAGIC.len()))?;
        if magic != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let major = u16_at(bytes, field::MAJOR).ok_or(truncated(field::MAJOR + 2))?;
        if major != MAJOR {
            return Err(FormatError::UnsupportedMajorVersion { found: major });
        }
        if len < HEADER_LEN {
            return Err(truncated(HEADER_LEN));
        }
        let minor = u16_at(bytes, field::MINOR).unwrap_or(0);
        let u16f = |o| usize::from(u16_at(bytes, o).unwrap_or(0));
        let u32f = |o| u32_to_usize(u32_at(bytes, o).unwrap_or(0));
        let declared = u64_at(bytes, field::FILE_LEN).unwrap_or(0);
        if declared > MAX_FILE_LEN as u64 {
            return Err(FormatError::FileTooLarge { len: declared });
        }
        let file_len = to_usize(declared);
        if file_len > len {
            return Err(truncated(file_len));
        }
        if len > file_len {
            return Err(FormatError::TrailingBytes {
                expected: file_len,
                len,
            });
        }
        if file_len < HEADER_LEN + TRAILER_LEN {
            return Err(FormatError::BadLayout {
                section: Section::Header,
            });
        }
        Ok(Header {
            major,
            minor,
            header_len: u32f(field::HEADER_LEN),
            file_len,
            arch_offset: u32f(field::ARCH_OFFSET),
            arch_count: u16f(field::ARCH_COUNT),
            arch_record_len: u16f(field::ARCH_RECORD_LEN),
            calib_offset: u32f(field::CALIB_OFFSET),
            calib_len: u32f(field::CALIB_LEN),
            strings_offset: u32f(field::STRINGS_OFFSET),
            strings_len: u32f(field::STRINGS_LEN),
            table_offset: u32f(field::TABLE_OFFSET),
            table_count: u16f(field::TABLE_COUNT),
            table_entry_len: u16f(field::TABLE_ENTRY_LEN),
            data_offset: u32f(field::DATA_OFFSET),
            padding: u32_at(bytes, field::PADDING).unwrap_or(0),
        })
    }

    /// Whether the file's minor version is newer than this reader's.
    pub(crate) fn newer(&self) -> bool {
        self.minor > MINOR
    }

    /// Where the data region ends and the CRC trailer begins.
    pub(crate) fn data_end(&self) -> usize {
        self.file_len.saturating_sub(TRAILER_LEN)
    }

    /// Step 6: the sections follow each other without gaps in the order header,
    /// architecture, calibration, strings, table, zero padding to 16, data, trailer.
    pub(crate) fn sections<'a>(&self, bytes: &'a [u8]) -> Result<Sections<'a>, FormatError> {
        let newer = self.newer();
        let data_end = self.data_end();
        let bad = |section| FormatError::BadLayout { section };
        // A section of `len` bytes starting at `offset`, which must equal `expected`.
        let section = |s, offset: usize, expected: usize, len: Option<usize>| {
            let end = len.and_then(|l| offset.checked_add(l)).ok_or(bad(s))?;
            if offset != expected || end > data_end {
                return Err(bad(s));
            }
            bytes.get(offset..end).ok_or(bad(s)).map(|b| (b, end))
        };

        if !size_ok(self.header_len, HEADER_LEN, MAX_HEADER_LEN, newer)
            || self.header_len > data_end
            || self.padding != 0
        {
            return Err(bad(Section::Header));
        }
        if !size_ok(
            self.arch_record_len,
            LAYER_RECORD_LEN,
            MAX_RECORD_LEN,
            newer,
        ) {
            return Err(bad(Section::Architecture));
        }
        let (arch, end) = section(
            Section::Architecture,
            self.arch_offset,
            self.header_len,
            self.arch_count.checked_mul(self.arch_record_len),
        )?;
        if !size_ok(self.calib_len, CALIBRATION_LEN, MAX_CALIBRATION_LEN, newer) {
            return Err(bad(Section::Calibration));
        }
        let (calibration, end) = section(
            Section::Calibration,
            self.calib_offset,
            end,
            Some(self.calib_len),
        )?;
        if self.strings_len > MAX_STRINGS_LEN {
            return Err(bad(Section::Strings));
        }
        let (strings, end) = section(
            Section::Strings,
            self.strings_offset,
            end,
            Some(self.strings_len),
        )?;
        if !size_ok(self.table_entry_len, TABLE_ENTRY_LEN, MAX_RECORD_LEN, newer) {
            return Err(bad(Section::Table));
        }
        let (table, end) = section(
            Section::Table,
            self.table_offset,
            end,
            self.table_count.checked_mul(self.table_entry_len),
        )?;
        if Some(self.data_offset) != align_up(end) || self.data_offset > data_end {
            return Err(bad(Section::Data));
        }
        let padding = bytes.get(end..self.data_offset).ok_or(bad(Section::Data))?;
        if let Some(i) = padding.iter().position(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding { offset: end + i });
        }
        Ok(Sections {
            arch,
            calibration,
            strings,
            table,
        })
    }
}
