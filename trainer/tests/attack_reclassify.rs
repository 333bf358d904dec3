//! The decision with reclassification and the attack through it: the decision keeps the
//! classifier's verdict where it accepts and takes the reclassification's where it rejects;
//! the attack stays in nested L∞ balls and [0, 1], every verdict it reports is the deployed
//! decision's own, and it beats random noise of the same budget; bad settings are refused.

mod attack_support;

use attack_support::{assert_in_ball, batch, random_signs, tiny_model};
use gmvae_trainer::attack::metrics::verdicts;
use gmvae_trainer::attack::AttackError;
use gmvae_trainer::progress::Silent;
use gmvae_trainer::reclassify::attack::{attack_through_reclassification, ThroughReclassification};
use gmvae_trainer::reclassify::autograd;
use gmvae_trainer::reclassify::deployed::deployed_verdicts;
use gmvae_trainer::reclassify::{ReclassifyError, ReclassifySettings};
use ndarray::{concatenate, Array2, Axis};

/// Fewer reclassification steps than the runtime's default keep the tests quick.
const SETTINGS: ReclassifySettings = ReclassifySettings {
    steps: 10,
    ..ReclassifySettings::DEFAULT
};

#[test]
fn the_decision_keeps_accepted_verdicts_and_reclassifies_rejected_inputs() {
    let (model, split) = tiny_model();
    let (digits, _) = batch(&split, 12);
    // Uniform noise, which the thresholds reject, beside real digits, which they mostly accept.
    let noise = Array2::from_shape_fn((6, digits.ncols()), |(i, j)| {
        ((i * 7919 + j * 104_729) % 1000) as f32 / 1000.0
    });
    let images = concatenate(Axis(0), &[digits.view(), noise.view()]).unwrap();
    let classified = verdicts(&model, images.view());
    let decided = deployed_verdicts(&model, images.view(), &SETTINGS).unwrap();
    let rejected: Vec<usize> = (0..images.nrows())
        .filter(|&i| !classified[i].accepted)
        .collect();
    assert!(
        !rejected.is_empty() && rejected.len() < images.nrows(),
        "{rejected:?}"
    );
    let reclassified =
        autograd::reclassify(&model, images.select(Axis(0), &rejected).view(), &SETTINGS).unwrap();
    for i in 0..images.nrows() {
        match rejected.iter().position(|&r| r == i) {
            None => assert_eq!(decided[i], classified[i], "accepted row {i}"),
            Some(k) => {
                let outcome = &reclassified[k];
                assert_eq!(decided[i].prediction, outcome.label, "row {i}");
                assert_eq!(decided[i].accepted, outcome.accepted, "row {i}");
                assert_eq!(
                    decided[i].reconstruction_error, outcome.reconstruction_error,
                    "row {i}"
                );
            }
        }
    }
}

#[test]
fn the_attack_through_reclassification_wins_inside_nested_balls_and_beats_noise() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 24);
    let options = ThroughReclassification {
        eps: vec![0.3, 0.1],
        steps: 25,
        targets: 2,
        reclassify: SETTINGS,
        ..ThroughReclassification::default()
    };
    let results = attack_through_reclassification(&model, x.view(), &y, &options, &Silent).unwrap();
    assert_eq!(
        results.iter().map(|r| r.eps).collect::<Vec<_>>(),
        vec![0.1, 0.3],
        "sorted budgets"
    );
    let wins = |v: &[gmvae_trainer::attack::metrics::Verdict]| -> Vec<usize> {
        (0..y.len())
            .filter(|&i| v[i].accepted && v[i].prediction != y[i])
            .collect()
    };
    for r in &results {
        assert_in_ball(r.images.view(), x.view(), r.eps, false);
        // Every reported verdict is the deployed decision's on the reported image.
        let again = deployed_verdicts(&model, r.images.view(), &SETTINGS).unwrap();
        assert_eq!(r.verdicts, again, "ε = {}", r.eps);
        // The second-stage wins are exactly the wins the classifier alone rejects.
        let classified = verdicts(&model, r.images.view());
        let expected: Vec<usize> = wins(&r.verdicts)
            .into_iter()
            .filter(|&i| !classified[i].accepted)
            .collect();
        assert_eq!(r.second_stage_wins, expected, "ε = {}", r.eps);
    }
    eprintln!(
        "second-stage wins: {:?} / {:?}",
        results[0].second_stage_wins, results[1].second_stage_wins
    );
    // An input broken at ε = 0.1 stays broken at 0.3.
    let (small, large) = (wins(&results[0].verdicts), wins(&results[1].verdicts));
    assert!(
        small.iter().all(|i| large.contains(i)),
        "{small:?} ⊄ {large:?}"
    );
    // The attack breaks more inputs than random signs of the same budget.
    let noise = random_signs(x.view(), 0.3);
    let noisy = wins(&deployed_verdicts(&model, noise.view(), &SETTINGS).unwrap());

    eprintln!(
        "broken under the decision with reclassification: attack {} / {} at ε 0.1 / 0.3, noise {} at 0.3, of {}",
        small.len(),
        large.len(),
        noisy.len(),
        y.len()
    );
    assert!(large.len() > noisy.len(), "{large:?} vs noise {noisy:?}");
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 2);
    let good = ThroughReclassification::default();
    for bad in [
        ThroughReclassification {
            steps: 0,
            ..good.clone()
        },
        ThroughReclassification {
            targets: 0,
            ..good.clone()
        },
        ThroughReclassification {
            eps: vec![0.1, f32::NAN],
            ..good.clone()
        },
        ThroughReclassification {
            latent_lr: 0.0,
            ..good.clone()
        },
        ThroughReclassification {
            reclassify: ReclassifySettings {
                learning_rate: -1.0,
                ..SETTINGS
            },
            ..good.clone()
        },
    ] {
        let err = attack_through_reclassification(&model, x.view(), &y, &bad, &Silent).unwrap_err();
        assert!(
            matches!(
                err,
                ReclassifyError::Attack(
                    AttackError::ZeroCount { .. }
                        | AttackError::InvalidBudget { .. }
                        | AttackError::InvalidLearningRate { .. }
                ) | ReclassifyError::Settings(_)
            ),
            "{bad:?}: {err:?}"
        );
    }
    let err =
        attack_through_reclassification(&model, x.view(), &[0, 10], &good, &Silent).unwrap_err();
    assert!(
        matches!(
            err,
            ReclassifyError::Attack(AttackError::UnknownClass { .. })
        ),
        "{err:?}"
    );
}
