//! Status codes: what every C function returns.

use core::ffi::CStr;

/// What a `gmvae_*` function returns: [`GMVAE_OK`] or one `GMVAE_STATUS_*` code.
pub type GmvaeStatus = i32;

/// Success: the outputs are written.
pub const GMVAE_OK: GmvaeStatus = 0;
/// A required pointer was null.
pub const GMVAE_STATUS_NULL_POINTER: GmvaeStatus = 1;
/// A pointer is not aligned for its type.
pub const GMVAE_STATUS_MISALIGNED: GmvaeStatus = 2;
/// A length exceeds what the target can address.
pub const GMVAE_STATUS_INVALID_LENGTH: GmvaeStatus = 3;
/// The model handle was never parsed, or its parse failed.
pub const GMVAE_STATUS_NOT_PARSED: GmvaeStatus = 4;
/// The model file was rejected by the format reader (magic, version, checksum, sizes).
pub const GMVAE_STATUS_FORMAT: GmvaeStatus = 5;
/// The model's latent dimension exceeds `GMVAE_MAX_LATENT`.
pub const GMVAE_STATUS_LATENT_TOO_WIDE: GmvaeStatus = 6;
/// The model's sizes exceed what this target can address or the runtime supports.
pub const GMVAE_STATUS_MODEL_TOO_LARGE: GmvaeStatus = 7;
/// The workspace holds fewer floats than the call needs (`GmvaeModelInfo` says how many).
pub const GMVAE_STATUS_WORKSPACE_TOO_SMALL: GmvaeStatus = 8;
/// The image does not have `C·H·W` values.
pub const GMVAE_STATUS_IMAGE_LENGTH: GmvaeStatus = 9;
/// An image value is NaN or infinite.
pub const GMVAE_STATUS_NON_FINITE_INPUT: GmvaeStatus = 10;
/// An image value is outside `[0, 1]`.
pub const GMVAE_STATUS_PIXEL_OUT_OF_RANGE: GmvaeStatus = 11;
/// A reclassification setting is out of its range.
pub const GMVAE_STATUS_INVALID_SETTING: GmvaeStatus = 12;
/// The network produced a NaN or infinite value for this input.
pub const GMVAE_STATUS_NON_FINITE_OUTPUT: GmvaeStatus = 13;
/// An output buffer (the latent code) is shorter than the model's latent dimension.
pub const GMVAE_STATUS_BUFFER_TOO_SMALL: GmvaeStatus = 14;
/// An internal consistency check failed (a runtime bug, reported instead of a crash).
pub const GMVAE_STATUS_INTERNAL: GmvaeStatus = 15;

/// Every status code with its name, in code order.
pub(crate) const NAMES: [(GmvaeStatus, &CStr); 16] = [
    (GMVAE_OK, c"GMVAE_OK"),
    (GMVAE_STATUS_NULL_POINTER, c"GMVAE_STATUS_NULL_POINTER"),
    (GMVAE_STATUS_MISALIGNED, c"GMVAE_STATUS_MISALIGNED"),
    (GMVAE_STATUS_INVALID_LENGTH, c"GMVAE_STATUS_INVALID_LENGTH"),
    (GMVAE_STATUS_NOT_PARSED, c"GMVAE_STATUS_NOT_PARSED"),
    (GMVAE_STATUS_FORMAT, c"GMVAE_STATUS_FORMAT"),
    (
        GMVAE_STATUS_LATENT_TOO_WIDE,
        c"GMVAE_STATUS_LATENT_TOO_WIDE",
    ),
    (
        GMVAE_STATUS_MODEL_TOO_LARGE,
        c"GMVAE_STATUS_MODEL_TOO_LARGE",
    ),
    (
        GMVAE_STATUS_WORKSPACE_TOO_SMALL,
        c"GMVAE_STATUS_WORKSPACE_TOO_SMALL",
    ),
    (GMVAE_STATUS_IMAGE_LENGTH, c"GMVAE_STATUS_IMAGE_LENGTH"),
    (
        GMVAE_STATUS_NON_FINITE_INPUT,
        c"GMVAE_STATUS_NON_FINITE_INPUT",
    ),
    (
        GMVAE_STATUS_PIXEL_OUT_OF_RANGE,
        c"GMVAE_STATUS_PIXEL_OUT_OF_RANGE",
    ),
    (
        GMVAE_STATUS_INVALID_SETTING,
        c"GMVAE_STATUS_INVALID_SETTING",
    ),
    (
        GMVAE_STATUS_NON_FINITE_OUTPUT,
        c"GMVAE_STATUS_NON_FINITE_OUTPUT",
    ),
    (
        GMVAE_STATUS_BUFFER_TOO_SMALL,
        c"GMVAE_STATUS_BUFFER_TOO_SMALL",
    ),
    (GMVAE_STATUS_INTERNAL, c"GMVAE_STATUS_INTERNAL"),
];

/// The name of a status code, or "unknown status".
pub(crate) fn name(status: GmvaeStatus) -> &'static CStr {
    NAMES
        .iter()
        .find(|(code, _)| *code == status)
        .map_or(c"unknown status", |(_, name)| name)
}
