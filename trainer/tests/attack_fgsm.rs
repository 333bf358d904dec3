//! FGSM really attacks: it lowers the unthresholded accuracy of a trained model on a fixed
//! batch far more than random noise of the same size, and respects ε and [0, 1].

mod attack_support;

use attack_support::{assert_in_ball, batch, random_signs, tiny_model, unthresholded_accuracy};
use gmvae_trainer::attack::{fgsm, fgsm_sweep, AttackError, EncoderLoss};

#[test]
fn fgsm_lowers_accuracy_respects_eps_and_matches_its_sweep() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 100);
    let clean = unthresholded_accuracy(&model, x.view(), &y);
    assert!(
        clean > 0.6,
        "the tiny model should learn something first: {clean}"
    );

    let eps = 0.2;
    let adv = fgsm(&model, x.view(), &y, eps, EncoderLoss::default()).unwrap();
    assert_in_ball(adv.view(), x.view(), eps, false);
    let attacked = unthresholded_accuracy(&model, adv.view(), &y);
    let noise = random_signs(x.view(), eps);
    let noisy = unthresholded_accuracy(&model, noise.view(), &y);
    assert!(attacked < clean - 0.3, "FGSM: {clean} → {attacked}");
    assert!(
        attacked < noisy - 0.2,
        "FGSM {attacked} vs random signs {noisy}"
    );

    // ε = 0 changes nothing; the sweep reuses one gradient and matches single calls.
    let sweep = fgsm_sweep(
        &model,
        x.view(),
        &y,
        &[0.0, 0.1, eps],
        EncoderLoss::default(),
    )
    .unwrap();
    assert_eq!(sweep[0], x);
    assert_eq!(sweep[2], adv);
    assert_in_ball(sweep[1].view(), x.view(), 0.1, false);
    assert!(unthresholded_accuracy(&model, sweep[1].view(), &y) < clean);
}

#[test]
fn fgsm_rejects_bad_inputs_with_errors() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 4);
    let loss = EncoderLoss::default();
    let err = fgsm(&model, x.view(), &y[..3], 0.1, loss).unwrap_err();
    assert!(
        matches!(
            err,
            AttackError::LabelCount {
                labels: 3,
                images: 4
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "there are 3 labels for 4 images; every image needs exactly one"
    );
    let err = fgsm(&model, x.view(), &[0, 1, 2, 99], 0.1, loss).unwrap_err();
    assert!(
        matches!(err, AttackError::UnknownClass { label: 99, .. }),
        "{err:?}"
    );
    let wrong = ndarray::Array2::<f32>::zeros((4, 10));
    let err = fgsm(&model, wrong.view(), &y, 0.1, loss).unwrap_err();
    assert!(
        matches!(err, AttackError::ImageSize { found: 10, .. }),
        "{err:?}"
    );
    let err = fgsm(&model, x.view(), &y, -0.1, loss).unwrap_err();
    assert!(matches!(err, AttackError::InvalidBudget { .. }), "{err:?}");
    let err = fgsm_sweep(&model, x.view(), &y, &[0.1, f32::NAN], loss).unwrap_err();
    assert!(matches!(err, AttackError::InvalidBudget { .. }), "{err:?}");
}
