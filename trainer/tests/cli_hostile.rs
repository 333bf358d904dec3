//! Hostile and careless inputs, as a new user would type them: each ends with one `error:`
//! line and a non-zero exit before any work (for training: before the first epoch — an epoch
//! prints a line, so one error line alone proves none ran).

mod cli_support;

use cli_support::{ok, one_error_line, tiny_train_args, write_mnist_dir};
use gmvae_format::{ModelFile, ModelView, TensorId};
use gmvae_trainer::data::idx::IdxImages;
use std::path::Path;

fn golden_model() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/golden/model.gmvae"
    )
    .to_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gmvae train` with a tiny model on 400 images and `extra` flags into `out`.
fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec!["--train-limit", "400"];
    flags.extend_from_slice(extra);
    tiny_train_args(out, &flags)
}

#[test]
fn attack_budget_ranges_are_bounded_and_finite() {
    let model = golden_model();
    for eps in ["0:1:1e-45", "0:inf:1", "0:1e6:1e-6", "nan:1:0.1", "0:1:0"] {
        let err = one_error_line(&["attack", "fgsm", &model, "--eps", eps, "--samples", "2"]);
        assert!(err.contains(eps) || err.contains("budget"), "{eps}: {err}");
    }
}

#[test]
fn training_options_are_checked_before_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = s(&out);
    for (flags, says) in [
        (&["--augment-shift", "inf"][..], "augmentation shift"),
        (&["--augment-rotate", "NaN"], "augmentation rotation"),
        (&["--augment-scale=-2"], "augmentation scale"),
        (&["--augment-scale", "-2"], "'-2'"),
        (&["--alpha=-1"], "alpha"),
        (&["--alpha", "0"], "alpha"),
        (&["--shards", "0"], "shard"),
        (&["--shards", "100000"], "shard"),
        (&["--batch-size", "0"], "batch size"),
        (&["--batch-size", "18446744073709551615"], "batch size"),
        (&["--lr", "1e10"], "learning rate"),
        (&["--s2", "1e-45"], "s2"),
        (&["--s2", "1e39"], "s2"),
        (&["--confidence", "0"], "confidence"),
        (&["--confidence", "1"], "confidence"),
        (&["--confidence", "1.5"], "confidence"),
        (&["--confidence", "NaN"], "confidence"),
        (&["--confidence", "0.99999999"], "confidence"),
        (&["--tau-dec-std=-1"], "τ_dec"),
        (&["--tau-dec-std", "NaN"], "τ_dec"),
        (&["--tau-dec-std", "inf"], "τ_dec"),
        (&["--latent", "129"], "latent"),
        (&["--latent", "100000"], "latent"),
        (&["--epochs", "0"], "epochs"),
        (&["--labels-per-class", "0"], "--labels-per-class"),
        (
            &["--labels-per-class", "10", "--labeled-per-batch", "64"],
            "labelled images per batch",
        ),
        (
            &["--labels-per-class", "10", "--prior-weight", "NaN"],
            "prior weight",
        ),
        (&["--prior-weight", "5"], "--labels-per-class"),
        (&["--calibrate-on", "labeled"], "--labels-per-class"),
        (
            &["--labels-per-class", "100"],
            "fewer than the 100 labelled images",
        ),
        (
            &["--calibration-holdout", "400"],
            "cannot hold out 400 of 400",
        ),
        (
            &[
                "--labels-per-class",
                "5",
                "--calibration-holdout",
                "100",
                "--calibrate-on",
                "labeled",
            ],
            "--calibrate-on labeled",
        ),
        (&["--tau-enc", "student"], "possible values"),
        (&["--tpr", "1"], "true-positive rate"),
        (&["--tpr", "NaN"], "true-positive rate"),
        (&["--adversarial-target", "reject"], "--adversarial"),
        (
            &["--adversarial", "--adversarial-target", "away"],
            "possible values",
        ),
        (&["--adversarial-loss", "margin"], "--adversarial"),
        (
            &["--adversarial", "--adversarial-loss", "hinge"],
            "possible values",
        ),
    ] {
        let err = one_error_line(&train_args(out, flags));
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(
            !Path::new(out).join("checkpoint.ckpt").exists(),
            "{flags:?}"
        );
    }
    // Too few digits per class for a per-class covariance in 10 dimensions (5 each).
    let err = one_error_line(&[
        "train",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--train-limit",
        "50",
        "--out",
        out,
    ]);
    assert!(err.contains("training images"), "{err}");
}

/// Writes an MNIST-layout directory of `side × side` images with `labels`.
fn write_dataset(dir: &Path, side: usize, labels: &[u8]) {
    let n = labels.len();
    let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 37 % 256) as u8).collect();
    write_mnist_dir(dir, &IdxImages::new(n, side, side, pixels).unwrap(), labels);
}

#[test]
fn a_label_beyond_any_model_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let labels: Vec<u8> = (0..40).map(|i| if i == 7 { 255 } else { i % 2 }).collect();
    write_dataset(&data, 28, &labels);
    let out = dir.path().join("run");
    let err = one_error_line(&[
        "train",
        "--preset",
        "tiny",
        "--data-dir",
        s(&data),
        "--out",
        s(&out),
    ]);
    assert!(err.contains("256"), "{err}");
}

#[test]
fn resume_checks_the_checkpoint_against_the_data_and_keeps_its_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run = s(&run);
    ok(&train_args(run, &[]));
    // Other images of the same size: another dataset.
    let other = dir.path().join("other");
    write_dataset(
        &other,
        28,
        &(0..200).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
    );
    let err = one_error_line(&["train", "--resume", "--out", run, "--data-dir", s(&other)]);
    assert!(err.contains("trained on mnist-10k"), "{err}");
    // Images of another size.
    let small = dir.path().join("small");
    write_dataset(
        &small,
        8,
        &(0..200).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
    );
    let err = one_error_line(&["train", "--resume", "--out", run, "--data-dir", s(&small)]);
    assert!(err.contains("does not fit"), "{err}");
    // Model sizes other than the checkpoint's (its preset is tiny, its latent 10).
    for (flags, says) in [
        (&["--preset", "paper"][..], "the paper preset"),
        (&["--latent", "12"], "latent 12"),
        (
            &["--preset", "tiny", "--latent", "16"],
            "the tiny preset with latent 16",
        ),
    ] {
        let mut args = vec!["train", "--resume", "--out", run];
        args.extend_from_slice(flags);
        let err = one_error_line(&args);
        assert!(
            err.contains("the checkpoint holds the tiny model with latent 10")
                && err.contains(says),
            "{flags:?}: {err}"
        );
    }
    // Without --epochs, a resumed run keeps its length (it used to grow to 25 epochs); the
    // model is named from the checkpoint's sizes (it used to say "paper-sized" for any).
    let out = cli_support::gmvae(&[
        "train",
        "--resume",
        "--out",
        run,
        "--preset",
        "tiny",
        "--train-limit",
        "400",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("training the tiny model"), "{stderr}");
    let log = std::fs::read_to_string(Path::new(run).join("train-log.json")).unwrap();
    assert_eq!(log.matches("\"epoch\"").count(), 1, "{log}");
}

#[test]
fn benchmark_counts_are_bounded_before_any_run() {
    let model = golden_model();
    let huge = "18446744073709551615";
    for (args, says) in [
        (
            &["bench", "train", "--batch-size", huge][..],
            "--batch-size",
        ),
        (&["bench", "train", "--batch-size", "0"], "--batch-size"),
        (&["bench", "train", "--steps", huge], "--steps"),
        (&["bench", "train", "--warmup", huge], "--warmup"),
        (&["bench", "train", "--threads", "0"], "--threads"),
        (&["bench", "train", "--threads", "100000"], "--threads"),
        (&["bench", "classify", &model, "--runs", huge], "--runs"),
        (&["bench", "classify", &model, "--runs", "0"], "--runs"),
        (&["bench", "classify", &model, "--warmup", huge], "--warmup"),
        (&["bench", "reclassify", &model, "--runs", huge], "--runs"),
        (
            &["bench", "reclassify", &model, "--warmup", huge],
            "--warmup",
        ),
    ] {
        let err = one_error_line(args);
        assert!(
            err.contains(says) && err.contains("between"),
            "{args:?}: {err}"
        );
    }
}

/// A valid model of `height × width` images with `conv1` feature maps in the first layer and
/// 10 classes (zero weights, so the file stays small).
fn zero_model(height: usize, width: usize, conv1: usize) -> Vec<u8> {
    use gmvae_format::{Architecture, Calibration, CovarianceKind, TauDecStatistic};
    let arch = Architecture {
        in_channels: 1,
        height,
        width,
        conv1,
        conv2: 1,
        hidden: 1,
        latent: 10,
        classes: 10,
    };
    let calibration = Calibration {
        s2: 1.0 / 3000.0,
        covariance: CovarianceKind::Isotropic,
        tau_enc: 11.83,
        tau_dec: 4.5,
        confidence: 0.9973,
        tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
        samples: 1000,
    };
    ModelFile::new(arch, calibration)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn a_model_beyond_the_workspace_cap_is_refused_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.gmvae");
    // 64 feature maps of 1024 × 1024: far beyond what the tools allocate.
    std::fs::write(&path, zero_model(1024, 1024, 64)).unwrap();
    let model = s(&path);
    // The model is refused before any input is opened (this one does not exist).
    let input = s(&dir.path().join("absent.png")).to_owned();
    for args in [
        &["classify", model, &input][..],
        &["bench", "classify", model, "--runs", "1"],
        &["bench", "reclassify", model, "--runs", "1"],
        &[
            "reclassify",
            model,
            "--engine",
            "runtime",
            "--samples",
            "1",
            "--out",
            s(dir.path()),
        ],
    ] {
        let err = one_error_line(args);
        assert!(err.contains("workspace"), "{args:?}: {err}");
    }
}

#[test]
fn a_model_for_other_images_than_the_dataset_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.gmvae");
    // 8 × 8 images against the bundled 28 × 28 digits.
    std::fs::write(&path, zero_model(8, 8, 2)).unwrap();
    let (model, out) = (s(&path), s(dir.path()));
    for args in [
        &["eval", model, "--out", out][..],
        &["attack", "fgsm", model, "--samples", "2", "--out", out],
        &["report", model, "--samples", "2", "--out", out],
        &[
            "reclassify",
            model,
            "--engine",
            "runtime",
            "--samples",
            "2",
            "--out",
            out,
        ],
        &[
            "reclassify",
            model,
            "--engine",
            "dfdx",
            "--samples",
            "2",
            "--out",
            out,
        ],
    ] {
        let err = one_error_line(args);
        assert!(err.contains("does not fit"), "{args:?}: {err}");
    }
}

#[test]
fn figure_sizes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let model = golden_model();
    for scale in ["0", "100000", "4611686018427387904", "18446744073709551615"] {
        let err = one_error_line(&["sample", &model, "--out", s(dir.path()), "--scale", scale]);
        assert!(err.contains("scale"), "{scale}: {err}");
    }
    let err = one_error_line(&["sample", &model, "--out", s(dir.path()), "--per-class", "0"]);
    assert!(err.contains("images per class"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn report_checks_its_eq10_and_eq11_options_before_any_attack() {
    let dir = tempfile::tempdir().unwrap();
    let model = golden_model();
    for flags in [["--a", "0.5"], ["--whitebox-lr=-1", "--b=2"]] {
        let mut args = vec!["report", &model[..], "--out", s(dir.path())];
        args.extend_from_slice(&flags);
        // One line: the step log ("[ 0 s] FGSM sweep") would be a second.
        let err = one_error_line(&args);
        assert!(
            err.contains("exponents") || err.contains("learning rate"),
            "{err}"
        );
    }
}

#[test]
fn report_checks_its_adaptive_and_transfer_options_before_any_attack() {
    let dir = tempfile::tempdir().unwrap();
    let model = golden_model();
    let missing = dir.path().join("missing.gmvae");
    for (flags, says) in [
        (vec!["--adaptive-targets", "0"], "number of targets"),
        (
            vec!["--transfer-from", s(&missing)],
            "cannot load the transfer source",
        ),
    ] {
        let mut args = vec!["report", &model[..], "--out", s(dir.path())];
        args.extend_from_slice(&flags);
        let err = one_error_line(&args);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}

#[test]
fn model_files_are_read_no_further_than_their_declared_length() {
    let err = one_error_line(&["inspect", "/dev/zero"]);
    assert!(err.contains("bad magic"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(golden_model()).unwrap();
    let mut huge = bytes.clone();
    huge[16..24].copy_from_slice(&(5u64 << 30).to_le_bytes());
    let path = dir.path().join("huge.gmvae");
    std::fs::write(&path, &huge).unwrap();
    let err = one_error_line(&["inspect", s(&path)]);
    assert!(err.contains("more than a model file may have"), "{err}");
}

#[test]
fn a_model_whose_weights_overflow_is_an_error_everywhere() {
    let bytes = std::fs::read(golden_model()).unwrap();
    let view = ModelView::parse(&bytes).unwrap();
    let mut file = ModelFile::from_view(&view);
    // Every weight tensor (the even entries; the odd ones are biases), encoder and decoder.
    for id in TensorId::ALL.iter().step_by(2) {
        for w in file.tensor_mut(*id).iter_mut() {
            *w = 3e38;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overflow.gmvae");
    std::fs::write(&path, file.to_bytes().unwrap()).unwrap();
    let model = s(&path);
    let err = one_error_line(&["eval", model, "--out", s(dir.path())]);
    assert!(err.contains("non-finite"), "{err}");
    for engine in ["runtime", "dfdx"] {
        let err = one_error_line(&[
            "reclassify",
            model,
            "--engine",
            engine,
            "--samples",
            "2",
            "--steps",
            "2",
            "--out",
            s(dir.path()),
        ]);
        assert!(
            err.contains("non-finite") || err.contains("NonFinite"),
            "{engine}: {err}"
        );
    }
}

#[test]
fn a_gzip_bomb_is_refused_without_inflating_it() {
    use std::io::Write;
    // Images: a header for 1,000,000 images of 32 × 32 (1 GiB) over 64 MiB of zeros, and the
    // gzip stream cut short; labels: 10. The headers alone show that the counts disagree.
    // Were the image body inflated, the cut stream would be the error instead.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bomb");
    std::fs::create_dir_all(&data).unwrap();
    let gz = |header: &[u8], zeros: usize| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(header).unwrap();
        enc.write_all(&vec![0u8; zeros]).unwrap();
        enc.finish().unwrap()
    };
    let mut header = vec![0, 0, 8, 3];
    for d in [1_000_000u32, 32, 32] {
        header.extend_from_slice(&d.to_be_bytes());
    }
    let images = gz(&header, 64 << 20);
    let labels = gz(&[0, 0, 8, 1, 0, 0, 0, 10], 10);
    for prefix in ["train", "t10k"] {
        let cut = &images[..images.len() / 2];
        std::fs::write(data.join(format!("{prefix}-images-idx3-ubyte.gz")), cut).unwrap();
        std::fs::write(data.join(format!("{prefix}-labels-idx1-ubyte.gz")), &labels).unwrap();
    }
    let err = one_error_line(&["data", "info", "--data-dir", s(&data)]);
    assert!(err.contains("1000000") && err.contains(" 10 "), "{err}");
}
