//! The reclassification library refuses images of another size than the model's with a typed
//! error, in every entry point and with either engine, instead of panicking inside dfdx.

mod attack_support;

use attack_support::tiny_model;
use gmvae_trainer::export::to_bytes;
use gmvae_trainer::reclassify::experiment::{clean_report, Classified, Engine};
use gmvae_trainer::reclassify::{ReclassifyError, ReclassifySettings};
use ndarray::Array2;

#[test]
fn images_of_another_size_are_a_typed_error_everywhere() {
    let (model, _) = tiny_model();
    let expected = model.network.config().pixels();
    let wrong = Array2::<f32>::zeros((3, 64));
    let is_size_error = |e: &ReclassifyError| matches!(e, ReclassifyError::ImageSize { found: 64, expected: x } if *x == expected);
    let err = Classified::new(&model, wrong.view()).unwrap_err();
    assert!(is_size_error(&err), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("the images have 64 values each but the model expects {expected}")
    );
    let settings = ReclassifySettings {
        steps: 2,
        ..ReclassifySettings::DEFAULT
    };
    let runtime = Engine::Runtime {
        bytes: to_bytes(&model).unwrap(),
        threads: 1,
    };
    for engine in [Engine::Dfdx, runtime] {
        let err = engine.run(&model, wrong.view(), &settings).unwrap_err();
        assert!(is_size_error(&err), "{}: {err:?}", engine.name());
        let err = clean_report(
            &model,
            "x",
            wrong.view(),
            &[0, 1, 2],
            &engine,
            &settings,
            true,
        )
        .unwrap_err();
        assert!(is_size_error(&err), "{}: {err:?}", engine.name());
    }
}
