//! The Square attack: gradient-free, inside its L∞ balls and [0, 1], and its wins are wins
//! under the deployed scoring.

mod attack_support;

use attack_support::{assert_in_ball, batch, tiny_model};
use gmvae_trainer::attack::metrics::verdicts;
use gmvae_trainer::attack::square::{square, SquareOptions};
use gmvae_trainer::attack::AttackError;
use gmvae_trainer::progress::Silent;

#[test]
fn square_attack_wins_inside_its_budgets_without_gradients() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 20);
    let options = SquareOptions {
        eps: vec![0.3, 0.1],
        queries: 200,
        ..SquareOptions::default()
    };
    let results = square(&model, x.view(), &y, &options, &Silent).unwrap();
    assert_eq!(
        results.iter().map(|r| r.eps).collect::<Vec<_>>(),
        [0.1, 0.3]
    );
    for r in &results {
        assert_in_ball(r.images.view(), x.view(), r.eps, false);
        let v = verdicts(&model, r.images.view());
        for (i, &broken) in r.broken.iter().enumerate() {
            if broken {
                assert!(
                    v[i].accepted && v[i].prediction != y[i],
                    "input {i} at ε {}",
                    r.eps
                );
            }
        }
    }
    let wins = results[1].broken.iter().filter(|&&b| b).count();
    assert!(
        wins > 0,
        "the tiny model falls to a random search at ε = 0.3"
    );
    let none = SquareOptions {
        queries: 0,
        ..options
    };
    let err = square(&model, x.view(), &y, &none, &Silent).unwrap_err();
    assert!(
        matches!(err, AttackError::ZeroCount { setting: "queries" }),
        "{err:?}"
    );
}
