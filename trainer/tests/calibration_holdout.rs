//! `TrainConfig::calibration_holdout`: the thresholds are fitted on a stratified, seeded part
//! of the training split that the model never trained on, the export from the checkpoint
//! fits the same part again, and a resume cannot change which part that is.

use dfdx::prelude::*;
use gmvae_trainer::calibrate::Calibration;
use gmvae_trainer::data::stratify::hold_out;
use gmvae_trainer::data::{Dataset, ImageShape, Split};
use gmvae_trainer::infer::encode_and_reconstruct;
use gmvae_trainer::model::Preset;
use gmvae_trainer::progress::Silent;
use gmvae_trainer::train::checkpoint::Checkpoint;
use gmvae_trainer::train::fit::calibrate_checkpoint;
use gmvae_trainer::train::{train_and_calibrate, TrainConfig};
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
