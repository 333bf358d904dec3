//! Shared by the attack tests: a tiny model trained in seconds on the bundled digits.

#![allow(dead_code)]

use dfdx::prelude::*;
use gmvae_trainer::calibrate::{Calibration, CalibrationSettings};
use gmvae_trainer::data::{load, DatasetSpec, Split};
use gmvae_trainer::infer;
use gmvae_trainer::model::{ModelConfig, Preset};
use gmvae_trainer::progress::Silent;
use gmvae_trainer::train::{EncoderVariance, LrSchedule, TrainOptions, Trainer};
use gmvae_trainer::trained::TrainedModel;
use ndarray::{Array2, ArrayView2};
use std::path::Path;
use std::sync::Mutex;

/// File name of the cached model; bump the version when the recipe below changes.
const CACHE: &str = "attack-tiny-v1.gmvae";
const TRAIN: usize = 1000;
const EPOCHS: usize = 10;

/// A `Preset::Tiny` model trained for a few seconds on 800 bundled digits (≈ 80 % accurate),
/// calibrated like a real one (per-class covariances), and the bundled split.
///
/// Training takes seconds in release builds but minutes in unoptimised test builds, so the
/// model is cached in Cargo's per-target temporary directory and reused by every attack test;
/// a cache that no longer loads (e.g. after a format change) is retrained and overwritten.
pub fn tiny_model() -> (TrainedModel<Cpu>, Split) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Cpu::default();
    let split = load(&DatasetSpec::Bundled).expect("the bundled digits are part of the checkout");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(CACHE);
    if let Ok(model) = TrainedModel::load(&cache, &dev) {
        return (model, split);
    }
    let model = train_tiny(&split, &dev);
    model.save(&cache).expect("cache the tiny model");
    (model, split)
}

/// Trains the tiny model (no cache).
pub fn train_tiny(split: &Split, dev: &Cpu) -> TrainedModel<Cpu> {
    let dev = dev.clone();
    let train = split.train.subset(&(0..TRAIN).collect::<Vec<_>>());
    let config = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
    let options = TrainOptions {
        epochs: EPOCHS,
        batch_size: 32,
        lr: 0.005,
        alpha: 100.0,
        s2: 1.0 / 3000.0,
        seed: 7,
        augment: gmvae_trainer::train::batch::Augment::NONE,
        schedule: LrSchedule::Cosine,
        shards: 1,
        semi: None,
        encoder_variance: EncoderVariance::Fixed,
        adversarial: None,
    };
    let mut trainer = Trainer::new(config, options, &dev).unwrap();
    let bar = Silent;
    for _ in 0..options.epochs {
        trainer.train_epoch(&train, None, &bar).unwrap();
    }
    let encoded =
        infer::encode_and_reconstruct(&trainer.network, &trainer.params, train.images.view());
    let calibration = Calibration::fit(
        &config,
        options.s2,
        &encoded,
        train.labels.view(),
        CalibrationSettings::default(),
    )
    .unwrap();
    TrainedModel {
        network: trainer.network,
        params: trainer.params,
        calibration,
        dataset: split.name.clone(),
        class_names: train.class_names.clone(),
    }
}

/// The first `n` test images and labels: the fixed batch the tests attack.
pub fn batch(split: &Split, n: usize) -> (Array2<f32>, Vec<usize>) {
    let idx: Vec<usize> = (0..n).collect();
    let sub = split.test.subset(&idx);
    (
        sub.images,
        sub.labels.iter().map(|&l| usize::from(l)).collect(),
    )
}

/// Accuracy of the nearest class mean, without thresholds.
pub fn unthresholded_accuracy(
    model: &TrainedModel<Cpu>,
    images: ArrayView2<f32>,
    labels: &[usize],
) -> f64 {
    let z = infer::encode_images(&model.network, &model.params, images);
    let pred = infer::nearest_means(&z, model.network.config().classes);
    pred.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64
}

/// Asserts every row of `adv` is within `eps` of `clean` in L∞ (or L2) and inside [0, 1].
pub fn assert_in_ball(adv: ArrayView2<f32>, clean: ArrayView2<f32>, eps: f32, l2: bool) {
    assert_eq!(adv.dim(), clean.dim());
    for (i, (a, c)) in adv.rows().into_iter().zip(clean.rows()).enumerate() {
        assert!(
            a.iter().all(|v| (0.0..=1.0).contains(v)),
            "row {i} leaves [0, 1]"
        );
        let diff = a.iter().zip(c.iter()).map(|(a, c)| a - c);
        let norm = if l2 {
            diff.map(|d| d * d).sum::<f32>().sqrt()
        } else {
            diff.fold(0.0f32, |m, d| m.max(d.abs()))
        };
        assert!(norm <= eps + 1e-5, "row {i}: norm {norm} exceeds ε = {eps}");
    }
}

/// `clean` plus random ±eps signs (seeded), clipped to [0, 1]: the no-gradient baseline.
pub fn random_signs(clean: ArrayView2<f32>, eps: f32) -> Array2<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    clean.mapv(|x| (x + if rng.gen::<bool>() { eps } else { -eps }).clamp(0.0, 1.0))
}
