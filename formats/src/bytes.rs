//! Bounds-checked little-endian field reads (byteorder over `get`-checked slices).

use byteorder::{ByteOrder, LittleEndian};

/// Reads the `N` bytes at `offset`, or `None` if they are not all inside `bytes`.
fn field<const N: usize>(bytes: &[u8], offset: usize) -> Option<&[u8]> {
    bytes.get(offset..offset.checked_add(N)?)
}

/// The byte at `offset`.
pub(crate) fn u8_at(bytes: &[u8], offset: usize) -> Option<u8> {
    bytes.get(offset).copied()
}

/// The little-endian `u16` at `offset`.
pub(crate) fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    field::<2>(bytes, offset).map(LittleEndian::read_u16)
}

/// The little-endian `u32` at `offset`.
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    field::<4>(bytes, offset).map(LittleEndian::read_u32)
}

/// The little-endian `u64` at `offset`.
pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    field::<8>(bytes, offset).map(LittleEndian::read_u64)
}

/// The little-endian `f32` at `offset`.
pub(crate) fn f32_at(bytes: &[u8], offset: usize) -> Option<f32> {
    field::<4>(bytes, offset).map(LittleEndian::read_f32)
}

/// Converts a `u64` read from a file to `usize`, saturating (every caller compares the
/// result with a limit far below `usize::MAX`).
pub(crate) fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Converts a `u32` read from a file to `usize`, saturating.
pub(crate) fn u32_to_usize(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_little_endian_and_bounded() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(u16_at(&b, 0), Some(0x0201));
        assert_eq!(u32_at(&b, 4), Some(0x0807_0605));
        assert_eq!(u64_at(&b, 0), Some(0x0807_0605_0403_0201));
        assert_eq!(u32_at(&b, 5), None);
        assert_eq!(u64_at(&b, usize::MAX), None);
        assert_eq!(u8_at(&b, 8), None);
        assert_eq!(f32_at(&1.5f32.to_le_bytes(), 0), Some(1.5));
    }
}
