//! The paper's Eq. 10 and Eq. 11 attacks: the objectives are the detector's own statistics, the
//! losses decrease, and the images stay valid.

mod attack_support;

use attack_support::{assert_in_ball, batch, tiny_model};
use dfdx::prelude::*;
use gmvae_trainer::attack::fooling::{fooling, uniform_noise};
use gmvae_trainer::attack::objective::{host, input_gradient, Objective};
use gmvae_trainer::attack::whitebox::{whitebox, WhiteboxOptions};
use gmvae_trainer::attack::AttackError;
use gmvae_trainer::infer;
use gmvae_trainer::progress::Silent;

#[test]
fn objective_pieces_match_the_detector() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 12);
    let objective = Objective::new(&model);
    let targets: Vec<usize> = y.iter().map(|&l| (l + 3) % 10).collect();
    let means = objective.class_means(&targets);
    let (grad, probe) = input_gradient(model.network.device(), x.view(), |xt, probe| {
        let z = objective.encode(xt.with_empty_tape());
        probe.latents = Some(host(&z));
        let rec = objective.reconstruction_error(xt, z.with_empty_tape());
        probe.reconstruction_errors = Some(rec.as_vec());
        objective.mahalanobis_sq(z, means.view(), &targets)
    });
    let encoded = infer::encode_and_reconstruct(&model.network, &model.params, x.view());
    let z = probe.latents.unwrap();
    let rec = probe.reconstruction_errors.unwrap();
    for i in 0..y.len() {
        let want = model.calibration.mahalanobis_sq(z.row(i), targets[i]);
        let got = probe.loss[i];
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
            "d² {got} vs {want}"
        );
        let want = encoded.reconstruction_errors[i];
        assert!(
            (rec[i] - want).abs() <= 1e-3 * want.max(1.0),
            "rec {} vs {want}",
            rec[i]
        );
    }
    assert!(grad.iter().all(|g| g.is_finite()) && grad.iter().any(|&g| g != 0.0));
}

#[test]
fn eq10_and_eq11_losses_decrease_and_images_stay_valid() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 6);
    let targets: Vec<usize> = y.iter().map(|&l| (l + 1) % 10).collect();
    let options = WhiteboxOptions {
        steps: 30,
        lr: 0.02,
        ..WhiteboxOptions::default()
    };
    let result = whitebox(&model, x.view(), &y, &targets, &options, &Silent).unwrap();
    let trace = &result.loss_trace;
    assert_eq!(trace.len(), options.steps + 1);
    assert!(
        trace[options.steps] < 0.9 * trace[0],
        "Eq. 10 loss {} → {}",
        trace[0],
        trace[options.steps]
    );
    assert!(result.images.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_ne!(result.images, x, "η must move");

    // With an L∞ bound, η stays inside it.
    let bounded = WhiteboxOptions {
        eps: Some(0.05),
        ..options
    };
    let result = whitebox(&model, x.view(), &y, &targets, &bounded, &Silent).unwrap();
    assert_in_ball(result.images.view(), x.view(), 0.05, false);

    let noise = uniform_noise(4, 784, 5);
    let targets = [0, 3, 6, 9];
    let result = fooling(&model, &noise, &targets, &options, &Silent).unwrap();
    let trace = &result.loss_trace;
    assert!(
        trace[options.steps] < 0.9 * trace[0],
        "Eq. 11 loss {} → {}",
        trace[0],
        trace[options.steps]
    );
    assert!(result.images.iter().all(|v| (0.0..=1.0).contains(v)));

    // Exponents below 1 and learning rates that are not positive are refused.
    let bad = WhiteboxOptions { a: 0.5, ..options };
    let err = whitebox(&model, x.view(), &y, &[1; 6], &bad, &Silent).unwrap_err();
    assert!(
        matches!(err, AttackError::InvalidExponents { a: 0.5, b: 2.0 }),
        "{err:?}"
    );
    let bad = WhiteboxOptions { lr: 0.0, ..options };
    let err = fooling(&model, &noise, &targets, &bad, &Silent).unwrap_err();
    assert!(
        matches!(err, AttackError::InvalidLearningRate { .. }),
        "{err:?}"
    );
}
