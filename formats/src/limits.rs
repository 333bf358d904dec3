//! Explicit maxima enforced by the reader and the writer (see `SPEC.md`, "Maxima").
//!
//! Every size read from a file is compared with one of these before it is used in any
//! arithmetic, so that all later products fit comfortably in `u64` (and, once the file-size
//! limit holds, in a 32-bit `usize`).

/// Largest accepted file, in bytes (1 GiB), trailer included.
pub const MAX_FILE_LEN: usize = 1 << 30;
/// Largest channel count (`in_channels`, `conv1`, `conv2`).
pub const MAX_CHANNELS: usize = 1024;
/// Largest input height or width.
pub const MAX_SPATIAL: usize = 1024;
/// Largest hidden width of the dense layers.
pub const MAX_HIDDEN: usize = 65536;
/// Largest latent dimension.
///
/// Bounded by the positive-definiteness check, which factors each precision matrix in a
/// stack buffer of `latent·(latent+1)/2` `f64`s (66 KiB at 128; see `SPEC.md`).
pub const MAX_LATENT: usize = 128;
/// Largest number of classes (also bounded by `latent`, which must be ≥ `classes`).
pub const MAX_CLASSES: usize = 128;
/// Largest dataset or class name, in UTF-8 bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Largest fixed header a newer-minor file may declare.
pub const MAX_HEADER_LEN: usize = 4096;
/// Largest layer record or tensor table entry a newer-minor file may declare.
pub const MAX_RECORD_LEN: usize = 256;
/// Largest calibration block a newer-minor file may declare.
pub const MAX_CALIBRATION_LEN: usize = 4096;
/// Largest strings section.
pub const MAX_STRINGS_LEN: usize = 65536;
/// Largest number of tensor table entries (18 are required; newer minors may add more).
pub const MAX_TABLE_ENTRIES: usize = 64;
/// With isotropic covariance, each diagonal precision `p` must satisfy `|p·s2 − 1| ≤` this
/// (computed in `f64`, where the product of two `f32` is exact), so `1/s2` may be rounded in
/// `f32` or from `f64`.
pub const ISOTROPIC_TOLERANCE: f64 = 1e-6;
