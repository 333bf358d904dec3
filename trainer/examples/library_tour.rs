//! The whole pipeline from Rust, through the library alone — no command line, no files: train a
//! small model on the bundled digits, calibrate its two thresholds, evaluate Table 1's
//! row, attack it with FGSM and PGD, reclassify a rejected test digit by latent search, and
//! print the figures. CI runs it:
//!
//! ```text
//! cargo run --release -p gmvae-trainer --example library_tour
//! ```
//!
//! It takes about a minute on 2 cores. Every step returns a typed error
//! (`gmvae_trainer::Error`, `AttackError`, `ReclassifyError`) that this example only prints.

use dfdx::prelude::Cpu;
use gmvae_trainer::attack::pgd::PgdOptions;
use gmvae_trainer::attack::sampling::stratified;
use gmvae_trainer::attack::suite::{run_fgsm, run_pgd};
use gmvae_trainer::attack::EncoderLoss;
use gmvae_trainer::data::{load, DatasetSpec};
use gmvae_trainer::eval::evaluate;
use gmvae_trainer::eval::metrics::SelectiveMetrics;
use gmvae_trainer::model::Preset;
use gmvae_trainer::progress::{Progress, Silent};
use gmvae_trainer::reclassify::experiment::{Classified, Engine};
use gmvae_trainer::reclassify::ReclassifySettings;
use gmvae_trainer::train::{train_and_calibrate, TrainConfig};
use ndarray::Axis;

/// Prints the library's notes (the run's description, one line per epoch).
struct Notes;

impl Progress for Notes {
    fn note(&self, line: &str) {
        println!("  {line}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let split = load(&DatasetSpec::Bundled)?;

    // Train and calibrate: the edge preset (8/16 channels, 64 hidden units), 4 epochs on the
    // 9,000 training digits; every other setting the paper's default.
    let mut config = TrainConfig {
        preset: Some(Preset::Edge),
        ..TrainConfig::default()
    };
    config.options.epochs = 4;
    println!("training:");
    let model = train_and_calibrate(&config, &split, &Cpu::default(), &Notes)?.model;
    let c = &model.calibration;
    println!(
        "thresholds: τ_enc = {:.3}, τ_dec = {:.3}",
        c.tau_enc, c.tau_dec
    );

    // Table 1's row on the 1,000 held-out digits.
    let report = evaluate(&model, &split)?;
    println!("\n{}", row("clean test digits", &report.metrics));

    // White-box attacks on the encoder, on 100 test digits (10 per class).
    let set = stratified(&split.test, 100, 2019);
    let fgsm = run_fgsm(&model, &set, &[0.1, 0.2], EncoderLoss::default())?;
    let pgd_options = PgdOptions {
        steps: 10,
        ..PgdOptions::cleverhans()
    };
    let pgd = run_pgd(&model, &set, "pgd-linf", &[0.1], &pgd_options, &Silent)?;
    for point in fgsm.points.iter().chain(&pgd.points) {
        let name = format!("{} ε = {}", point.attack, point.eps);
        println!("{}", row(&name, &point.metrics));
    }

    // Reclassify the first rejected test digit (paper §3.5) with the heap-free runtime,
    // through the model file's bytes as a device would hold them.
    let test = &split.test;
    let classified = Classified::new(&model, test.images.view())?;
    let rejected = classified.rejected();
    println!(
        "\n{} of {} test digits rejected",
        rejected.len(),
        test.len()
    );
    if let Some(&first) = rejected.first() {
        let engine = Engine::Runtime {
            bytes: gmvae_trainer::export::to_bytes(&model)?,
            threads: 1,
        };
        let image = test.images.select(Axis(0), &[first]);
        let outcomes = engine.run(&model, image.view(), &ReclassifySettings::DEFAULT)?;
        if let Some(o) = outcomes.first() {
            println!(
                "test digit {first} (a {}): reclassified as {} from start {}, {} (reconstruction error {:.2})",
                test.labels[first],
                o.label,
                o.start,
                if o.accepted { "accepted" } else { "still rejected" },
                o.reconstruction_error
            );
        }
    }
    Ok(())
}

/// One line of Table 1's columns.
fn row(name: &str, m: &SelectiveMetrics) -> String {
    format!(
        "{name:<24} accuracy {:>6.2} %  error {:>6.2} %  rejection {:>6.2} %",
        100.0 * m.accuracy,
        100.0 * m.error,
        100.0 * m.rejection
    )
}
