//! `TrainConfig::calibration_holdout`: the thresholds are fitted on a stratified, seeded part
//! of the training split that the model never trained on, the export from the checkpoint
//! fits the same part again, a resume cannot change which part that is, and a model file
//! without its checkpoint is calibrated on the same part again when told the run's holdout
//! and seed.

use dfdx::prelude::*;
use gmvae_trainer::calibrate::{Calibration, CalibrationSettings};
use gmvae_trainer::data::stratify::hold_out;
use gmvae_trainer::data::{Dataset, ImageShape, Split};
use gmvae_trainer::infer::encode_and_reconstruct;
use gmvae_trainer::model::Preset;
use gmvae_trainer::progress::Silent;
use gmvae_trainer::train::checkpoint::Checkpoint;
use gmvae_trainer::train::fit::calibrate_checkpoint;
use gmvae_trainer::train::recalibrate::{recalibrate_model, CalibrationSource};
use gmvae_trainer::train::{train_and_calibrate, TrainConfig};
use gmvae_trainer::trained::TrainedModel;
use gmvae_trainer::Error;

/// Three classes of 8×8 images: a bright bar at the top, middle or bottom, with noise.
fn bars(n: usize, salt: u32) -> Dataset {
    let mut pixels = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    let mut state = 12345u32 ^ salt;
    for i in 0..n {
        let class = i % 3;
        for p in 0..64 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = (state >> 24) as u8 / 8;
            let row = p / 8;
            pixels.push(if row / 3 == class { 220 + noise } else { noise });
        }
        labels.push(class as u8);
    }
    let shape = ImageShape {
        channels: 1,
        height: 8,
        width: 8,
    };
    let names = ["top", "middle", "bottom"].map(String::from).to_vec();
    Dataset::from_bytes(&pixels, labels, shape, names).unwrap()
}

fn split() -> Split {
    Split {
        name: "bars".into(),
        train: bars(90, 0),
        test: bars(30, 7),
    }
}

fn config(checkpoint: &std::path::Path, holdout: Option<usize>) -> TrainConfig {
    let mut config = TrainConfig {
        preset: Some(Preset::Tiny),
        checkpoint: Some(checkpoint.to_owned()),
        calibration_holdout: holdout,
        ..TrainConfig::default()
    };
    config.options.epochs = 2;
    config.options.batch_size = 16;
    config.options.seed = 5;
    config
}

#[test]
fn thresholds_come_from_the_held_out_images_only() {
    let split = split();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("run.ckpt");
    let dev = Cpu::default();
    let fitted = train_and_calibrate(&config(&ckpt, Some(30)), &split, &dev, &Silent).unwrap();

    let labels = split.train.labels.as_slice().unwrap();
    let (kept, held) = hold_out(labels, 30, 5).unwrap();
    assert_eq!(fitted.held_out, held);
    for class in 0..3u8 {
        let n = held.iter().filter(|&&i| labels[i] == class).count();
        assert_eq!(n, 10, "class {class}");
    }
    assert_eq!(kept.len(), 60);

    let model = &fitted.model;
    assert_eq!(model.calibration.samples, 30);
    let held_images = split.train.subset(&held);
    let encoded = encode_and_reconstruct(&model.network, &model.params, held_images.images.view());
    let expected = Calibration::fit(
        model.network.config(),
        model.calibration.s2,
        &encoded,
        held_images.labels.view(),
        model.calibration.settings,
    )
    .unwrap();
    assert_eq!(model.calibration, expected);

    // The images trained on give other thresholds: the holdout changed what was fitted.
    let trained_images = split.train.subset(&kept);
    let on_trained =
        encode_and_reconstruct(&model.network, &model.params, trained_images.images.view());
    let other = Calibration::fit(
        model.network.config(),
        model.calibration.s2,
        &on_trained,
        trained_images.labels.view(),
        model.calibration.settings,
    )
    .unwrap();
    assert_ne!(other.tau_dec, model.calibration.tau_dec);

    // Exporting from the checkpoint holds out the same images again.
    let checkpoint = Checkpoint::load(&ckpt).unwrap();
    assert_eq!(checkpoint.meta.calibration_holdout, Some(30));
    let exported =
        calibrate_checkpoint(&checkpoint, &split, model.calibration.settings, None, &dev).unwrap();
    assert_eq!(exported.calibration, model.calibration);
}

#[test]
fn a_resume_keeps_its_holdout_and_refuses_another() {
    let split = split();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("run.ckpt");
    let dev = Cpu::default();
    let mut first = config(&ckpt, Some(30));
    first.options.epochs = 1;
    train_and_calibrate(&first, &split, &dev, &Silent).unwrap();

    let mut other = config(&ckpt, Some(12));
    other.resume = true;
    let err = train_and_calibrate(&other, &split, &dev, &Silent)
        .err()
        .expect("another holdout must be refused");
    assert!(
        matches!(
            err,
            Error::ResumeOtherHoldout {
                trained: 30,
                given: 12
            }
        ),
        "{err}"
    );

    let mut same = config(&ckpt, None);
    same.resume = true;
    let resumed = train_and_calibrate(&same, &split, &dev, &Silent).unwrap();
    assert_eq!(resumed.history.len(), 2);
    assert_eq!(resumed.held_out.len(), 30);
    assert_eq!(resumed.model.calibration.samples, 30);
}

#[test]
fn a_holdout_that_leaves_nothing_to_train_on_is_refused_before_training() {
    let split = split();
    let dir = tempfile::tempdir().unwrap();
    let dev = Cpu::default();
    for n in [0, 90, 1000] {
        let config = config(&dir.path().join(format!("run{n}.ckpt")), Some(n));
        let err = train_and_calibrate(&config, &split, &dev, &Silent)
            .err()
            .expect("must be refused");
        assert!(
            matches!(err, Error::Holdout { holdout, available: 90, .. } if holdout == n),
            "{err}"
        );
        assert!(!dir.path().join(format!("run{n}.ckpt")).exists());
    }
}

#[test]
fn a_model_file_is_given_its_run_thresholds_again_or_new_ones() {
    let split = split();
    let dir = tempfile::tempdir().unwrap();
    let dev = Cpu::default();
    let fitted = train_and_calibrate(
        &config(&dir.path().join("run.ckpt"), Some(30)),
        &split,
        &dev,
        &Silent,
    )
    .unwrap();
    let file = dir.path().join("model.gmvae");
    fitted.model.save(&file).unwrap();
    let load = || TrainedModel::load(&file, &dev).unwrap();
    let run_images = CalibrationSource {
        train_limit: None,
        holdout: Some((30, 5)),
    };
    let settings = fitted.model.calibration.settings;

    // The run's holdout and settings give back the run's thresholds, and the same file.
    // (The file keeps s2 as an f32, so only s2's f64 widening may differ.)
    let again = recalibrate_model(load(), &split, run_images, settings).unwrap();
    let run = &fitted.model.calibration;
    assert_eq!(
        (again.calibration.tau_enc, again.calibration.tau_dec),
        (run.tau_enc, run.tau_dec)
    );
    assert_eq!(again.calibration.precisions, run.precisions);
    assert_eq!(again.calibration.s2 as f32, run.s2 as f32);
    let again_file = dir.path().join("again.gmvae");
    again.save(&again_file).unwrap();
    assert_eq!(
        std::fs::read(&again_file).unwrap(),
        std::fs::read(&file).unwrap()
    );

    // Another operating point changes the thresholds, not the covariances they scale.
    let stricter = CalibrationSettings {
        tpr: Some(0.9),
        ..settings
    };
    let other = recalibrate_model(load(), &split, run_images, stricter).unwrap();
    assert_ne!(other.calibration.tau_enc, fitted.model.calibration.tau_enc);
    assert_eq!(
        other.calibration.precisions,
        fitted.model.calibration.precisions
    );
    assert_eq!(other.calibration.samples, 30);

    // Another seed holds out other images, so other thresholds.
    let other_seed = CalibrationSource {
        holdout: Some((30, 6)),
        ..run_images
    };
    let moved = recalibrate_model(load(), &split, other_seed, settings).unwrap();
    assert_ne!(moved.calibration.precisions, run.precisions);

    // A holdout the training images cannot give is refused.
    let too_many = CalibrationSource {
        holdout: Some((1000, 5)),
        ..run_images
    };
    let err = recalibrate_model(load(), &split, too_many, settings)
        .err()
        .expect("must be refused");
    assert!(
        matches!(
            err,
            Error::Holdout {
                holdout: 1000,
                available: 90,
                ..
            }
        ),
        "{err}"
    );
}
