//! Numeric constants of the version 1.0 layout: magic, version, structure sizes and field
//! offsets (see `SPEC.md`, "Byte layout").

/// The 8 magic bytes every file starts with: `89 47 4D 56 41 45 0D 0A` ("\x89GMVAE\r\n").
pub const MAGIC: [u8; 8] = *b"\x89GMVAE\r\n";
/// Major version this crate reads and writes; any other major version is rejected.
pub const MAJOR: u16 = 1;
/// Minor version this crate writes and fully understands; newer minors are read as 1.0.
pub const MINOR: u16 = 0;
/// Size of the fixed header in a 1.0 file.
pub const HEADER_LEN: usize = 64;
/// Size of one architecture layer record in a 1.0 file.
pub const LAYER_RECORD_LEN: usize = 24;
/// Size of the calibration block in a 1.0 file.
pub const CALIBRATION_LEN: usize = 40;
/// Size of one tensor table entry in a 1.0 file.
pub const TABLE_ENTRY_LEN: usize = 40;
/// Alignment of every tensor's data offset, in bytes, relative to the start of the file.
pub const ALIGN: usize = 16;
/// Size of the CRC32 trailer at the very end of the file.
pub const TRAILER_LEN: usize = 4;
/// Number of layer records of the one supported architecture family.
pub const LAYER_COUNT: usize = 15;
/// Number of required tensor table entries: the 16 network tensors, class means, precisions.
pub const ENTRY_COUNT: usize = 18;
/// Data type code of little-endian IEEE-754 binary32, the only one defined in 1.x.
pub const DTYPE_F32: u8 = 1;

/// Byte offsets of the fixed header's fields.
pub mod header {
    /// `[u8; 8]` magic.
    pub const MAGIC: usize = 0;
    /// `u16` major version.
    pub const MAJOR: usize = 8;
    /// `u16` minor version.
    pub const MINOR: usize = 10;
    /// `u32` size of the fixed header.
    pub const HEADER_LEN: usize = 12;
    /// `u64` total file length, trailer included.
    pub const FILE_LEN: usize = 16;
    /// `u32` offset of the architecture section.
    pub const ARCH_OFFSET: usize = 24;
    /// `u16` number of layer records.
    pub const ARCH_COUNT: usize = 28;
    /// `u16` size of one layer record.
    pub const ARCH_RECORD_LEN: usize = 30;
    /// `u32` offset of the calibration block.
    pub const CALIB_OFFSET: usize = 32;
    /// `u32` size of the calibration block.
    pub const CALIB_LEN: usize = 36;
    /// `u32` offset of the strings section.
    pub const STRINGS_OFFSET: usize = 40;
    /// `u32` size of the strings section.
    pub const STRINGS_LEN: usize = 44;
    /// `u32` offset of the tensor table.
    pub const TABLE_OFFSET: usize = 48;
    /// `u16` number of tensor table entries.
    pub const TABLE_COUNT: usize = 52;
    /// `u16` size of one tensor table entry.
    pub const TABLE_ENTRY_LEN: usize = 54;
    /// `u32` offset of the data region (first tensor).
    pub const DATA_OFFSET: usize = 56;
    /// `u32` padding, must be zero.
    pub const PADDING: usize = 60;
}

/// Byte offsets of a layer record's fields.
pub mod layer {
    /// `u16` layer kind code.
    pub const KIND: usize = 0;
    /// `u16` activation code.
    pub const ACTIVATION: usize = 2;
    /// `u32` input channels or features.
    pub const INPUTS: usize = 4;
    /// `u32` output channels or features.
    pub const OUTPUTS: usize = 8;
    /// `u32` spatial height (0 for dense layers).
    pub const HEIGHT: usize = 12;
    /// `u32` spatial width (0 for dense layers).
    pub const WIDTH: usize = 16;
    /// `u8` kernel size, pooling window or upsampling factor.
    pub const KERNEL: usize = 20;
    /// `u8` stride.
    pub const STRIDE: usize = 21;
    /// `u8` zero padding.
    pub const PADDING: usize = 22;
    /// `u8` must be zero.
    pub const RESERVED: usize = 23;
}

/// Byte offsets of the calibration block's fields.
pub mod calibration {
    /// `u32` number of classes.
    pub const CLASSES: usize = 0;
    /// `u32` covariance kind code.
    pub const COVARIANCE: usize = 4;
    /// `f32` fixed encoder variance.
    pub const S2: usize = 8;
    /// `f32` latent threshold.
    pub const TAU_ENC: usize = 12;
    /// `f32` reconstruction threshold.
    pub const TAU_DEC: usize = 16;
    /// `f32` confidence level.
    pub const CONFIDENCE: usize = 20;
    /// `u32` reconstruction statistic kind code.
    pub const STATISTIC: usize = 24;
    /// `f32` reconstruction statistic parameter.
    pub const STATISTIC_PARAMETER: usize = 28;
    /// `u64` number of calibration samples.
    pub const SAMPLES: usize = 32;
}

/// Byte offsets of a tensor table entry's fields.
pub mod entry {
    /// `u16` entry id.
    pub const ID: usize = 0;
    /// `u8` data type code.
    pub const DTYPE: usize = 2;
    /// `u8` rank (1..=4).
    pub const RANK: usize = 3;
    /// `u32` padding, must be zero.
    pub const PADDING: usize = 4;
    /// `[u32; 4]` dimensions, outermost first, zero past the rank.
    pub const DIMS: usize = 8;
    /// `u64` absolute byte offset of the data.
    pub const OFFSET: usize = 24;
    /// `u64` byte length of the data.
    pub const LENGTH: usize = 32;
}

/// Rounds `value` up to the next multiple of [`ALIGN`]; `None` on overflow.
pub const fn align_up(value: usize) -> Option<usize> {
    match value.checked_add(ALIGN - 1) {
        Some(v) => Some(v & !(ALIGN - 1)),
        None => None,
    }
}
