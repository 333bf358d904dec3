//! Adversarial training does what it is for: the same tiny model, trained the same number of
//! epochs on the same digits, resists FGSM better after adversarial training (with any
//! inner loss) than after the paper's; the CCAT-like variant sends perturbed digits farther
//! from every class mean, where the Mahalanobis test rejects them; catastrophic overfitting is
//! reported; bad settings are refused before any work.

use dfdx::prelude::*;
use gmvae_trainer::data::{load, DatasetSpec};
use gmvae_trainer::model::{ModelConfig, Preset};
use gmvae_trainer::progress::Silent;
use gmvae_trainer::train::adversarial::{
    perturb, robust_accuracy, AdversarialTarget, AdversarialTraining, InnerAttack, InnerLoss,
    DEFAULT_ADVERSARIAL,
};
use gmvae_trainer::train::fit::catastrophic_overfitting;
use gmvae_trainer::train::{
    EncoderVariance, EpochStats, LrSchedule, TrainError, TrainOptions, Trainer, DEFAULT_OPTIONS,
};

const EPOCHS: usize = 4;
const TRAIN: usize = 3000;
const EPS: f32 = 0.2;

fn options(adversarial: Option<AdversarialTraining>) -> TrainOptions {
    TrainOptions {
        epochs: EPOCHS,
        batch_size: 32,
        lr: 0.003,
        alpha: 100.0,
        s2: 1.0 / 3000.0,
        seed: 11,
        augment: gmvae_trainer::train::batch::Augment::NONE,
        schedule: LrSchedule::Cosine,
        shards: 2,
        semi: None,
        encoder_variance: EncoderVariance::Fixed,
        adversarial,
    }
}

#[test]
fn adversarial_epochs_make_a_tiny_model_resist_fgsm_better_than_normal_ones() {
    let split = load(&DatasetSpec::Bundled).expect("the bundled digits load");
    let train = split.train.subset(&(0..TRAIN).collect::<Vec<_>>());
    let test = split.test.subset(&(0..300).collect::<Vec<_>>());
    let config = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
    let dev = Cpu::default();
    let adversarial = AdversarialTraining {
        eps: EPS,
        ramp_epochs: 1,
        ..DEFAULT_ADVERSARIAL
    };
    let reject = AdversarialTraining {
        target: AdversarialTarget::Reject,
        ..adversarial
    };
    let margin = AdversarialTraining {
        loss: InnerLoss::Margin,
        ..adversarial
    };
    let wrong_mean = AdversarialTraining {
        loss: InnerLoss::WrongMean,
        ..adversarial
    };
    let mut measured = Vec::new();
    let mut far = Vec::new();
    for settings in [
        None,
        Some(adversarial),
        Some(reject),
        Some(margin),
        Some(wrong_mean),
    ] {
        let mut trainer = Trainer::new(config, options(settings), &dev).unwrap();
        let mut last = None;
        for _ in 0..EPOCHS {
            last = Some(trainer.train_epoch(&train, Some(&test), &Silent).unwrap());
        }
        let last = last.unwrap();
        far.push(far_from_every_mean(&trainer, &test));
        if settings.map(|s| s.target) == Some(AdversarialTarget::Reject) {
            continue;
        }
        let fgsm = robust_accuracy(&trainer.network, &trainer.params, &test, EPS, 1, 1.0);
        let pgd = robust_accuracy(&trainer.network, &trainer.params, &test, EPS, 10, 2.5);
        // The monitor columns are filled in adversarial training only, and agree with a
        // measurement on the same (first 200) images.
        assert_eq!(last.fgsm_accuracy.is_some(), settings.is_some());
        if settings.is_some() {
            let first = test.subset(&(0..200).collect::<Vec<_>>());
            let again = robust_accuracy(&trainer.network, &trainer.params, &first, EPS, 1, 1.0);
            assert_eq!(last.fgsm_accuracy, Some(again));
        }
        measured.push((last.monitor_accuracy.unwrap(), fgsm, pgd));
    }
    let [(clean_normal, fgsm_normal, pgd_normal), (clean_adv, fgsm_adv, pgd_adv), (clean_margin, fgsm_margin, pgd_margin), (clean_mean, fgsm_mean, pgd_mean)] =
        measured[..]
    else {
        unreachable!()
    };
    eprintln!(
        "normal: clean {clean_normal:.3} FGSM {fgsm_normal:.3} PGD {pgd_normal:.3}; \
         adversarial: clean {clean_adv:.3} FGSM {fgsm_adv:.3} PGD {pgd_adv:.3}; \
         margin inner loss: clean {clean_margin:.3} FGSM {fgsm_margin:.3} PGD {pgd_margin:.3}; \
         wrong-mean inner loss: clean {clean_mean:.3} FGSM {fgsm_mean:.3} PGD {pgd_mean:.3}"
    );
    // The margin and wrong-mean inner losses buy FGSM and PGD robustness too.
    assert!(
        fgsm_margin > fgsm_normal + 0.15 && pgd_margin > pgd_normal,
        "margin inner loss: FGSM {fgsm_margin} PGD {pgd_margin} vs {fgsm_normal} {pgd_normal}"
    );
    assert!(
        fgsm_mean > fgsm_normal + 0.15 && pgd_mean > pgd_normal,
        "wrong-mean inner loss: FGSM {fgsm_mean} PGD {pgd_mean} vs {fgsm_normal} {pgd_normal}"
    );
    assert!(
        fgsm_adv > fgsm_normal + 0.15,
        "FGSM accuracy {fgsm_adv} after adversarial training vs {fgsm_normal}"
    );
    assert!(
        pgd_adv > pgd_normal,
        "PGD accuracy {pgd_adv} vs {pgd_normal}"
    );
    // The CCAT-like variant sends FGSM digits farther from every class mean (towards the
    // centroid, 0.9 from each, where τ_enc rejects them) than either other training.
    eprintln!("median squared distance of FGSM digits to the nearest mean: normal, adversarial, reject, margin, wrong-mean = {far:?}");
    assert!(
        far[2] > far[0].max(far[1]) + 0.05,
        "median squared distance to the nearest mean {far:?}"
    );
    // All still classify clean digits.
    assert!(
        clean_normal > 0.8 && clean_adv > 0.6 && clean_margin > 0.6 && clean_mean > 0.6,
        "{clean_normal} {clean_adv} {clean_margin} {clean_mean}"
    );
}

fn epoch(epoch: usize, fgsm: f64, pgd: f64) -> EpochStats {
    EpochStats {
        epoch,
        reconstruction: 0.0,
        latent: 0.0,
        prior: 0.0,
        variance_penalty: 0.0,
        encoder_variance: 0.0,
        adversarial_latent: 0.0,
        total: 0.0,
        images_per_second: 0.0,
        monitor_accuracy: None,
        fgsm_accuracy: Some(fgsm),
        pgd_accuracy: Some(pgd),
    }
}

#[test]
fn a_pgd_collapse_while_fgsm_rises_is_reported_as_catastrophic_overfitting() {
    let healthy = [epoch(1, 0.5, 0.4), epoch(2, 0.6, 0.45)];
    assert_eq!(catastrophic_overfitting(&healthy), None);
    let collapsed = [epoch(1, 0.5, 0.4), epoch(2, 0.6, 0.45), epoch(3, 0.9, 0.05)];
    let warning = catastrophic_overfitting(&collapsed).expect("reported");
    assert!(
        warning.contains("epoch 3") && warning.contains("5.0%"),
        "{warning}"
    );
    // Both falling together is a bad epoch, not the one-step attack being gamed.
    let both = [epoch(1, 0.5, 0.4), epoch(2, 0.3, 0.1)];
    assert_eq!(catastrophic_overfitting(&both), None);
}

#[test]
fn adversarial_settings_are_checked_before_any_work() {
    let dev = Cpu::default();
    let config = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
    for bad in [
        AdversarialTraining {
            eps: 2.0,
            ..DEFAULT_ADVERSARIAL
        },
        AdversarialTraining {
            steps: 0,
            ..DEFAULT_ADVERSARIAL
        },
    ] {
        let err = Trainer::new(config, options(Some(bad)), &dev)
            .err()
            .unwrap();
        assert!(matches!(err, TrainError::Adversarial(_)), "{err}");
    }
    let learned = TrainOptions {
        encoder_variance: EncoderVariance::Learned,
        ..options(Some(DEFAULT_ADVERSARIAL))
    };
    let err = Trainer::new(config, learned, &dev).err().unwrap();
    assert!(matches!(err, TrainError::AdversarialCombination), "{err}");
    assert_eq!(DEFAULT_OPTIONS.adversarial, None);
}

/// The median over `test`'s digits of the squared distance from the encoding of its FGSM
/// image (from no random start, at [`EPS`]) to the nearest class mean.
fn far_from_every_mean(trainer: &Trainer<Cpu>, test: &gmvae_trainer::data::Dataset) -> f32 {
    let (network, params) = (&trainer.network, &trainer.params);
    let dev = network.device();
    let n = test.len();
    let pixels = network.config().pixels();
    let mut images = vec![0f32; pixels * n];
    let mut means = vec![0f32; network.config().latent * n];
    for (c, image) in test.images.rows().into_iter().enumerate() {
        for (p, &v) in image.iter().enumerate() {
            images[p * n + c] = v;
        }
        means[usize::from(test.labels[c]) * n + c] = 1.0;
    }
    let attack = InnerAttack {
        eps: EPS,
        steps: 1,
        step_size: EPS,
        start: vec![0.0; pixels * n],
        target: AdversarialTarget::TrueClass,
        loss: InnerLoss::Posterior,
    };
    let x = dev.tensor_from_vec(images, (pixels, n));
    let targets = dev.tensor_from_vec(means, (network.config().latent, n));
    let adversarial = perturb(network, params, &x, &targets, &attack);
    let z = network.encode(params, adversarial).as_vec();
    let latent = network.config().latent;
    let mut nearest: Vec<f32> = (0..n)
        .map(|c| {
            (0..network.config().classes)
                .map(|k| {
                    (0..latent)
                        .map(|j| (z[j * n + c] - f32::from(j == k)).powi(2))
                        .sum::<f32>()
                })
                .fold(f32::INFINITY, f32::min)
        })
        .collect();
    nearest.sort_by(f32::total_cmp);
    nearest[n / 2]
}
