//! Property tests: no input — model bytes, image values, latent codes — makes the runtime
//! panic. Every failure must be an `Err`, and never `Error::Internal` (a broken invariant:
//! what would have been a panic).

mod common;

use common::*;
use gmvae_format::corrupt;
use gmvae_runtime::{Error, Model, Workspace};
use proptest::prelude::*;

const WS: usize = 4096;

fn tiny_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| random_model(TINY, 31))
}

fn exercise(model: &Model<'_>, image: &[f32], z: &[f32]) {
    let mut ws: Box<Workspace<WS>> = Box::new(Workspace::new());
    let _ = not_internal(model.classify(image, &mut ws), "classify");
    let _ = not_internal(model.encode(image, &mut ws), "encode");
    let mut out = vec![0.0; model.image_len()];
    let _ = not_internal(model.decode_into(z, &mut ws, &mut out), "decode_into");
    let mut exact = vec![0.0f32; model.workspace_sizes().classify];
    let _ = not_internal(model.classify(image, &mut exact), "classify (slice)");
    let mut small: Box<Workspace<16>> = Box::new(Workspace::new());
    assert!(matches!(
        model.classify(image, &mut small),
        Err(Error::WorkspaceTooSmall { .. })
    ));
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = not_internal(Model::parse(&bytes), "parse");
    }

    #[test]
    fn mutated_models_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
        refresh in any::<bool>(),
        truncate in proptest::option::of(any::<prop::sample::Index>()),
        image_seed in any::<u64>(),
    ) {
        let mut bytes = tiny_bytes().to_vec();
        for (at, mask) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        if refresh {
            corrupt::refresh_crc(&mut bytes);
        }
        if let Some(t) = truncate {
            bytes.truncate(t.index(bytes.len()));
        }
        if let Ok(model) = not_internal(Model::parse(&bytes), "parse") {
            let image = random_image(model.image_len(), image_seed);
            let z = vec![0.25; model.architecture().latent];
            exercise(&model, &image, &z);
        }
    }

    #[test]
    fn arbitrary_images_and_latents_never_panic(
        image in proptest::collection::vec(any_f32(), 0..300),
        z in proptest::collection::vec(any_f32(), 0..8),
    ) {
        let model = Model::parse(tiny_bytes()).unwrap();
        exercise(&model, &image, &z);
        // The right lengths, arbitrary values.
        let mut full = image.clone();
        full.resize(model.image_len(), 0.5);
        let mut zz = z.clone();
        zz.resize(model.architecture().latent, 0.0);
        exercise(&model, &full, &zz);
        let result = not_internal(
            model.classify(&full, &mut Box::new(Workspace::<WS>::new())),
            "classify",
        );
        let first_bad = full.iter().position(|v| !v.is_finite() || !(0.0..=1.0).contains(v));
        match first_bad {
            Some(index) if !full[index].is_finite() => prop_assert_eq!(result.unwrap_err(), Error::NonFiniteInput { index }),
            Some(index) => prop_assert_eq!(result.unwrap_err(), Error::PixelOutOfRange { index }),
            None => prop_assert!(result.is_ok()),
        }
    }
}
