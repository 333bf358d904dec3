//! The tensor table: one entry per tensor, checked for identity, type, shape, length and
//! placement (16-byte aligned, contiguous, in id order, ending exactly at the data end).

use crate::arch::Architecture;
use crate::bytes::{u16_at, u32_at, u64_at, u8_at};
use crate::error::{FormatError, Section};
use crate::header::Header;
use crate::layout::{entry as field, ALIGN, DTYPE_F32, ENTRY_COUNT, TABLE_ENTRY_LEN};
use crate::le::LeF32;
use crate::limits::MAX_TABLE_ENTRIES;
use crate::tensor::Entry;

/// One decoded table entry.
#[derive(Clone, Copy, Debug)]
struct RawEntry {
    id: u16,
    dtype: u8,
    rank: u8,
    padding: u32,
    dims: [u32; 4],
    offset: u64,
    length: u64,
}

impl RawEntry {
    fn decode(b: &[u8]) -> Option<Self> {
        let dim = |i: usize| u32_at(b, field::DIMS + 4 * i);
        Some(Self {
            id: u16_at(b, field::ID)?,
            dtype: u8_at(b, field::DTYPE)?,
            rank: u8_at(b, field::RANK)?,
            padding: u32_at(b, field::PADDING)?,
            dims: [dim(0)?, dim(1)?, dim(2)?, dim(3)?],
            offset: u64_at(b, field::OFFSET)?,
            length: u64_at(b, field::LENGTH)?,
        })
    }

    /// Whether rank and dims are exactly `shape` (dims past the rank zero).
    fn matches(&self, shape: &crate::tensor::Shape) -> bool {
        usize::from(self.rank) == shape.rank()
            && self
                .dims
                .iter()
                .zip(shape.padded_dims())
                .all(|(&found, want)| u64::from(found) == want as u64)
    }
}

/// Encodes one 1.0 table entry.
#[cfg(feature = "std")]
#[allow(clippy::indexing_slicing)] // fixed field offsets inside a fixed-size array (writer only)
pub(crate) fn encode_entry(
    id: u16,
    shape: &crate::tensor::Shape,
    offset: u64,
    length: u64,
) -> [u8; TABLE_ENTRY_LEN] {
    use byteorder::{ByteOrder, LittleEndian as Le};
    let mut b = [0u8; TABLE_ENTRY_LEN];
    Le::write_u16(&mut b[field::ID..], id);
    b[field::DTYPE] = DTYPE_F32;
    b[field::RANK] = u8::try_from(shape.rank()).unwrap_or(0);
    for (i, d) in shape.padded_dims().iter().enumerate() {
        Le::write_u32(
            &mut b[field::DIMS + 4 * i..],
            u32::try_from(*d).unwrap_or(u32::MAX),
        );
    }
    Le::write_u64(&mut b[field::OFFSET..], offset);
    Le::write_u64(&mut b[field::LENGTH..], length);
    b
}

/// Step 10 of the validation order. Returns the 18 required entries' data as views.
pub(crate) fn parse<'a>(
    bytes: &'a [u8],
    table: &'a [u8],
    header: &Header,
    arch: &Architecture,
) -> Result<[LeF32<'a>; ENTRY_COUNT], FormatError> {
    let (count, entry_len, newer) = (header.table_count, header.table_entry_len, header.newer());
    let (data_offset, data_end) = (header.data_offset, header.data_end());
    if count < ENTRY_COUNT || (!newer && count != ENTRY_COUNT) || count > MAX_TABLE_ENTRIES {
        return Err(FormatError::BadTensorCount { found: count });
    }
    let mut views = [LeF32::EMPTY; ENTRY_COUNT];
    let data_end64 = data_end as u64;
    let mut previous_end = data_offset as u64;
    let mut previous_id = 0u16;
    for index in 0..count {
        let raw = index
            .checked_mul(entry_len)
            .and_then(|start| table.get(start..start.checked_add(TABLE_ENTRY_LEN)?))
            .and_then(RawEntry::decode)
            .ok_or(FormatError::BadLayout {
                section: Section::Table,
            })?;
        let entry = Entry::from_id(raw.id);
        let in_order = if index < ENTRY_COUNT {
            usize::from(raw.id) == index
        } else {
            matches!(entry, Entry::Extension(_)) && raw.id > previous_id
        };
        if !in_order {
            return Err(FormatError::BadTensorId {
                index,
                found: raw.id,
            });
        }
        previous_id = raw.id;
        if raw.padding != 0 {
            return Err(FormatError::BadLayout {
                section: Section::Table,
            });
        }
        if let Some(shape) = entry.shape(arch) {
            if raw.dtype != DTYPE_F32 {
                return Err(FormatError::UnsupportedDtype {
                    entry,
                    found: raw.dtype,
                });
            }
            if !raw.matches(&shape) {
                return Err(FormatError::BadTensorShape {
                    entry,
                    rank: raw.rank,
                    dims: raw.dims,
                });
            }
            // The architecture check bounds every element count far below 2^62.
            if Some(raw.length) != (shape.len() as u64).checked_mul(4) {
                return Err(FormatError::BadTensorLength {
                    entry,
                    length: raw.length,
                });
            }
        }
        if raw.offset % ALIGN as u64 != 0 {
            return Err(FormatError::MisalignedTensor {
                entry,
                offset: raw.offset,
            });
        }
        let expected = previous_end.next_multiple_of(ALIGN as u64);
        if raw.offset < expected {
            return Err(FormatError::OverlappingTensors {
                entry,
                offset: raw.offset,
                previous_end,
            });
        }
        if raw.offset > expected {
            return Err(FormatError::TensorGap {
                entry,
                offset: raw.offset,
                expected,
            });
        }
        let end = raw.offset.saturating_add(raw.length);
        if end > data_end64 {
            return Err(FormatError::TensorOutOfBounds {
                entry,
                end,
                data_end: data_end64,
            });
        }
        // Both are ≤ data_end, which is a usize.
        let (start, stop) = (raw.offset as usize, end as usize);
        let padding = bytes.get(previous_end as usize..start).unwrap_or(&[]);
        if let Some(i) = padding.iter().position(|&b| b != 0) {
            return Err(FormatError::NonZeroPadding {
                offset: previous_end as usize + i,
            });
        }
        if let Some(slot) = views.get_mut(index) {
            *slot = bytes
                .get(start..stop)
                .and_then(LeF32::new)
                .ok_or(FormatError::BadLayout {
                    section: Section::Data,
                })?;
        }
        previous_end = end;
    }
    if previous_end != data_end64 {
        return Err(FormatError::DataEndMismatch {
            end: previous_end,
            expected: data_end64,
        });
    }
    Ok(views)
}
