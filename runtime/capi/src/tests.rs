//! The C interface against the Rust API on the golden model, and every status code it can
//! return for bad arguments.
// Calling the C interface from Rust takes `unsafe`, as it does from C.
#![allow(unsafe_code)]

use super::*;
use std::vec;
use std::vec::Vec;

static MODEL: &[u8] = include_bytes!("../../../fixtures/golden/model.gmvae");
static INPUTS: &[u8] = include_bytes!("../../../fixtures/golden/inputs.f32le");
const PIXELS: usize = 784;

fn image(index: usize) -> Vec<f32> {
    INPUTS[index * PIXELS * 4..(index + 1) * PIXELS * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn parsed_handle() -> GmvaeModel {
    let mut handle = GmvaeModel {
        storage: [0; GMVAE_MODEL_WORDS],
    };
    let status = unsafe { gmvae_model_parse(MODEL.as_ptr(), MODEL.len(), &mut handle) };
    assert_eq!(status, GMVAE_OK);
    handle
}

fn info(handle: &GmvaeModel) -> GmvaeModelInfo {
    let mut info = core::mem::MaybeUninit::<GmvaeModelInfo>::uninit();
    assert_eq!(
        unsafe { gmvae_model_info(handle, info.as_mut_ptr()) },
        GMVAE_OK
    );
    unsafe { info.assume_init() }
}

fn classify(handle: &GmvaeModel, image: &[f32], ws: &mut [f32]) -> (GmvaeStatus, GmvaeVerdict) {
    let mut out = GmvaeVerdict {
        label: 99,
        accepted: false,
        rejected_latent: false,
        rejected_reconstruction: false,
        mahalanobis_sq: -1.0,
        reconstruction_error: -1.0,
    };
    let status = unsafe {
        gmvae_classify(
            handle,
            image.as_ptr(),
            image.len(),
            ws.as_mut_ptr(),
            ws.len(),
            &mut out,
            ptr::null_mut(),
            0,
        )
    };
    (status, out)
}

#[test]
fn info_reports_the_models_sizes_and_workspace() {
    let handle = parsed_handle();
    let model = Model::parse(MODEL).unwrap();
    let i = info(&handle);
    let ws = model.workspace_sizes();
    assert_eq!((i.channels, i.height, i.width), (1, 28, 28));
    assert_eq!((i.image_len, i.classes, i.latent), (PIXELS, 10, 10));
    assert_eq!(i.tau_enc.to_bits(), model.thresholds().tau_enc.to_bits());
    assert_eq!(i.tau_dec.to_bits(), model.thresholds().tau_dec.to_bits());
    assert_eq!(
        (
            i.workspace_classify,
            i.workspace_reclassify,
            i.workspace_reclassify_lockstep
        ),
        (ws.classify, ws.reclassify, ws.reclassify_lockstep)
    );
}

#[test]
fn classify_gives_the_rust_apis_bits_on_every_golden_input() {
    let handle = parsed_handle();
    let model = Model::parse(MODEL).unwrap();
    let mut ws = vec![0.0f32; info(&handle).workspace_classify];
    for index in 0..INPUTS.len() / (PIXELS * 4) {
        let x = image(index);
        let expected = model.classify(&x, &mut ws).unwrap();
        let mut latent = [f32::NAN; GMVAE_MAX_LATENT];
        let mut out = core::mem::MaybeUninit::<GmvaeVerdict>::uninit();
        let status = unsafe {
            gmvae_classify(
                &handle,
                x.as_ptr(),
                x.len(),
                ws.as_mut_ptr(),
                ws.len(),
                out.as_mut_ptr(),
                latent.as_mut_ptr(),
                latent.len(),
            )
        };
        assert_eq!(status, GMVAE_OK, "input {index}");
        let out = unsafe { out.assume_init() };
        assert_eq!(out.label as usize, expected.label, "input {index}");
        assert_eq!(out.accepted, expected.decision.is_accepted());
        assert_eq!(
            (out.rejected_latent, out.rejected_reconstruction),
            expected.decision.rejection_flags()
        );
        assert_eq!(
            out.mahalanobis_sq.to_bits(),
            expected.mahalanobis_sq.to_bits()
        );
        assert_eq!(
            out.reconstruction_error.to_bits(),
            expected.reconstruction_error.to_bits()
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&latent[..10]), bits(&expected.latent));
        assert!(latent[10].is_nan(), "only the latent dimension is written");
    }
}

#[test]
fn reclassify_gives_the_rust_apis_bits() {
    let handle = parsed_handle();
    let model = Model::parse(MODEL).unwrap();
    let mut ws = vec![0.0f32; info(&handle).workspace_reclassify];
    let x = image(0);
    let mut settings = gmvae_reclassify_default_settings();
    settings.steps = 5;
    let rust_settings = ReclassifySettings {
        steps: 5,
        ..ReclassifySettings::DEFAULT
    };
    let expected = model.reclassify(&x, &mut ws, &rust_settings).unwrap();
    let mut latent = [0.0f32; 10];
    let mut out = core::mem::MaybeUninit::<GmvaeReclassified>::uninit();
    let status = unsafe {
        gmvae_reclassify(
            &handle,
            x.as_ptr(),
            x.len(),
            ws.as_mut_ptr(),
            ws.len(),
            &settings,
            out.as_mut_ptr(),
            latent.as_mut_ptr(),
            latent.len(),
        )
    };
    assert_eq!(status, GMVAE_OK);
    let out = unsafe { out.assume_init() };
    assert_eq!(
        (out.label as usize, out.start as usize),
        (expected.label, expected.start)
    );
    assert_eq!(out.accepted, expected.decision.is_accepted());
    assert_eq!(out.passes_thresholds, expected.threshold_test.is_accepted());
    assert_eq!(
        out.mahalanobis_sq.to_bits(),
        expected.mahalanobis_sq.to_bits()
    );
    assert_eq!(
        out.reconstruction_error.to_bits(),
        expected.reconstruction_error.to_bits()
    );
    assert_eq!(latent.as_slice(), expected.latent.as_slice());

    settings.learning_rate = -1.0;
    let mut out = core::mem::MaybeUninit::<GmvaeReclassified>::uninit();
    let status = unsafe {
        gmvae_reclassify(
            &handle,
            x.as_ptr(),
            x.len(),
            ws.as_mut_ptr(),
            ws.len(),
            &settings,
            out.as_mut_ptr(),
            ptr::null_mut(),
            0,
        )
    };
    assert_eq!(status, GMVAE_STATUS_INVALID_SETTING);
}

#[test]
fn the_default_settings_are_the_runtimes() {
    let s = gmvae_reclassify_default_settings();
    let d = ReclassifySettings::DEFAULT;
    assert_eq!(s.steps, d.steps);
    assert_eq!(s.learning_rate.to_bits(), d.learning_rate.to_bits());
    assert_eq!((s.beta1, s.beta2, s.epsilon), (d.beta1, d.beta2, d.epsilon));
    assert_eq!(s.reject_fooling, d.reject_fooling);
    assert_eq!(s.confine_to_class, d.confine_to_class);
}

#[test]
fn a_bad_model_file_is_a_status_and_leaves_the_handle_unparsed() {
    let mut handle = parsed_handle();
    let mut broken = MODEL.to_vec();
    broken[100] ^= 1;
    let status = unsafe { gmvae_model_parse(broken.as_ptr(), broken.len(), &mut handle) };
    assert_eq!(status, GMVAE_STATUS_FORMAT);
    let mut ws = vec![0.0f32; 12_700];
    assert_eq!(
        classify(&handle, &image(0), &mut ws).0,
        GMVAE_STATUS_NOT_PARSED
    );
    for len in [0, 10, MODEL.len() - 1] {
        let status = unsafe { gmvae_model_parse(MODEL.as_ptr(), len, &mut handle) };
        assert_eq!(status, GMVAE_STATUS_FORMAT, "{len} bytes");
    }
    let status = unsafe { gmvae_model_parse(ptr::null(), 10, &mut handle) };
    assert_eq!(status, GMVAE_STATUS_NULL_POINTER);
    let status = unsafe { gmvae_model_parse(MODEL.as_ptr(), MODEL.len(), ptr::null_mut()) };
    assert_eq!(status, GMVAE_STATUS_NULL_POINTER);
}

#[test]
fn a_zeroed_handle_is_not_parsed() {
    let handle = GmvaeModel {
        storage: [0; GMVAE_MODEL_WORDS],
    };
    let mut info = core::mem::MaybeUninit::<GmvaeModelInfo>::uninit();
    assert_eq!(
        unsafe { gmvae_model_info(&handle, info.as_mut_ptr()) },
        GMVAE_STATUS_NOT_PARSED
    );
    assert_eq!(
        unsafe { gmvae_model_info(ptr::null(), info.as_mut_ptr()) },
        GMVAE_STATUS_NULL_POINTER
    );
}

#[test]
fn bad_arguments_are_statuses_and_write_nothing() {
    let handle = parsed_handle();
    let good = image(0);
    let mut ws = vec![0.0f32; 12_700];
    let mut nan = good.clone();
    nan[7] = f32::NAN;
    let mut bright = good.clone();
    bright[3] = 1.5;
    let cases: [(&str, &[f32], usize, GmvaeStatus); 4] = [
        (
            "short image",
            &good[..783],
            12_700,
            GMVAE_STATUS_IMAGE_LENGTH,
        ),
        ("NaN pixel", &nan, 12_700, GMVAE_STATUS_NON_FINITE_INPUT),
        (
            "pixel > 1",
            &bright,
            12_700,
            GMVAE_STATUS_PIXEL_OUT_OF_RANGE,
        ),
        (
            "small workspace",
            &good,
            12_699,
            GMVAE_STATUS_WORKSPACE_TOO_SMALL,
        ),
    ];
    for (what, x, ws_len, expected) in cases {
        let (status, out) = classify(&handle, x, &mut ws[..ws_len]);
        assert_eq!(status, expected, "{what}");
        assert_eq!(out.label, 99, "{what}: the output is untouched");
    }

    let mut out = core::mem::MaybeUninit::<GmvaeVerdict>::uninit();
    let call = |image: *const f32, ws: *mut f32, out: *mut GmvaeVerdict, latent: *mut f32| unsafe {
        gmvae_classify(&handle, image, 784, ws, 12_700, out, latent, 9)
    };
    let misaligned = good.as_ptr().cast::<u8>().wrapping_add(1).cast::<f32>();
    let mut latent = [0.0f32; 9];
    let checks = [
        (
            call(
                ptr::null(),
                ws.as_mut_ptr(),
                out.as_mut_ptr(),
                ptr::null_mut(),
            ),
            GMVAE_STATUS_NULL_POINTER,
        ),
        (
            call(
                good.as_ptr(),
                ptr::null_mut(),
                out.as_mut_ptr(),
                ptr::null_mut(),
            ),
            GMVAE_STATUS_NULL_POINTER,
        ),
        (
            call(
                good.as_ptr(),
                ws.as_mut_ptr(),
                ptr::null_mut(),
                ptr::null_mut(),
            ),
            GMVAE_STATUS_NULL_POINTER,
        ),
        (
            call(
                misaligned,
                ws.as_mut_ptr(),
                out.as_mut_ptr(),
                ptr::null_mut(),
            ),
            GMVAE_STATUS_MISALIGNED,
        ),
        (
            call(
                good.as_ptr(),
                ws.as_mut_ptr(),
                out.as_mut_ptr(),
                latent.as_mut_ptr(),
            ),
            GMVAE_STATUS_BUFFER_TOO_SMALL,
        ),
    ];
    for (i, (status, expected)) in checks.into_iter().enumerate() {
        assert_eq!(status, expected, "check {i}");
    }
    let huge = unsafe {
        gmvae_classify(
            &handle,
            good.as_ptr(),
            usize::MAX,
            ws.as_mut_ptr(),
            12_700,
            out.as_mut_ptr(),
            ptr::null_mut(),
            0,
        )
    };
    assert_eq!(huge, GMVAE_STATUS_INVALID_LENGTH);
}

#[test]
fn every_status_has_its_own_name() {
    for (i, (code, name)) in status::NAMES.iter().enumerate() {
        assert_eq!(*code, i as GmvaeStatus, "codes are dense and in order");
        let got = unsafe { core::ffi::CStr::from_ptr(gmvae_status_name(*code)) };
        assert_eq!(got, *name);
        assert!(name.to_str().unwrap().starts_with("GMVAE_"));
    }
    let unknown = unsafe { core::ffi::CStr::from_ptr(gmvae_status_name(-7)) };
    assert_eq!(unknown, c"unknown status");
    let mut names: Vec<_> = status::NAMES.iter().map(|(_, n)| *n).collect();
    names.dedup();
    assert_eq!(names.len(), status::NAMES.len());
}
