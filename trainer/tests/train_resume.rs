//! Training lowers the loss, and a run resumed from its checkpoint continues bit for bit as if
//! it had never stopped; exported models reload with identical weights.

use dfdx::prelude::*;
use gmvae_trainer::calibrate::{
    Calibration, CalibrationSettings, CovarianceKind, TauDecStatistic, TauEncStatistic,
};
use gmvae_trainer::data::{Dataset, ImageShape};
use gmvae_trainer::model::{ModelConfig, Preset};
use gmvae_trainer::progress::Silent;
use gmvae_trainer::train::batch::Augment;
use gmvae_trainer::train::checkpoint::Checkpoint;
use gmvae_trainer::train::{EncoderVariance, LrSchedule, TrainOptions, Trainer};
use gmvae_trainer::trained::TrainedModel;

/// Three classes of 8×8 images: a bright bar at the top, middle or bottom, with noise.
fn bars(n: usize) -> Dataset {
    let mut pixels = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    let mut state = 12345u32;
    for i in 0..n {
        let class = i % 3;
        for p in 0..64 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = (state >> 24) as u8 / 8;
            let row = p / 8;
            let on = row / 3 == class || (class == 2 && row == 7);
            pixels.push(if on { 220 + noise } else { noise });
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

fn options(epochs: usize) -> TrainOptions {
    TrainOptions {
        epochs,
        batch_size: 16,
        lr: 3e-3,
        alpha: 10.0,
        s2: 1.0 / 3000.0,
        seed: 5,
        augment: Augment {
            shift: 1.0,
            rotate: 5.0,
            scale: 0.05,
        },
        schedule: LrSchedule::Cosine,
        shards: 2,
        semi: None,
        encoder_variance: EncoderVariance::Fixed,
        adversarial: None,
    }
}

fn config() -> ModelConfig {
    ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 3, None).unwrap()
}

/// Every trained tensor, the log-variance head's included.
fn weights(t: &Trainer<Cpu>) -> Vec<Vec<f32>> {
    t.params
        .to_host()
        .into_iter()
        .chain(t.params.log_variance_to_host())
        .flat_map(|(_, _, w, b)| [w, b])
        .collect()
}

#[test]
fn training_lowers_the_loss_and_learns_the_classes() {
    let data = bars(96);
    let dev = Cpu::default();
    let mut trainer = Trainer::new(config(), options(12), &dev).unwrap();
    let bar = Silent;
    let first = trainer.train_epoch(&data, Some(&data), &bar).unwrap();
    let mut last = first;
    for _ in 1..12 {
        last = trainer.train_epoch(&data, Some(&data), &bar).unwrap();
    }
    assert!(last.total < 0.7 * first.total, "{first:?} → {last:?}");
    assert!(last.monitor_accuracy.unwrap() > 0.9, "{last:?}");
}

#[test]
fn resuming_from_a_checkpoint_continues_bit_for_bit() {
    resumes_bit_for_bit(EncoderVariance::Fixed);
}

#[test]
fn resuming_a_learned_variance_run_continues_bit_for_bit() {
    resumes_bit_for_bit(EncoderVariance::Learned);
}

fn resumes_bit_for_bit(encoder_variance: EncoderVariance) {
    let data = bars(48);
    let dev = Cpu::default();
    let bar = Silent;
    let options = |epochs| TrainOptions {
        encoder_variance,
        ..options(epochs)
    };

    let mut straight = Trainer::new(config(), options(2), &dev).unwrap();
    straight.train_epoch(&data, None, &bar).unwrap();
    straight.train_epoch(&data, None, &bar).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    let mut first = Trainer::new(config(), options(2), &dev).unwrap();
    first.train_epoch(&data, None, &bar).unwrap();
    Checkpoint::capture(&first, "bars", &data.class_names, None)
        .save(&path)
        .unwrap();
    drop(first);
    let mut resumed = Checkpoint::load(&path).unwrap().restore(&dev).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    resumed.train_epoch(&data, None, &bar).unwrap();

    assert_eq!(weights(&straight), weights(&resumed));
    let head = encoder_variance == EncoderVariance::Learned;
    assert_eq!(resumed.params.log_variance.is_some(), head);
    if head {
        // The head trained: its weights left their zero start.
        let (_, _, w, _) = resumed.params.log_variance_to_host().unwrap();
        assert!(w.iter().any(|&v| v != 0.0));
    }
    let losses = |t: &Trainer<Cpu>| -> Vec<f32> { t.history.iter().map(|s| s.total).collect() };
    assert_eq!(losses(&straight), losses(&resumed));
}

#[test]
fn corrupt_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    let trainer = Trainer::new(config(), options(1), &Cpu::default()).unwrap();
    Checkpoint::capture(
        &trainer,
        "bars",
        &["a".into(), "b".into(), "c".into()],
        None,
    )
    .save(&path)
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = chain(&Checkpoint::load(&path).unwrap_err());
    assert!(err.starts_with("bad checkpoint"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    std::fs::write(&path, b"not a checkpoint at all").unwrap();
    let err = chain(&Checkpoint::load(&path).unwrap_err());
    assert!(err.contains("bad magic"), "{err}");
}

/// An error and its causes (through `source()`), joined by ": " as the binary prints them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[test]
fn exported_models_reload_with_identical_weights_and_thresholds() {
    let dev = Cpu::default();
    let trainer = Trainer::new(config(), options(1), &dev).unwrap();
    let model = TrainedModel {
        network: trainer.network,
        params: trainer.params,
        calibration: Calibration {
            settings: CalibrationSettings {
                confidence: 0.9973,
                covariance: CovarianceKind::PerClass,
                tau_enc: TauEncStatistic::Quantile,
                tau_dec: TauDecStatistic::Quantile,
                tpr: None,
            },
            s2: 1.0 / 3000.0,
            tau_enc: 26.9,
            tau_dec: 12.5,
            precisions: vec![
                2.0, 0.5, 0.0, 0.5, 3.0, 0.0, 0.0, 0.0, 1.0, // class 0
                1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, // class 1
                4.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0, // class 2
            ],
            samples: 48,
        },
        dataset: "bars".into(),
        class_names: ["top", "middle", "bottom"].map(String::from).to_vec(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gmvae");
    model.save(&path).unwrap();
    let back = TrainedModel::load(&path, &dev).unwrap();
    assert_eq!(back.params.to_host(), model.params.to_host());
    assert_eq!(back.calibration.precisions, model.calibration.precisions);
    assert_eq!(back.calibration.tau_enc, 26.9);
    assert_eq!(back.class_names, model.class_names);
    assert_eq!(back.network.config(), model.network.config());
    let err = format!(
        "{:#}",
        TrainedModel::load(&dir.path().join("missing"), &dev)
            .err()
            .unwrap()
    );
    assert!(err.contains("cannot read model"), "{err}");
}

#[test]
fn invalid_options_are_errors_not_panics() {
    let dev = Cpu::default();
    for broken in [
        TrainOptions {
            s2: -1.0,
            ..options(1)
        },
        TrainOptions {
            batch_size: 0,
            ..options(1)
        },
        TrainOptions {
            shards: 0,
            ..options(1)
        },
        TrainOptions {
            lr: f64::NAN,
            ..options(1)
        },
    ] {
        assert!(Trainer::new(config(), broken, &dev).is_err(), "{broken:?}");
    }
}
