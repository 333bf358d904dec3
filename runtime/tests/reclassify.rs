//! Reclassification: the analytic gradient against f64 finite differences, pinned output
//! bits, and the properties the result promises.

mod common;

use common::*;
use gmvae_format::Architecture;
use gmvae_runtime::{Decision, Error, Model, ReclassifySettings, Workspace};

/// Large enough for the paper-sized model's reclassification.
type Ws = Workspace<140_000>;

fn ws() -> Box<Ws> {
    Box::new(Workspace::new())
}

/// Fixed test settings (independent of `ReclassifySettings::DEFAULT`, which may be retuned):
/// Adam with lr 0.05, β1 0.9, β2 0.999, ε 1e-8, no early stopping, fooling rejection on.
fn settings(steps: u32) -> ReclassifySettings {
    ReclassifySettings {
        steps,
        learning_rate: 0.05,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        early_stop_tolerance: 0.0,
        reject_fooling: true,
        confine_to_class: false,
        confine_fraction: 1.0,
    }
}

/// `Σ (x − g(z))²` in f64 through the reference decoder.
fn reference_loss(file: &gmvae_format::ModelFile, image: &[f32], z: &[f64]) -> f64 {
    decode_reference(file, z)
        .iter()
        .zip(image)
        .map(|(r, &x)| (x as f64 - r).powi(2))
        .sum()
}

/// Largest `|analytic − finite difference|`, relative to `max(1, ‖fd‖∞)`, over a few codes.
fn gradient_error(arch: Architecture, seed: u64) -> f64 {
    let file = random_file(arch, seed, 1e30, 1e30);
    let bytes = file.to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();
    let mut ws = ws();
    let mut rng = Rng(seed ^ 0xfeed);
    let mut worst = 0.0f64;
    for trial in 0..4 {
        let image = random_image(model.image_len(), seed + trial);
        let z: Vec<f32> = (0..arch.latent).map(|_| rng.sym(1.0)).collect();
        let mut grad = vec![0.0; arch.latent];
        let loss = model
            .reconstruction_gradient(&image, &z, &mut ws, &mut grad)
            .unwrap();
        let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
        let l64 = reference_loss(&file, &image, &z64);
        assert!(
            (loss as f64 - l64).abs() <= 1e-5 * l64.max(1.0),
            "loss {loss} vs {l64}"
        );
        // Central differences in f64 (step 1e-6: truncation ~1e-12, rounding ~1e-10).
        let h = 1e-6;
        let fd: Vec<f64> = (0..arch.latent)
            .map(|k| {
                let (mut up, mut down) = (z64.clone(), z64.clone());
                up[k] += h;
                down[k] -= h;
                (reference_loss(&file, &image, &up) - reference_loss(&file, &image, &down))
                    / (2.0 * h)
            })
            .collect();
        let scale = fd.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (g, f) in grad.iter().zip(&fd) {
            worst = worst.max((*g as f64 - f).abs() / scale);
        }
    }
    worst
}

/// The runtime's f32 gradient agrees with f64 central finite differences of the f64
/// reference network to 1e-5 of the gradient's largest component (measured on these three
/// models: at most 4e-7).
#[test]
fn gradient_matches_finite_differences() {
    for (arch, seed) in [(TINY, 3), (EDGE, 4), (PAPER, 5)] {
        let err = gradient_error(arch, seed);
        eprintln!("{arch:?}: max relative gradient error {err:.2e}");
        assert!(err <= 1e-5, "{arch:?}: {err}");
    }
}

fn outputs_hash(arch: Architecture, model_seed: u64, steps: u32) -> u64 {
    let bytes = random_model(arch, model_seed);
    same_on_every_isa(Model::parse(&bytes).unwrap(), |model| {
        let mut ws = ws();
        let mut values = Vec::new();
        for image_seed in 0..2 {
            let image = random_image(model.image_len(), 2000 + image_seed);
            let r = model.reclassify(&image, &mut ws, &settings(steps)).unwrap();
            values.push(r.label as f32);
            values.push(r.start as f32);
            values.extend_from_slice(&r.latent);
            values.push(r.reconstruction_error);
            values.push(r.mahalanobis_sq);
            values.extend_from_slice(&r.start_losses);
            values.extend(r.start_steps.iter().map(|&s| s as f32));
            let mut grad = vec![0.0; model.architecture().latent];
            let z = vec![0.25; model.architecture().latent];
            values.push(
                model
                    .reconstruction_gradient(&image, &z, &mut ws, &mut grad)
                    .unwrap(),
            );
            values.extend_from_slice(&grad);
        }
        hash_f32(values)
    })
}

// Bit-determinism: like `determinism.rs`, these constants must hold in debug, release, with
// `-C target-cpu=native` and on every instruction set (`NUMERICS.md`, "The backward pass").
#[test]
fn tiny_reclassification_is_pinned() {
    assert_eq!(outputs_hash(TINY, 77, 20), 1_305_714_812_372_434_527);
}

#[test]
fn edge_reclassification_is_pinned() {
    assert_eq!(outputs_hash(EDGE, 78, 8), 17_910_462_002_230_201_602);
}

#[test]
fn paper_reclassification_is_pinned() {
    assert_eq!(outputs_hash(PAPER, 79, 3), 7_786_930_092_059_459_074);
}

#[test]
fn result_is_consistent_with_decode_and_classify_conventions() {
    let bytes = random_model(EDGE, 11);
    let model = Model::parse(&bytes).unwrap();
    let mut ws = ws();
    let image = random_image(model.image_len(), 5);
    let r = model.reclassify(&image, &mut ws, &settings(10)).unwrap();
    let classes = model.architecture().classes;
    assert_eq!(r.start_losses.len(), classes);
    assert_eq!(r.start_steps.len(), classes);
    assert!(r.start_steps.iter().all(|&s| s == 10));
    // The winner has the smallest loss (first of equals) and its loss is the error.
    let min = r.start_losses.iter().copied().fold(f32::INFINITY, f32::min);
    assert_eq!(r.start_losses[r.start], min);
    assert!(r.start_losses[..r.start].iter().all(|&l| l > min));
    assert_eq!(r.reconstruction_error, min);
    // The error is the same bits classify's definition gives for the winning code.
    let mut recon = vec![0.0; model.image_len()];
    model.decode_into(&r.latent, &mut ws, &mut recon).unwrap();
    let err: f32 = {
        let mut lanes = [0.0f32; 8];
        for (i, (x, y)) in image.iter().zip(&recon).enumerate() {
            let d = x - y;
            lanes[i % 8] += d * d;
        }
        ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    };
    assert_eq!(err.to_bits(), r.reconstruction_error.to_bits());
    // Each start's loss is at most its mean's loss (step 0 is an iterate).
    let zero = model.reclassify(&image, &mut ws, &settings(0)).unwrap();
    for (a, b) in r.start_losses.iter().zip(&zero.start_losses) {
        assert!(a <= b);
    }
    assert!(zero.start_steps.iter().all(|&s| s == 0));
    // Descent helps on a random decoder: the best loss drops below every mean's.
    assert!(r.reconstruction_error < zero.reconstruction_error);
    // Huge thresholds accept.
    assert_eq!(r.decision, Decision::Accepted);
    assert_eq!(r.threshold_test, Decision::Accepted);
}

#[test]
fn descent_recovers_a_decodable_image() {
    // x = g(z*) for a code near class 2's mean: reclassification finds a code that decodes
    // to (nearly) x, closer than every class mean does.
    let bytes = random_model(EDGE, 12);
    let model = Model::parse(&bytes).unwrap();
    let mut ws = ws();
    let mut z = vec![0.0f32; 10];
    z[2] = 0.9;
    z[5] = 0.2;
    let mut image = vec![0.0; model.image_len()];
    model.decode_into(&z, &mut ws, &mut image).unwrap();
    let r = model.reclassify(&image, &mut ws, &settings(200)).unwrap();
    let at_means = model.reclassify(&image, &mut ws, &settings(0)).unwrap();
    assert!(
        r.reconstruction_error < 0.05 * at_means.reconstruction_error,
        "{} vs {}",
        r.reconstruction_error,
        at_means.reconstruction_error
    );
}

#[test]
fn thresholds_reject_only_when_asked() {
    let file = random_file(TINY, 13, 1e-6, 1e-6);
    let bytes = file.to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();
    let mut ws = ws();
    let image = random_image(model.image_len(), 6);
    let strict = model.reclassify(&image, &mut ws, &settings(5)).unwrap();
    assert!(matches!(
        strict.decision,
        Decision::Rejected {
            reconstruction: true,
            ..
        }
    ));
    assert_eq!(strict.threshold_test, strict.decision);
    let lenient = ReclassifySettings {
        reject_fooling: false,
        ..settings(5)
    };
    let r = model.reclassify(&image, &mut ws, &lenient).unwrap();
    assert_eq!(r.decision, Decision::Accepted);
    assert_eq!(r.threshold_test, strict.threshold_test);
    assert_eq!(r.latent, strict.latent);
}

#[test]
fn confined_starts_stay_inside_their_class_ellipsoid() {
    // Isotropic precision 4·I: d² ≤ 0.5 is a ball of radius 0.35 around each one-hot mean,
    // well inside the mean's nearest-mean cell.
    let tau_enc = 0.5;
    let bytes = random_file(EDGE, 21, tau_enc, 1e30).to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();
    let mut ws = ws();
    let image = random_image(model.image_len(), 12);
    let free = model.reclassify(&image, &mut ws, &settings(40)).unwrap();
    assert!(
        free.mahalanobis_sq > tau_enc,
        "the free search must leave the ball for this test to mean anything: {}",
        free.mahalanobis_sq
    );
    let s = ReclassifySettings {
        confine_to_class: true,
        ..settings(40)
    };
    let confined = model.reclassify(&image, &mut ws, &s).unwrap();
    // Held a hair inside the ellipsoid, so the latent test accepts it.
    assert!(
        confined.mahalanobis_sq <= tau_enc,
        "{}",
        confined.mahalanobis_sq
    );
    assert!(!matches!(
        confined.threshold_test,
        Decision::Rejected { latent: true, .. }
    ));
    assert_eq!(confined.label, confined.start);
    // Deterministic like the free search.
    assert_eq!(confined, model.reclassify(&image, &mut ws, &s).unwrap());
}

#[test]
fn early_stopping_is_deterministic_and_stops_early() {
    let bytes = random_model(EDGE, 14);
    let model = Model::parse(&bytes).unwrap();
    let mut ws = ws();
    let image = random_image(model.image_len(), 7);
    let s = ReclassifySettings {
        early_stop_tolerance: 1e-3,
        ..settings(300)
    };
    let a = model.reclassify(&image, &mut ws, &s).unwrap();
    let b = model.reclassify(&image, &mut ws, &s).unwrap();
    assert_eq!(a, b);
    assert!(
        a.start_steps.iter().any(|&n| n < 300),
        "{:?}",
        a.start_steps
    );
}

#[test]
fn bad_settings_workspace_and_inputs_are_typed_errors() {
    let bytes = random_model(TINY, 15);
    let model = Model::parse(&bytes).unwrap();
    let image = random_image(model.image_len(), 8);
    let mut ws = ws();
    let sizes = model.workspace_sizes();
    assert!(sizes.reclassify > sizes.classify);
    assert_eq!(sizes.reclassify_bytes(), 4 * sizes.reclassify);
    let mut tiny_ws: Box<Workspace<16>> = Box::new(Workspace::new());
    assert_eq!(
        model
            .reclassify(&image, &mut tiny_ws, &settings(1))
            .unwrap_err(),
        Error::WorkspaceTooSmall {
            needed: sizes.reclassify,
            available: 16
        }
    );
    // A workspace sized for classify is too small for reclassify.
    let edge = random_model(EDGE, 16);
    let edge = Model::parse(&edge).unwrap();
    let mut classify_only: Box<Workspace<12_700>> = Box::new(Workspace::new());
    let digit = random_image(edge.image_len(), 9);
    assert!(edge.classify(&digit, &mut classify_only).is_ok());
    assert!(matches!(
        edge.reclassify(&digit, &mut classify_only, &settings(1)),
        Err(Error::WorkspaceTooSmall {
            needed: 20_520,
            available: 12_700
        })
    ));
    for (bad, name) in [
        (
            ReclassifySettings {
                confine_fraction: 0.0,
                ..settings(1)
            },
            "confine_fraction",
        ),
        (
            ReclassifySettings {
                confine_fraction: 1.5,
                ..settings(1)
            },
            "confine_fraction",
        ),
        (
            ReclassifySettings {
                learning_rate: 0.0,
                ..settings(1)
            },
            "learning_rate",
        ),
        (
            ReclassifySettings {
                learning_rate: f32::NAN,
                ..settings(1)
            },
            "learning_rate",
        ),
        (
            ReclassifySettings {
                beta1: 1.0,
                ..settings(1)
            },
            "beta1",
        ),
        (
            ReclassifySettings {
                beta2: -0.1,
                ..settings(1)
            },
            "beta2",
        ),
        (
            ReclassifySettings {
                epsilon: 0.0,
                ..settings(1)
            },
            "epsilon",
        ),
        (
            ReclassifySettings {
                early_stop_tolerance: -1.0,
                ..settings(1)
            },
            "early_stop_tolerance",
        ),
    ] {
        assert_eq!(
            model.reclassify(&image, &mut ws, &bad).unwrap_err(),
            Error::InvalidSetting { name }
        );
    }
    let mut short = image.clone();
    short.pop();
    assert!(matches!(
        model.reclassify(&short, &mut ws, &settings(1)),
        Err(Error::ImageLength { .. })
    ));
    let mut grad = vec![0.0; 4];
    assert_eq!(
        model
            .reconstruction_gradient(&image, &[0.0; 3], &mut ws, &mut grad)
            .unwrap_err(),
        Error::LatentLength {
            expected: 4,
            found: 3
        }
    );
    assert_eq!(
        model
            .reconstruction_gradient(&image, &[0.0, f32::NAN, 0.0, 0.0], &mut ws, &mut grad)
            .unwrap_err(),
        Error::NonFiniteLatent { index: 1 }
    );
    assert!(matches!(
        model.reconstruction_gradient(&image, &[0.0; 4], &mut ws, &mut grad[..3]),
        Err(Error::OutputLength { .. })
    ));
}

#[test]
fn reclassify_workspace_sizes_of_the_presets() {
    for (arch, len, all) in [(PAPER, 106_760, 144_560), (EDGE, 20_520, 30_240)] {
        let bytes = random_model(arch, 1);
        let model = Model::parse(&bytes).unwrap();
        let sizes = model.workspace_sizes();
        assert_eq!(sizes.reclassify, len, "{arch:?}");
        assert_eq!(sizes.reclassify_bytes(), 4 * len);
        assert_eq!(sizes.reclassify_lockstep, all, "{arch:?}");
        assert_eq!(sizes.reclassify_lockstep_bytes(), 4 * all);
        assert_eq!(len + 9 * sizes.reclassify_per_start, all);
    }
}

/// How many starts run in lockstep depends on the workspace alone and changes no bit:
/// one at a time, three at a time (groups 3 + 3 + 3 + 1) and all ten give the same result,
/// also when starts stop early at different steps (early stopping, confinement).
#[test]
fn the_lockstep_width_never_changes_a_result() {
    let bytes = random_model(EDGE, 21);
    let model = Model::parse(&bytes).unwrap();
    assert_eq!(model.workspace_sizes().reclassify, 20_520);
    assert_eq!(model.workspace_sizes().reclassify_per_start, 1080);
    let mut one: Box<Workspace<20_520>> = Box::new(Workspace::new());
    let mut three: Box<Workspace<{ 20_520 + 2 * 1080 + 7 }>> = Box::new(Workspace::new());
    let mut all: Box<Workspace<30_240>> = Box::new(Workspace::new());
    let early = ReclassifySettings {
        early_stop_tolerance: 0.02,
        confine_to_class: true,
        confine_fraction: 0.5,
        ..settings(12)
    };
    for (image_seed, s) in [(31, settings(6)), (32, early)] {
        let image = random_image(model.image_len(), image_seed);
        let a = model.reclassify(&image, &mut one, &s).unwrap();
        let b = model.reclassify(&image, &mut three, &s).unwrap();
        let c = model.reclassify(&image, &mut all, &s).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        if s.early_stop_tolerance > 0.0 {
            let steps = &a.start_steps;
            assert!(steps.iter().any(|&t| t != steps[0]), "{steps:?}");
        }
    }
}

/// A caller's `&mut [f32]` works as a `Workspace<N>` does: its length alone picks the lockstep
/// width (one start, three, all ten, more than needed), every width gives the bits of a
/// `Workspace<N>`, and `reconstruction_gradient` too.
#[test]
fn a_slice_workspace_gives_the_same_bits_as_a_fixed_one() {
    let bytes = random_model(EDGE, 22);
    let model = Model::parse(&bytes).unwrap();
    let sizes = model.workspace_sizes();
    let image = random_image(model.image_len(), 33);
    let s = ReclassifySettings {
        early_stop_tolerance: 0.02,
        ..settings(8)
    };
    let mut fixed = ws();
    let want = model.reclassify(&image, &mut fixed, &s).unwrap();
    let z = vec![0.25; EDGE.latent];
    let mut want_grad = vec![0.0; EDGE.latent];
    let want_loss = model
        .reconstruction_gradient(&image, &z, &mut fixed, &mut want_grad)
        .unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for len in [
        sizes.reclassify,
        sizes.reclassify + 2 * sizes.reclassify_per_start + 7,
        sizes.reclassify_lockstep,
        sizes.reclassify_lockstep + 5000,
    ] {
        // Dirty contents and an odd offset into the caller's buffer change nothing.
        let mut buffer = random_image(len + 1, len as u64);
        let ws = &mut buffer[1..];
        assert_eq!(ws.len(), len);
        let r = model.reclassify(&image, ws, &s).unwrap();
        assert_eq!(r, want, "{len}");
        assert_eq!(bits(&r.start_losses), bits(&want.start_losses));
        let mut grad = vec![0.0; EDGE.latent];
        let loss = model
            .reconstruction_gradient(&image, &z, ws, &mut grad)
            .unwrap();
        assert_eq!(loss.to_bits(), want_loss.to_bits());
        assert_eq!(bits(&grad), bits(&want_grad));
    }
}

/// A too-short slice is `WorkspaceTooSmall` naming the fewest `f32`s reclassification needs
/// and the slice's length — also one long enough for classify.
#[test]
fn a_short_slice_workspace_is_a_typed_error_with_its_length() {
    let bytes = random_model(EDGE, 23);
    let model = Model::parse(&bytes).unwrap();
    let sizes = model.workspace_sizes();
    let image = random_image(model.image_len(), 34);
    let z = vec![0.25; EDGE.latent];
    let mut grad = vec![0.0; EDGE.latent];
    let needed = sizes.reclassify;
    for available in [0, 7, sizes.classify, needed - 1] {
        let mut ws = vec![0.0f32; available];
        let err = Error::WorkspaceTooSmall { needed, available };
        assert_eq!(model.reclassify(&image, &mut ws, &settings(2)), Err(err));
        assert_eq!(
            model.reconstruction_gradient(&image, &z, &mut ws, &mut grad),
            Err(err)
        );
    }
    assert!(model
        .reclassify(&image, &mut vec![0.0; needed], &settings(2))
        .is_ok());
}
