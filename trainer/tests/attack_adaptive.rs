//! The adaptive attack: stays in nested L∞ balls and [0, 1], its retained wins are real wins
//! under the deployed scoring, and it breaks more inputs than the clean model loses; its
//! untargeted strategy and the transfer attack built on it.

mod attack_support;

use attack_support::{assert_in_ball, batch, tiny_model};
use gmvae_trainer::attack::adaptive::{
    adaptive, apgd_checkpoints, work, AdaptiveOptions, CodePool, StepSchedule,
};
use gmvae_trainer::attack::metrics::verdicts;
use gmvae_trainer::attack::sampling::stratified;
use gmvae_trainer::attack::suite::run_transfer;
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

#[test]
fn the_best_wrong_class_strategy_alone_breaks_more_than_the_first_target_alone() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 30);
    let pool = no_code_targets(&split);
    let targeted = AdaptiveOptions {
        eps: vec![0.15],
        steps: 8,
        restarts: 1,
        targets: 1,
        codes: false,
        ..AdaptiveOptions::default()
    };
    let untargeted = AdaptiveOptions {
        targets: 0,
        untargeted: true,
        ..targeted.clone()
    };
    let none = AdaptiveOptions {
        untargeted: false,
        ..untargeted.clone()
    };
    let err = adaptive(&model, x.view(), &y, &pool, &none, &Silent).unwrap_err();
    assert!(
        matches!(err, AttackError::ZeroCount { setting: "targets" }),
        "{err:?}"
    );
    let first = adaptive(&model, x.view(), &y, &pool, &targeted, &Silent).unwrap();
    let best = adaptive(&model, x.view(), &y, &pool, &untargeted, &Silent).unwrap();
    let wins = |r: &[gmvae_trainer::attack::adaptive::AdaptiveEps]| {
        r[0].won_by.iter().filter(|w| w.is_some()).count()
    };
    // One run per start either way; re-choosing the class every step finds more.
    assert!(
        wins(&best) > wins(&first),
        "best wrong class {} vs first target {}",
        wins(&best),
        wins(&first)
    );
    assert!(best[0]
        .won_by
        .iter()
        .flatten()
        .all(|w| w.starts_with("best-wrong")));
    assert_in_ball(best[0].images.view(), x.view(), 0.15, false);
    let v = verdicts(&model, best[0].images.view());
    for (i, w) in best[0].won_by.iter().enumerate() {
        if w.is_some() {
            assert!(v[i].accepted && v[i].prediction != y[i], "input {i}: {w:?}");
        }
    }
}

#[test]
fn a_transfer_attack_scores_the_source_images_on_the_attacked_model() {
    let (model, split) = tiny_model();
    let set = stratified(&split.test, 30, 5);
    let pool = no_code_targets(&split);
    let options = AdaptiveOptions {
        eps: vec![0.05, 0.15],
        steps: 8,
        restarts: 1,
        targets: 1,
        codes: false,
        ..AdaptiveOptions::default()
    };
    // From the model to itself, the transferred images win exactly where they won on the
    // source: the scoring is the attacked model's own.
    let run = run_transfer(&model, &model, &set, &pool, &options, &Silent).unwrap();
    assert_eq!(run.kind, "transfer");
    let on_source: Vec<usize> =
        serde_json::from_value(run.settings["broken_on_source"].clone()).unwrap();
    let on_target: Vec<usize> = run
        .outcomes
        .iter()
        .map(|o| o.iter().filter(|s| s.attacker_wins()).count())
        .collect();
    assert_eq!(on_target, on_source);
    assert!(on_source[1] > on_source[0], "{on_source:?}");
    assert_eq!(run.settings["options"]["keep_going"], true);
    // A source model of another shape is refused before any work.
    let other = gmvae_trainer::model::ModelConfig::from_preset(
        gmvae_trainer::model::Preset::Tiny,
        (1, 28, 28),
        5,
        None,
    )
    .unwrap();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
    let dev = model.network.device().clone();
    let source = gmvae_trainer::trained::TrainedModel {
        network: gmvae_trainer::model::Network::new(other, &dev),
        params: gmvae_trainer::model::Params::init(&other, &dev, &mut rng),
        calibration: model.calibration.clone(),
        dataset: model.dataset.clone(),
        class_names: model.class_names.clone(),
    };
    let err = run_transfer(&model, &source, &set, &pool, &options, &Silent).unwrap_err();
    assert!(matches!(err, AttackError::TransferShape), "{err:?}");
    // So is one of the same shape trained on another dataset.
    let same = *model.network.config();
    let elsewhere = gmvae_trainer::trained::TrainedModel {
        network: gmvae_trainer::model::Network::new(same, &dev),
        params: gmvae_trainer::model::Params::init(&same, &dev, &mut rng),
        calibration: model.calibration.clone(),
        dataset: "fashion-mnist".into(),
        class_names: model.class_names.clone(),
    };
    let err = run_transfer(&model, &elsewhere, &set, &pool, &options, &Silent).unwrap_err();
    assert!(
        matches!(&err, AttackError::TransferDataset { source_dataset, .. } if source_dataset == "fashion-mnist"),
        "{err:?}"
    );
}

#[test]
fn the_targeted_strategies_can_take_fewer_starts_than_the_untargeted_one() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 30);
    let pool = no_code_targets(&split);
    let options = AdaptiveOptions {
        eps: vec![0.1],
        steps: 6,
        restarts: 3,
        targeted_restarts: Some(1),
        targets: 2,
        codes: false,
        untargeted: true,
        ..AdaptiveOptions::default()
    };
    // 30 inputs, one budget: 2 targets with one start, the untargeted run with three.
    assert_eq!(work(30, &options), 30 * (2 + 3) * 6);
    let results = adaptive(&model, x.view(), &y, &pool, &options, &Silent).unwrap();
    let won: Vec<&String> = results[0].won_by.iter().flatten().collect();
    assert!(won.iter().any(|w| w.starts_with("mean")), "{won:?}");
    for w in &won {
        assert!(!w.starts_with("mean") || w.contains("start 0"), "{w}");
    }
    let none = AdaptiveOptions {
        targeted_restarts: Some(0),
        ..options
    };
    let err = adaptive(&model, x.view(), &y, &pool, &none, &Silent).unwrap_err();
    assert!(
        matches!(
            err,
            AttackError::ZeroCount {
                setting: "targeted restarts"
            }
        ),
        "{err:?}"
    );
}

/// An empty pool: runs that aim at class means only.
fn no_code_targets(split: &gmvae_trainer::data::Split) -> CodePool<'_> {
    CodePool {
        images: split.train.images.slice(ndarray::s![..0, ..]),
        labels: &[],
    }
}
