//! The adaptive attack: stays in nested L∞ balls and [0, 1], its retained wins are real wins
//! under the deployed scoring, and it breaks more inputs than the clean model loses.

mod attack_support;

use attack_support::{assert_in_ball, batch, tiny_model};
use gmvae_trainer::attack::adaptive::{
    adaptive, apgd_checkpoints, AdaptiveOptions, CodePool, StepSchedule,
};
use gmvae_trainer::attack::metrics::verdicts;
use gmvae_trainer::attack::AttackError;
use gmvae_trainer::progress::Silent;

#[test]
fn adaptive_attack_wins_inside_its_budgets() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 30);
    let labels: Vec<usize> = split
        .train
        .labels
        .iter()
        .take(2000)
        .map(|&l| usize::from(l))
        .collect();
    let pool_images = split.train.images.slice(ndarray::s![..2000, ..]);
    let pool = CodePool {
        images: pool_images,
        labels: &labels,
    };
    let options = AdaptiveOptions {
        eps: vec![0.2, 0.05],
        steps: 15,
        restarts: 1,
        targets: 2,
        ..AdaptiveOptions::default()
    };
    let none = AdaptiveOptions {
        restarts: 0,
        ..options.clone()
    };
    let err = adaptive(&model, x.view(), &y, &pool, &none, &Silent).unwrap_err();
    assert!(
        matches!(
            err,
            AttackError::ZeroCount {
                setting: "restarts"
            }
        ),
        "{err:?}"
    );
    let results = adaptive(&model, x.view(), &y, &pool, &options, &Silent).unwrap();
    assert_eq!(
        results.iter().map(|r| r.eps).collect::<Vec<_>>(),
        vec![0.05, 0.2],
        "sorted budgets"
    );
    let clean = verdicts(&model, x.view());
    let clean_wins = (0..y.len())
        .filter(|&i| clean[i].accepted && clean[i].prediction != y[i])
        .count();
    let mut previous = 0;
    for r in &results {
        assert_in_ball(r.images.view(), x.view(), r.eps, false);
        let v = verdicts(&model, r.images.view());
        let claimed: Vec<usize> = (0..y.len()).filter(|&i| r.won_by[i].is_some()).collect();
        let real = claimed
            .iter()
            .filter(|&&i| v[i].accepted && v[i].prediction != y[i])
            .count();
        assert!(
            real + 1 >= claimed.len(),
            "ε {}: {real} of {} retained wins verify",
            r.eps,
            claimed.len()
        );
        assert!(
            claimed.len() >= previous,
            "balls are nested: wins cannot drop"
        );
        previous = claimed.len();
    }
    assert!(
        previous > clean_wins,
        "ε 0.2 adaptive wins {previous} vs clean errors {clean_wins}"
    );
}

#[test]
fn apgd_checkpoints_follow_croce_and_hein() {
    assert_eq!(apgd_checkpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
    assert_eq!(apgd_checkpoints(10), [3, 5, 6, 7, 8, 9, 10]);
    assert!(apgd_checkpoints(1).iter().all(|&c| c <= 1));
}

#[test]
fn the_apgd_schedule_stays_in_its_balls_and_its_wins_are_real() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 20);
    let labels: Vec<usize> = split
        .train
        .labels
        .iter()
        .take(500)
        .map(|&l| usize::from(l))
        .collect();
    let pool = CodePool {
        images: split.train.images.slice(ndarray::s![..500, ..]),
        labels: &labels,
    };
    let options = AdaptiveOptions {
        eps: vec![0.2],
        steps: 20,
        restarts: 1,
        targets: 2,
        schedule: StepSchedule::Apgd,
        ..AdaptiveOptions::default()
    };
    let results = adaptive(&model, x.view(), &y, &pool, &options, &Silent).unwrap();
    let r = &results[0];
    assert_in_ball(r.images.view(), x.view(), r.eps, false);
    let v = verdicts(&model, r.images.view());
    let claimed: Vec<usize> = (0..y.len()).filter(|&i| r.won_by[i].is_some()).collect();
    assert!(!claimed.is_empty(), "APGD breaks the tiny model at ε = 0.2");
    let real = claimed
        .iter()
        .filter(|&&i| v[i].accepted && v[i].prediction != y[i])
        .count();
    assert!(
        real + 1 >= claimed.len(),
        "{real} of {} wins verify",
        claimed.len()
    );
}
