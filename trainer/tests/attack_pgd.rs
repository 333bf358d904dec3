//! PGD (L∞ and L2) and MIM really attack the encoder, stay in their balls and in [0, 1], and
//! are reproducible from their seed.

mod attack_support;

use attack_support::{assert_in_ball, batch, random_signs, tiny_model, unthresholded_accuracy};
use gmvae_trainer::attack::mim::{mim, MimOptions};
use gmvae_trainer::attack::pgd::{pgd, PgdOptions};
use gmvae_trainer::attack::sampling::stratified;
use gmvae_trainer::attack::suite::run_pgd;
use gmvae_trainer::attack::{fgsm, EncoderLoss};
use gmvae_trainer::progress::{Log, Silent};

#[test]
fn pgd_and_mim_lower_accuracy_within_their_budgets() {
    let (model, split) = tiny_model();
    let (x, y) = batch(&split, 100);
    let clean = unthresholded_accuracy(&model, x.view(), &y);
    assert!(clean > 0.6, "{clean}");

    // L∞ with a small budget, so PGD has room to beat FGSM and noise.
    let linf = PgdOptions {
        eps: 0.1,
        step: 0.02,
        steps: 10,
        ..PgdOptions::cleverhans()
    };
    let adv = pgd(&model, x.view(), &y, &linf, &Silent).unwrap();
    assert_in_ball(adv.view(), x.view(), 0.1, false);
    let pgd_acc = unthresholded_accuracy(&model, adv.view(), &y);
    let fgsm_acc = unthresholded_accuracy(
        &model,
        fgsm(&model, x.view(), &y, 0.1, EncoderLoss::default())
            .unwrap()
            .view(),
        &y,
    );
    let noise_acc = unthresholded_accuracy(&model, random_signs(x.view(), 0.1).view(), &y);
    assert!(pgd_acc < clean - 0.25, "PGD-L∞: {clean} → {pgd_acc}");
    assert!(
        pgd_acc <= fgsm_acc,
        "PGD {pgd_acc} should be at least as strong as FGSM {fgsm_acc}"
    );
    assert!(
        pgd_acc < noise_acc - 0.2,
        "PGD {pgd_acc} vs noise {noise_acc}"
    );

    // Same seed, same images; the random start matters.
    assert_eq!(pgd(&model, x.view(), &y, &linf, &Silent).unwrap(), adv);
    let other_seed = PgdOptions { seed: 99, ..linf };
    assert_ne!(
        pgd(&model, x.view(), &y, &other_seed, &Silent).unwrap(),
        adv
    );

    let l2 = PgdOptions {
        eps: 1.5,
        step: 0.25,
        steps: 10,
        ..PgdOptions::l2()
    };
    let adv = pgd(&model, x.view(), &y, &l2, &Silent).unwrap();
    assert_in_ball(adv.view(), x.view(), 1.5, true);
    let l2_acc = unthresholded_accuracy(&model, adv.view(), &y);
    assert!(l2_acc < clean - 0.25, "PGD-L2: {clean} → {l2_acc}");

    let m = MimOptions {
        eps: 0.1,
        step: 0.02,
        ..MimOptions::cleverhans()
    };
    let adv = mim(&model, x.view(), &y, &m, &Silent).unwrap();
    assert_in_ball(adv.view(), x.view(), 0.1, false);
    let mim_acc = unthresholded_accuracy(&model, adv.view(), &y);
    assert!(mim_acc < clean - 0.25, "MIM: {clean} → {mim_acc}");

    // The CleverHans presets themselves.
    let adv = pgd(&model, x.view(), &y, &PgdOptions::cleverhans(), &Silent).unwrap();
    assert_in_ball(adv.view(), x.view(), 0.3, false);
    let adv = mim(&model, x.view(), &y, &MimOptions::cleverhans(), &Silent).unwrap();
    assert_in_ball(adv.view(), x.view(), 0.3, false);
}

#[test]
fn the_suite_reports_pgd_as_one_task_of_image_steps() {
    let (model, split) = tiny_model();
    let set = stratified(&split.test, 12, 1);
    let options = PgdOptions {
        steps: 3,
        ..PgdOptions::cleverhans()
    };
    let recorder = Log::default();
    let run = run_pgd(&model, &set, "pgd-linf", &[0.1, 0.2], &options, &recorder).unwrap();
    assert_eq!(run.points.len(), 2);
    let lines = recorder.lines();
    let total = 12 * 3 * 2;
    assert_eq!(
        lines[..2],
        [
            format!("start pgd-linf {total}"),
            "status image-steps".into()
        ]
    );
    assert_eq!(lines.last().map(String::as_str), Some("finish"));
    let advanced: u64 = lines[2..lines.len() - 1]
        .iter()
        .map(|l| l.strip_prefix("advance ").unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(advanced, total);
}
