//! What the fuzz targets in `fuzz_targets/` check, shared between them: bytes as a model file
//! through the format reader and the runtime ([`check_model`]), the fix-up that makes a
//! mutated file's length field and CRC trailer consistent ([`fix_up`]), bytes as IDX
//! files through the trainer's readers ([`check_idx`]), and bytes as a PNG input through the
//! trainer's decoder ([`check_png`]).
//!
//! Each check panics (which libFuzzer reports as a crash) only when a documented guarantee
//! breaks: a panic inside the code under test, an [`Error::Internal`], an error that the
//! arguments rule out, or results that disagree where the documentation says they are equal.

use std::path::Path;

use gmvae_format::corrupt::refresh_crc;
use gmvae_format::layout::{header::FILE_LEN, MAJOR, MINOR};
use gmvae_format::{Architecture, ModelFile, ModelView};
use gmvae_runtime::{Decision, Error, Isa, Model, ReclassifySettings, Thresholds, Verdict};
use gmvae_trainer::data::idx::{encode_labels, parse_images, parse_labels, IdxImages};
use gmvae_trainer::data::ImageShape;
use gmvae_trainer::input::decode_png;

/// Models whose reclassification workspace ([`gmvae_runtime::WorkspaceSizes`]'s
/// `reclassify_lockstep`) is larger than this many `f32`s are only parsed, not run.
pub const MAX_WORKSPACE: usize = 1 << 16;

/// Files longer than this are not re-encoded (the golden model, 425 KB, would be, every run).
pub const MAX_REENCODE_LEN: usize = 1 << 16;

/// Models whose classification takes more multiply-adds than this ([`classify_cost`]) are
/// only parsed, not run (the golden model takes about 0.7 million).
pub const MAX_CLASSIFY_COST: u64 = 2_000_000;

/// Reclassification runs only when its cost ([`reclassify_cost`]) is at most this many
/// multiply-adds (so not on the golden model, about 30 million: tiny seeds cover it).
pub const MAX_RECLASSIFY_COST: u64 = 4_000_000;

/// Adam steps of the reclassification each model that runs gets.
pub const RECLASSIFY_STEPS: u32 = 2;

/// The name the IDX readers are told the bytes came from; every error message must name it.
pub const IDX_NAME: &str = "fuzz-input.idx";

/// Multiply-adds of the encoder's convolutions and dense layers, from the sizes (saturating).
pub fn encoder_cost(a: &Architecture) -> u64 {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    let pixels = n(a.height).saturating_mul(n(a.width));
    let conv1 = pixels.saturating_mul(
        n(a.in_channels)
            .saturating_mul(n(a.conv1))
            .saturating_mul(9),
    );
    let conv2 =
        (pixels / 4).saturating_mul(n(a.conv1).saturating_mul(n(a.conv2)).saturating_mul(9));
    let dense = n(a.flat_features())
        .saturating_mul(n(a.hidden))
        .saturating_add(n(a.hidden).saturating_mul(n(a.latent)));
    conv1.saturating_add(conv2).saturating_add(dense)
}

/// Multiply-adds of one classification: the encoder, then the decoder (the same layers
/// mirrored).
pub fn classify_cost(a: &Architecture) -> u64 {
    encoder_cost(a).saturating_mul(2)
}

/// Multiply-adds of a reclassification with [`RECLASSIFY_STEPS`]: per class, one decoder
/// pass and its backward pass (about twice the forward) per loss evaluation.
pub fn reclassify_cost(a: &Architecture) -> u64 {
    let evaluations = u64::from(RECLASSIFY_STEPS) + 1;
    encoder_cost(a)
        .saturating_mul(3)
        .saturating_mul(evaluations)
        .saturating_mul(u64::try_from(a.classes).unwrap_or(u64::MAX))
}

/// `data` with the file-length field (bytes 16..24, where the input has them) set to the
/// input's length and the last 4 bytes replaced by the CRC-32 of the bytes before them
/// (`SPEC.md` sections 3 and 9), so that a mutation gets past the length and checksum checks.
pub fn fix_up(data: &[u8]) -> Vec<u8> {
    let mut bytes = data.to_vec();
    let len = bytes.len() as u64;
    if let Some(field) = bytes.get_mut(FILE_LEN..FILE_LEN + 8) {
        field.copy_from_slice(&len.to_le_bytes());
    }
    refresh_crc(&mut bytes);
    bytes
}

/// Parses `bytes` with `ModelView::parse` (and `Model::parse` when it fails, which must fail
/// the same way) and `Model::from_view`; when both accept them, uses the view's accessors,
/// re-encodes a small 1.0 file, and (within the cost limits above) classifies and
/// reclassifies an image made from the bytes.
///
/// Panics when the reader and the runtime disagree, when a 1.0 file does not re-encode to
/// the same bytes (`SPEC.md` section 8: a writer has no freedom), or when a run breaks the
/// guarantees checked by [`check_classify`] and [`check_reclassify`].
pub fn check_model(bytes: &[u8]) {
    let view = match ModelView::parse(bytes) {
        Ok(view) => view,
        Err(e) => {
            let model = Model::parse(bytes);
            assert!(
                model.is_err(),
                "the runtime accepts what the reader refuses: {e:?}"
            );
            assert_eq!(model.err(), Some(Error::Format(e)), "another format error");
            return;
        }
    };
    // `Model::parse` is `from_view` of the reader's view; reuse it rather than parse twice.
    let model = match Model::from_view(view) {
        Ok(model) => model,
        // The runtime's own limit on sizes, past the format's.
        Err(Error::ModelTooLarge) => return,
        Err(e) => panic!("the runtime refuses a valid file: {e:?}"),
    };
    check_view(&view, bytes);

    let sizes = model.workspace_sizes();
    let arch = model.architecture();
    if sizes.reclassify_lockstep > MAX_WORKSPACE || classify_cost(&arch) > MAX_CLASSIFY_COST {
        return;
    }
    // Pixels in [0, 1] from the bytes, last byte first (the tensor data, for a real file).
    let image: Vec<f32> = bytes
        .iter()
        .rev()
        .cycle()
        .take(model.image_len())
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    check_classify(&model, &image);
    if reclassify_cost(&arch) <= MAX_RECLASSIFY_COST {
        let knob = bytes.get(bytes.len() / 2).copied().unwrap_or(0);
        check_reclassify(&model, &image, knob);
    }
}

/// The view's accessors agree with its sizes, and a file of this reader's minor version
/// (up to [`MAX_REENCODE_LEN`] bytes) re-encodes to exactly its bytes.
fn check_view(view: &ModelView<'_>, bytes: &[u8]) {
    let a = view.architecture();
    assert_eq!(view.class_names().count(), a.classes);
    assert!(view.class_name(a.classes).is_none());
    assert_eq!(view.class_means().len(), a.classes * a.latent);
    assert!(view.class_mean(a.classes).is_none() && view.precision(a.classes).is_none());
    assert_eq!(view.file_len(), bytes.len());
    if view.version() <= (MAJOR, MINOR) && bytes.len() <= MAX_REENCODE_LEN {
        let encoded = ModelFile::from_view(view).to_bytes();
        assert!(
            encoded.as_deref() == Ok(bytes),
            "a valid 1.0 file does not re-encode to its own bytes: {:?}",
            encoded.map(|b| b.len())
        );
    }
}

/// Classification with a valid image and a workspace of the size the model asks for
/// succeeds or reports a non-finite output; its verdict is consistent; the baseline kernels
/// give the same bits as the detected ones; wrong arguments get their own errors.
pub fn check_classify(model: &Model<'_>, image: &[f32]) {
    let needed = model.workspace_sizes().classify;
    let mut ws = vec![0.0f32; needed];
    let verdict = model.classify(image, &mut ws);
    match &verdict {
        Ok(v) => check_verdict(model, v),
        Err(e) => assert_eq!(*e, Error::NonFiniteOutput, "classify failed"),
    }
    if model.isa() != Isa::Baseline {
        let baseline = model.limit_isa(Isa::Baseline).classify(image, &mut ws);
        let same = match (&verdict, &baseline) {
            (Ok(a), Ok(b)) => same_bits(a, b),
            (a, b) => a == b,
        };
        assert!(
            same,
            "{:?}: {verdict:?}, baseline: {baseline:?}",
            model.isa()
        );
    }

    // Argument errors, checked before any work.
    if let Some(short) = needed.checked_sub(1) {
        let r = model.classify(image, &mut ws[..short]);
        assert!(matches!(r, Err(Error::WorkspaceTooSmall { .. })), "{r:?}");
    }
    let r = model.classify(image.get(1..).unwrap_or(&[]), &mut ws);
    assert!(matches!(r, Err(Error::ImageLength { .. })), "{r:?}");
    let mut bad = image.to_vec();
    if let Some(last) = bad.last_mut() {
        *last = f32::NAN;
        let r = model.classify(&bad, &mut ws);
        assert!(matches!(r, Err(Error::NonFiniteInput { .. })), "{r:?}");
    }
}

/// The label is a class, the latent code has the model's width, and the decision is what
/// the thresholds say about the two statistics.
fn check_verdict(model: &Model<'_>, v: &Verdict) {
    let a = model.architecture();
    assert!(v.label < a.classes, "label {} of {}", v.label, a.classes);
    assert_eq!(v.latent.len(), a.latent);
    assert_eq!(
        v.decision,
        decide(model.thresholds(), v.mahalanobis_sq, v.reconstruction_error)
    );
}

/// What the thresholds decide for the two statistics (finite, in a result that succeeded).
fn decide(t: Thresholds, mahalanobis_sq: f32, reconstruction_error: f32) -> Decision {
    let latent = mahalanobis_sq > t.tau_enc;
    let reconstruction = reconstruction_error > t.tau_dec;
    if latent || reconstruction {
        Decision::Rejected {
            latent,
            reconstruction,
        }
    } else {
        Decision::Accepted
    }
}

/// Two verdicts with the same label, decision and the same bits in every number.
fn same_bits(a: &Verdict, b: &Verdict) -> bool {
    let bits = |v: &Verdict| {
        let mut out: Vec<u32> = v.latent.iter().map(|x| x.to_bits()).collect();
        out.extend([v.mahalanobis_sq.to_bits(), v.reconstruction_error.to_bits()]);
        out
    };
    a.label == b.label && a.decision == b.decision && bits(a) == bits(b)
}

/// A short reclassification (settings chosen by the bits of `knob`) with a valid image and
/// the smallest workspace it takes succeeds or reports a non-finite output, and its result
/// is consistent.
pub fn check_reclassify(model: &Model<'_>, image: &[f32], knob: u8) {
    let settings = ReclassifySettings {
        steps: RECLASSIFY_STEPS,
        reject_fooling: knob & 1 == 0,
        confine_to_class: knob & 2 != 0,
        early_stop_tolerance: if knob & 4 != 0 { 0.01 } else { 0.0 },
        confine_fraction: if knob & 8 != 0 { 0.5 } else { 1.0 },
        ..ReclassifySettings::DEFAULT
    };
    let mut ws = vec![0.0f32; model.workspace_sizes().reclassify];
    match model.reclassify(image, &mut ws, &settings) {
        Ok(r) => {
            let a = model.architecture();
            assert!(r.label < a.classes && r.start < a.classes, "{r:?}");
            assert_eq!(r.latent.len(), a.latent);
            assert_eq!(r.start_losses.len(), a.classes);
            assert_eq!(r.start_steps.len(), a.classes);
            assert!(r.start_steps.iter().all(|&s| s <= settings.steps), "{r:?}");
            assert_eq!(
                r.threshold_test,
                decide(model.thresholds(), r.mahalanobis_sq, r.reconstruction_error)
            );
            let expected = if settings.reject_fooling {
                r.threshold_test
            } else {
                Decision::Accepted
            };
            assert_eq!(r.decision, expected);
        }
        Err(e) => assert_eq!(e, Error::NonFiniteOutput, "reclassify failed"),
    }
}

/// Parses `bytes` (raw or gzip) with the trainer's `parse_images` and `parse_labels`.
///
/// Panics when both accept the same bytes, when an error message is not one line naming
/// [`IDX_NAME`], when parsed images do not satisfy `IdxImages::new`, or when raw bytes that
/// parse are not exactly the encoding of what they hold.
pub fn check_idx(bytes: &[u8]) {
    let name = Path::new(IDX_NAME);
    let images = parse_images(bytes, name);
    let labels = parse_labels(bytes, name);
    assert!(
        images.is_err() || labels.is_err(),
        "rank 3 and rank 1 at once"
    );
    let raw = !bytes.starts_with(&[0x1f, 0x8b]);
    match &images {
        Ok(im) => {
            let again = IdxImages::new(im.count(), im.rows(), im.cols(), im.pixels().to_vec());
            assert!(matches!(&again, Ok(a) if a == im), "{again:?}");
            assert!(
                !raw || im.to_idx_bytes() == bytes,
                "images re-encode differently"
            );
        }
        Err(e) => check_message(&e.to_string()),
    }
    match &labels {
        Ok(l) => {
            let encoded = encode_labels(l);
            assert!(encoded.is_ok(), "{encoded:?}");
            assert!(
                !raw || encoded.ok().as_deref() == Some(bytes),
                "labels re-encode differently"
            );
        }
        Err(e) => check_message(&e.to_string()),
    }
}

/// The data layer's promise: one line that names the file.
fn check_message(message: &str) {
    check_message_names(message, IDX_NAME);
}

/// One line that names `name`.
fn check_message_names(message: &str, name: &str) {
    assert!(
        !message.contains('\n') && message.contains(name),
        "{message:?}"
    );
}

/// The name the PNG decoder is told the bytes came from; every error message must name it.
pub const PNG_NAME: &str = "fuzz-input.png";

/// Largest width or height taken from a PNG header as the model's size (larger headers are
/// decoded for a 28 × 28 model, which refuses them before allocating).
pub const MAX_PNG_SIDE: usize = 64;

/// The model input shape the PNG check decodes for: the header's width and height (IHDR,
/// bytes 16..24) when both lie in `1..=MAX_PNG_SIDE`, else 28 × 28; one channel for an input
/// of even length, three for an odd one (so grey and RGB images meet both conversions).
pub fn png_shape(bytes: &[u8]) -> ImageShape {
    let field = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let side = |v: Option<usize>| v.filter(|v| (1..=MAX_PNG_SIDE).contains(v));
    let (width, height) = match (side(field(16)), side(field(20))) {
        (Some(w), Some(h)) => (w, h),
        _ => (28, 28),
    };
    ImageShape {
        channels: if bytes.len().is_multiple_of(2) { 1 } else { 3 },
        height,
        width,
    }
}

/// Decodes `bytes` as a PNG input with the trainer's `decode_png` for [`png_shape`]'s shape.
///
/// Panics when a decoded image does not have the shape's length, holds a value outside
/// `[0, 1]` (or NaN), or decodes differently a second time, and when an error message is not
/// one line naming [`PNG_NAME`].
pub fn check_png(bytes: &[u8]) {
    let shape = png_shape(bytes);
    match decode_png(bytes, PNG_NAME, shape) {
        Ok(values) => {
            assert_eq!(values.len(), shape.pixels());
            assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "{values:?}");
            let again = decode_png(bytes, PNG_NAME, shape);
            assert!(
                matches!(&again, Ok(v) if v.iter().map(|x| x.to_bits()).eq(values.iter().map(|x| x.to_bits()))),
                "a second decoding differs"
            );
        }
        Err(e) => check_message_names(&e.to_string(), PNG_NAME),
    }
}
