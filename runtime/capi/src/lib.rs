//! The C interface of `gmvae-runtime`: parse a model, classify an image, reclassify a
//! rejected one — from C firmware or any language with a C FFI.
//!
//! * **No allocation.** The caller owns every byte: the model file (read in place, never
//!   copied), a [`GmvaeModel`] handle (a fixed-size struct, e.g. a `static`), the `float`
//!   workspace ([`GmvaeModelInfo`] says how many) and the result structs.
//! * **Every failure is a status code** (`GMVAE_STATUS_*`, [`gmvae_status_name`] names it);
//!   nothing panics, nothing aborts, and no output is written unless the call returns
//!   [`GMVAE_OK`] (the model handle excepted: a failed parse marks it unparsed).
//! * **The same bits as the Rust API**: every function calls `gmvae_runtime` directly
//!   (`runtime/NUMERICS.md` defines the arithmetic).
//!
//! The header `include/gmvae.h` is generated from this file by cbindgen; the test
//! `tests/header.rs` fails when the committed header differs from what this file declares.
//! `c/classify_golden.c` is a complete example, run on the host and inside the Cortex-M
//! firmware by `runtime/firmware/run.sh`.
//!
//! The `extern "C"` functions are this crate's only `unsafe` code; each states its contract
//! under "Safety". Pointers are checked for null and alignment (a status, not undefined
//! behaviour); what cannot be checked — that a pointer really addresses as many values as
//! its length says, and that the model bytes stay unchanged while a handle refers to them —
//! is the caller's part of the contract.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod status;

use core::ffi::c_char;
use core::mem::{align_of, size_of};
use core::ptr;

use gmvae_runtime::{Error, Model, ReclassifySettings};

pub use status::*;

/// `uint64_t`s in a [`GmvaeModel`]: one tag word and room for the parsed model on every
/// target (checked at compile time).
pub const GMVAE_MODEL_WORDS: usize = 160;

/// Largest latent dimension (the length a latent output buffer never needs to exceed).
pub const GMVAE_MAX_LATENT: usize = 256;
const _: () = assert!(GMVAE_MAX_LATENT == gmvae_runtime::MAX_LATENT);

/// The tag word of a parsed [`GmvaeModel`] ("gmvaeCAP" in ASCII).
const PARSED: u64 = u64::from_le_bytes(*b"gmvaeCAP");

// The parsed model fits behind the tag word, and `u64` alignment suffices for it.
const _: () = assert!(size_of::<Model<'static>>() <= (GMVAE_MODEL_WORDS - 1) * size_of::<u64>());
const _: () = assert!(align_of::<Model<'static>>() <= align_of::<u64>());

/// A parsed model: opaque storage the caller provides (a `static`, a stack variable, a
/// field of its own struct). [`gmvae_model_parse`] fills it; it refers to the model bytes
/// it was parsed from, which must stay valid and unchanged while it is used. A zeroed
/// handle is "not parsed" ([`GMVAE_STATUS_NOT_PARSED`]).
#[repr(C)]
pub struct GmvaeModel {
    /// Opaque: a tag word, then the parsed model.
    pub storage: [u64; GMVAE_MODEL_WORDS],
}

/// A model's sizes, thresholds and workspace needs.
#[repr(C)]
pub struct GmvaeModelInfo {
    /// Input channels `C` (1 grey, 3 colour).
    pub channels: u32,
    /// Image height `H`.
    pub height: u32,
    /// Image width `W`.
    pub width: u32,
    /// `C·H·W`: `float`s per image, also per reconstruction.
    pub image_len: usize,
    /// Number of classes.
    pub classes: u32,
    /// Latent dimension (the length of a latent output buffer).
    pub latent: u32,
    /// Largest accepted squared Mahalanobis distance.
    pub tau_enc: f32,
    /// Largest accepted reconstruction error.
    pub tau_dec: f32,
    /// `float`s of workspace [`gmvae_classify`] needs.
    pub workspace_classify: usize,
    /// The fewest `float`s of workspace [`gmvae_reclassify`] needs (one start at a time).
    pub workspace_reclassify: usize,
    /// `float`s with which [`gmvae_reclassify`] runs every start in lockstep (fastest).
    pub workspace_reclassify_lockstep: usize,
}

/// The result of [`gmvae_classify`].
#[repr(C)]
pub struct GmvaeVerdict {
    /// The class whose mean is nearest to the latent code.
    pub label: u32,
    /// Both thresholds hold.
    pub accepted: bool,
    /// The squared Mahalanobis distance exceeds τ_enc.
    pub rejected_latent: bool,
    /// The reconstruction error exceeds τ_dec.
    pub rejected_reconstruction: bool,
    /// Squared Mahalanobis distance of the latent code to the label's mean.
    pub mahalanobis_sq: f32,
    /// `Σ (x − g(z))²` over the image.
    pub reconstruction_error: f32,
}

/// How [`gmvae_reclassify`] searches the latent space ([`gmvae_reclassify_default_settings`]
/// gives the runtime's defaults; the Rust `ReclassifySettings` documents every field).
#[repr(C)]
pub struct GmvaeReclassifySettings {
    /// Adam steps per start.
    pub steps: u32,
    /// Adam step size; finite, `> 0`.
    pub learning_rate: f32,
    /// Adam `β1`, in `[0, 1)`.
    pub beta1: f32,
    /// Adam `β2`, in `[0, 1)`.
    pub beta2: f32,
    /// Adam `ε`; finite, `> 0`.
    pub epsilon: f32,
    /// Early stopping tolerance; `0` never stops early.
    pub early_stop_tolerance: f32,
    /// Reject the result as a fooling input when it fails a threshold (the paper's rule).
    pub reject_fooling: bool,
    /// Keep every start inside its class's acceptance ellipsoid.
    pub confine_to_class: bool,
    /// The confining ellipsoid's fraction of τ_enc, in `(0, 1]`.
    pub confine_fraction: f32,
}

/// The result of [`gmvae_reclassify`].
#[repr(C)]
pub struct GmvaeReclassified {
    /// The class mean nearest to the winning latent code.
    pub label: u32,
    /// The winning start (the class whose mean it started from).
    pub start: u32,
    /// The decision: accepted unless `reject_fooling` was set and a threshold failed.
    pub accepted: bool,
    /// Whether the winning latent code passes both thresholds (whatever `reject_fooling`).
    pub passes_thresholds: bool,
    /// Squared Mahalanobis distance of the winning latent code to the label's mean.
    pub mahalanobis_sq: f32,
    /// The winning reconstruction error.
    pub reconstruction_error: f32,
}

/// Parses and validates a model file (format, checksum, sizes) into `out`.
///
/// Returns [`GMVAE_OK`], [`GMVAE_STATUS_NULL_POINTER`], [`GMVAE_STATUS_FORMAT`],
/// [`GMVAE_STATUS_LATENT_TOO_WIDE`] or [`GMVAE_STATUS_MODEL_TOO_LARGE`]. On failure `out`
/// is marked not parsed.
///
/// # Safety
/// `bytes` addresses `len` readable bytes that stay valid and unchanged for as long as `out`
/// is used; `out` addresses a writable [`GmvaeModel`].
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmvae_model_parse(
    bytes: *const u8,
    len: usize,
    out: *mut GmvaeModel,
) -> GmvaeStatus {
    if out.is_null() {
        return GMVAE_STATUS_NULL_POINTER;
    }
    if !out.is_aligned() {
        return GMVAE_STATUS_MISALIGNED;
    }
    // SAFETY: `out` is non-null, aligned and, by the contract, a writable `GmvaeModel`.
    let handle = unsafe { &mut *out };
    handle.storage = [0; GMVAE_MODEL_WORDS];
    if bytes.is_null() {
        return GMVAE_STATUS_NULL_POINTER;
    }
    if len > isize::MAX as usize {
        return GMVAE_STATUS_INVALID_LENGTH;
    }
    // SAFETY: by the contract `bytes` addresses `len` bytes that outlive every use of the
    // handle, which is the only place the `'static` borrow is kept.
    let file: &'static [u8] = unsafe { core::slice::from_raw_parts(bytes, len) };
    match Model::parse(file) {
        Ok(model) => {
            let [tag, rest @ ..] = &mut handle.storage;
            // SAFETY: `rest` holds `GMVAE_MODEL_WORDS − 1` u64s: room for a `Model` with
            // at most u64 alignment (both asserted at compile time). `Model` is `Copy`, so
            // overwriting it later needs no drop.
            unsafe { ptr::write(rest.as_mut_ptr().cast::<Model<'static>>(), model) };
            *tag = PARSED;
            GMVAE_OK
        }
        Err(e) => status_of(e),
    }
}

/// Fills `out` with the model's sizes, thresholds and workspace needs.
///
/// Returns [`GMVAE_OK`], [`GMVAE_STATUS_NULL_POINTER`] or [`GMVAE_STATUS_NOT_PARSED`].
///
/// # Safety
/// `model` addresses a [`GmvaeModel`] (zeroed or filled by [`gmvae_model_parse`]) whose
/// model bytes are still valid; `out` addresses a writable [`GmvaeModelInfo`].
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmvae_model_info(
    model: *const GmvaeModel,
    out: *mut GmvaeModelInfo,
) -> GmvaeStatus {
    // SAFETY: forwarded contract.
    let model = match unsafe { parsed(model) } {
        Ok(m) => m,
        Err(s) => return s,
    };
    if out.is_null() {
        return GMVAE_STATUS_NULL_POINTER;
    }
    let a = model.architecture();
    let t = model.thresholds();
    let ws = model.workspace_sizes();
    let info = GmvaeModelInfo {
        channels: to_u32(a.in_channels),
        height: to_u32(a.height),
        width: to_u32(a.width),
        image_len: model.image_len(),
        classes: to_u32(a.classes),
        latent: to_u32(a.latent),
        tau_enc: t.tau_enc,
        tau_dec: t.tau_dec,
        workspace_classify: ws.classify,
        workspace_reclassify: ws.reclassify,
        workspace_reclassify_lockstep: ws.reclassify_lockstep,
    };
    // SAFETY: `out` is non-null and, by the contract, writable.
    unsafe { ptr::write(out, info) };
    GMVAE_OK
}

/// Classifies one image (`image_len` floats in `[0, 1]`, `[C][H][W]` order) and fills
/// `out`; when `latent` is not null, also writes the latent code (`latent_len` must be at
/// least the model's latent dimension).
///
/// Returns [`GMVAE_OK`] or the status of the first failed check: null or misaligned
/// pointers, [`GMVAE_STATUS_NOT_PARSED`], [`GMVAE_STATUS_BUFFER_TOO_SMALL`] (latent),
/// [`GMVAE_STATUS_WORKSPACE_TOO_SMALL`], [`GMVAE_STATUS_IMAGE_LENGTH`],
/// [`GMVAE_STATUS_NON_FINITE_INPUT`], [`GMVAE_STATUS_PIXEL_OUT_OF_RANGE`],
/// [`GMVAE_STATUS_NON_FINITE_OUTPUT`].
///
/// # Safety
/// `model` as for [`gmvae_model_info`]; `image` addresses `image_len` readable floats;
/// `workspace` addresses `workspace_len` writable floats that overlap nothing else passed;
/// `out` a writable [`GmvaeVerdict`]; `latent`, unless null, `latent_len` writable floats.
#[allow(unsafe_code, clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmvae_classify(
    model: *const GmvaeModel,
    image: *const f32,
    image_len: usize,
    workspace: *mut f32,
    workspace_len: usize,
    out: *mut GmvaeVerdict,
    latent: *mut f32,
    latent_len: usize,
) -> GmvaeStatus {
    // SAFETY: forwarded contract; `checked` checks null, alignment and lengths.
    let call = match unsafe {
        checked(
            model,
            image,
            image_len,
            workspace,
            workspace_len,
            latent,
            latent_len,
            out,
        )
    } {
        Ok(c) => c,
        Err(s) => return s,
    };
    let verdict = match call.model.classify(call.image, call.ws) {
        Ok(v) => v,
        Err(e) => return status_of(e),
    };
    let (rejected_latent, rejected_reconstruction) = verdict.decision.rejection_flags();
    let result = GmvaeVerdict {
        label: to_u32(verdict.label),
        accepted: verdict.decision.is_accepted(),
        rejected_latent,
        rejected_reconstruction,
        mahalanobis_sq: verdict.mahalanobis_sq,
        reconstruction_error: verdict.reconstruction_error,
    };
    call.copy_latent(&verdict.latent);
    // SAFETY: `checked` found `out` non-null; by the contract it is writable.
    unsafe { ptr::write(out, result) };
    GMVAE_OK
}

/// The runtime's default reclassification settings (50 Adam steps, the paper's search).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn gmvae_reclassify_default_settings() -> GmvaeReclassifySettings {
    let d = ReclassifySettings::DEFAULT;
    GmvaeReclassifySettings {
        steps: d.steps,
        learning_rate: d.learning_rate,
        beta1: d.beta1,
        beta2: d.beta2,
        epsilon: d.epsilon,
        early_stop_tolerance: d.early_stop_tolerance,
        reject_fooling: d.reject_fooling,
        confine_to_class: d.confine_to_class,
        confine_fraction: d.confine_fraction,
    }
}

/// Reclassifies an image by latent search through the decoder (paper §3.5) and fills
/// `out`; when `latent` is not null, also writes the winning latent code.
///
/// `settings` may be null for [`gmvae_reclassify_default_settings`]. The workspace needs at
/// least `workspace_reclassify` floats ([`GmvaeModelInfo`]); more runs starts in lockstep
/// (faster, the same bits). Returns [`GMVAE_OK`], the statuses of [`gmvae_classify`], or
/// [`GMVAE_STATUS_INVALID_SETTING`].
///
/// # Safety
/// As for [`gmvae_classify`]; `settings`, unless null, addresses a readable
/// [`GmvaeReclassifySettings`].
#[allow(unsafe_code, clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmvae_reclassify(
    model: *const GmvaeModel,
    image: *const f32,
    image_len: usize,
    workspace: *mut f32,
    workspace_len: usize,
    settings: *const GmvaeReclassifySettings,
    out: *mut GmvaeReclassified,
    latent: *mut f32,
    latent_len: usize,
) -> GmvaeStatus {
    // SAFETY: forwarded contract; `checked` checks null, alignment and lengths.
    let call = match unsafe {
        checked(
            model,
            image,
            image_len,
            workspace,
            workspace_len,
            latent,
            latent_len,
            out,
        )
    } {
        Ok(c) => c,
        Err(s) => return s,
    };
    let settings = if settings.is_null() {
        ReclassifySettings::DEFAULT
    } else if !settings.is_aligned() {
        return GMVAE_STATUS_MISALIGNED;
    } else {
        // SAFETY: non-null, aligned and, by the contract, readable.
        let s = unsafe { &*settings };
        ReclassifySettings {
            steps: s.steps,
            learning_rate: s.learning_rate,
            beta1: s.beta1,
            beta2: s.beta2,
            epsilon: s.epsilon,
            early_stop_tolerance: s.early_stop_tolerance,
            reject_fooling: s.reject_fooling,
            confine_to_class: s.confine_to_class,
            confine_fraction: s.confine_fraction,
        }
    };
    let r = match call.model.reclassify(call.image, call.ws, &settings) {
        Ok(r) => r,
        Err(e) => return status_of(e),
    };
    let result = GmvaeReclassified {
        label: to_u32(r.label),
        start: to_u32(r.start),
        accepted: r.decision.is_accepted(),
        passes_thresholds: r.threshold_test.is_accepted(),
        mahalanobis_sq: r.mahalanobis_sq,
        reconstruction_error: r.reconstruction_error,
    };
    call.copy_latent(&r.latent);
    // SAFETY: `checked` found `out` non-null; by the contract it is writable.
    unsafe { ptr::write(out, result) };
    GMVAE_OK
}

/// A static, NUL-terminated name of a status code ("GMVAE_OK", "GMVAE_STATUS_FORMAT", …;
/// "unknown status" for any other value). Never null; the caller must not free it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn gmvae_status_name(status: GmvaeStatus) -> *const c_char {
    status::name(status).as_ptr()
}

/// The checked arguments of a call on one image.
struct ImageCall<'a> {
    /// The parsed model.
    model: Model<'static>,
    /// The image.
    image: &'a [f32],
    /// The caller's workspace.
    ws: &'a mut [f32],
    /// The optional latent output, exactly the model's latent length.
    latent: Option<&'a mut [f32]>,
}

impl ImageCall<'_> {
    /// Writes `z` to the latent output, if the caller asked for it.
    fn copy_latent(self, z: &[f32]) {
        if let Some(buffer) = self.latent {
            for (dst, src) in buffer.iter_mut().zip(z) {
                *dst = *src;
            }
        }
    }
}

/// The arguments [`gmvae_classify`] and [`gmvae_reclassify`] share, checked in their
/// documented order (model, image, workspace, latent output, result pointer).
///
/// # Safety
/// As for [`gmvae_classify`] (`out` is only checked for null here).
#[allow(unsafe_code, clippy::too_many_arguments)]
unsafe fn checked<'a, T>(
    model: *const GmvaeModel,
    image: *const f32,
    image_len: usize,
    workspace: *mut f32,
    workspace_len: usize,
    latent: *mut f32,
    latent_len: usize,
    out: *mut T,
) -> Result<ImageCall<'a>, GmvaeStatus> {
    // SAFETY (all four): forwarded contract; each helper checks null, alignment and length.
    let model = unsafe { parsed(model) }?;
    let image = unsafe { floats(image, image_len) }?;
    let ws = unsafe { floats_mut(workspace, workspace_len) }?;
    let latent = unsafe { latent_buffer(&model, latent, latent_len) }?;
    if out.is_null() {
        return Err(GMVAE_STATUS_NULL_POINTER);
    }
    Ok(ImageCall {
        model,
        image,
        ws,
        latent,
    })
}

/// The model behind a handle, or the status saying why there is none.
///
/// # Safety
/// `handle`, unless null, addresses a readable [`GmvaeModel`] whose model bytes (if parsed)
/// are still valid.
#[allow(unsafe_code)]
unsafe fn parsed(handle: *const GmvaeModel) -> Result<Model<'static>, GmvaeStatus> {
    if handle.is_null() {
        return Err(GMVAE_STATUS_NULL_POINTER);
    }
    if !handle.is_aligned() {
        return Err(GMVAE_STATUS_MISALIGNED);
    }
    // SAFETY: non-null, aligned and, by the contract, readable.
    let [tag, rest @ ..] = unsafe { &(*handle).storage };
    if *tag != PARSED {
        return Err(GMVAE_STATUS_NOT_PARSED);
    }
    // SAFETY: the tag is only set by `gmvae_model_parse` after it wrote a `Model` at `rest`
    // (room and alignment asserted at compile time); `Model` is `Copy`.
    Ok(unsafe { ptr::read(rest.as_ptr().cast::<Model<'static>>()) })
}

/// `len` floats at `data`, checked for null, alignment and an addressable length.
///
/// # Safety
/// `data`, unless null, addresses `len` readable floats for the returned lifetime.
#[allow(unsafe_code)]
unsafe fn floats<'a>(data: *const f32, len: usize) -> Result<&'a [f32], GmvaeStatus> {
    check_pointer(data, len)?;
    // SAFETY: checked above; the rest is the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(data, len) })
}

/// `len` writable floats at `data`, checked as in [`floats`].
///
/// # Safety
/// `data`, unless null, addresses `len` writable floats, aliased by nothing else, for the
/// returned lifetime.
#[allow(unsafe_code)]
unsafe fn floats_mut<'a>(data: *mut f32, len: usize) -> Result<&'a mut [f32], GmvaeStatus> {
    check_pointer(data, len)?;
    // SAFETY: checked above; the rest is the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(data, len) })
}

/// The optional latent output: `None` for a null pointer, else the model's latent length of
/// the buffer (which must hold that many).
///
/// # Safety
/// As for [`floats_mut`].
#[allow(unsafe_code)]
unsafe fn latent_buffer<'a>(
    model: &Model<'_>,
    data: *mut f32,
    len: usize,
) -> Result<Option<&'a mut [f32]>, GmvaeStatus> {
    if data.is_null() {
        return Ok(None);
    }
    let needed = model.architecture().latent;
    if len < needed {
        return Err(GMVAE_STATUS_BUFFER_TOO_SMALL);
    }
    // SAFETY: forwarded contract; only the first `needed` of `len` floats are used.
    let buffer = unsafe { floats_mut(data, len) }?;
    Ok(buffer.get_mut(..needed))
}

/// Null, alignment and length checks shared by the slice helpers.
fn check_pointer(data: *const f32, len: usize) -> Result<(), GmvaeStatus> {
    if data.is_null() {
        return Err(GMVAE_STATUS_NULL_POINTER);
    }
    if !data.is_aligned() {
        return Err(GMVAE_STATUS_MISALIGNED);
    }
    if len > isize::MAX as usize / size_of::<f32>() {
        return Err(GMVAE_STATUS_INVALID_LENGTH);
    }
    Ok(())
}

/// A size as `uint32_t` (the runtime's sizes are far below 2³², checked when parsing).
fn to_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The status code of a runtime error.
fn status_of(e: Error) -> GmvaeStatus {
    match e {
        Error::Format(_) => GMVAE_STATUS_FORMAT,
        Error::LatentTooWide { .. } => GMVAE_STATUS_LATENT_TOO_WIDE,
        Error::ModelTooLarge => GMVAE_STATUS_MODEL_TOO_LARGE,
        Error::WorkspaceTooSmall { .. } => GMVAE_STATUS_WORKSPACE_TOO_SMALL,
        Error::ImageLength { .. } => GMVAE_STATUS_IMAGE_LENGTH,
        Error::NonFiniteInput { .. } => GMVAE_STATUS_NON_FINITE_INPUT,
        Error::PixelOutOfRange { .. } => GMVAE_STATUS_PIXEL_OUT_OF_RANGE,
        Error::InvalidSetting { .. } => GMVAE_STATUS_INVALID_SETTING,
        Error::NonFiniteOutput => GMVAE_STATUS_NON_FINITE_OUTPUT,
        _ => GMVAE_STATUS_INTERNAL,
    }
}

#[cfg(test)]
mod tests;
