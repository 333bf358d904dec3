//! Property tests: no settings, image or model bytes make `reclassify` or
//! `reconstruction_gradient` panic. Every failure must be an `Err` — never `Error::Internal`
//! (a broken invariant: what would have been a panic) — and a valid call's result must keep
//! its promises.

mod common;

use common::*;
use gmvae_format::corrupt;
use gmvae_runtime::{Decision, Error, Model, ReclassifySettings, Workspace};
use proptest::prelude::*;

const WS: usize = 8192;

fn tiny_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| random_model(TINY, 41))
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => 0.0f32..=1.0,
        1 => any::<f32>(),
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-0.0f32),
        1 => Just(f32::MIN_POSITIVE / 2.0),
    ]
}

fn any_setting() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => 0.0f32..=1.0,
        1 => -1.0f32..=10.0,
        1 => any::<f32>(),
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(1e30f32),
    ]
}

fn any_settings() -> impl Strategy<Value = ReclassifySettings> {
    (
        0u32..12,
        any_setting(),
        any_setting(),
        any_setting(),
        any_setting(),
        any_setting(),
        any::<bool>(),
        (any::<bool>(), any_setting()),
    )
        .prop_map(
            |(steps, lr, b1, b2, eps, tol, reject, (confine, fraction))| ReclassifySettings {
                steps,
                learning_rate: lr,
                beta1: b1,
                beta2: b2,
                epsilon: eps,
                early_stop_tolerance: tol,
                reject_fooling: reject,
                confine_to_class: confine,
                confine_fraction: fraction,
            },
        )
}

fn exercise(model: &Model<'_>, image: &[f32], z: &[f32], s: &ReclassifySettings) {
    let mut ws: Box<Workspace<WS>> = Box::new(Workspace::new());
    if let Ok(r) = not_internal(model.reclassify(image, &mut ws, s), "reclassify") {
        let classes = model.architecture().classes;
        assert!(r.label < classes && r.start < classes);
        assert_eq!(r.start_losses.len(), classes);
        assert!(r.start_steps.iter().all(|&n| n <= s.steps));
        assert!(r.reconstruction_error.is_finite() && r.mahalanobis_sq.is_finite());
        if !s.reject_fooling {
            assert_eq!(r.decision, Decision::Accepted);
        }
    }
    let mut grad = vec![0.0; z.len()];
    let gradient = model.reconstruction_gradient(image, z, &mut ws, &mut grad);
    let _ = not_internal(gradient, "reconstruction_gradient");
    // One start at a time, from a caller's slice (the least workspace).
    let mut least = vec![0.0f32; model.workspace_sizes().reclassify];
    let _ = not_internal(model.reclassify(image, &mut least, s), "reclassify (slice)");
    let mut small: Box<Workspace<64>> = Box::new(Workspace::new());
    assert!(matches!(
        model.reclassify(image, &mut small, s),
        Err(Error::WorkspaceTooSmall { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_settings_never_panic(s in any_settings(), seed in any::<u64>()) {
        let model = Model::parse(tiny_bytes()).unwrap();
        let image = random_image(model.image_len(), seed);
        let z = vec![0.5; model.architecture().latent];
        exercise(&model, &image, &z, &s);
        let valid = s.validate().is_ok();
        let mut ws: Box<Workspace<WS>> = Box::new(Workspace::new());
        let result = not_internal(model.reclassify(&image, &mut ws, &s), "reclassify");
        prop_assert_eq!(valid, !matches!(result, Err(Error::InvalidSetting { .. })));
    }

    #[test]
    fn arbitrary_images_and_latents_never_panic(
        image in proptest::collection::vec(any_f32(), 0..300),
        z in proptest::collection::vec(any_f32(), 0..8),
        s in any_settings(),
    ) {
        let model = Model::parse(tiny_bytes()).unwrap();
        exercise(&model, &image, &z, &s);
        let mut full = image.clone();
        full.resize(model.image_len(), 0.5);
        let mut zz = z.clone();
        zz.resize(model.architecture().latent, 0.0);
        exercise(&model, &full, &zz, &s);
    }

    #[test]
    fn mutated_models_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
        refresh in any::<bool>(),
        image_seed in any::<u64>(),
        s in any_settings(),
    ) {
        let mut bytes = tiny_bytes().to_vec();
        for (at, mask) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        if refresh {
            corrupt::refresh_crc(&mut bytes);
        }
        if let Ok(model) = not_internal(Model::parse(&bytes), "parse") {
            let image = random_image(model.image_len(), image_seed);
            let z = vec![0.25; model.architecture().latent];
            exercise(&model, &image, &z, &s);
        }
    }
}
