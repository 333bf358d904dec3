//! The format and runtime tools of the `gmvae` binary on a tiny model trained on the bundled
//! digits: `export` from the checkpoint, `inspect`, `classify` on PNG files and IDX entries
//! (agreeing with `gmvae eval`'s dfdx predictions), `bench classify`, and one clear error line
//! for every bad input.

mod cli_support;

use cli_support::{ok, one_error_line, tiny_train_args, write_mnist_dir};

use gmvae_format::{ModelView, TensorId};
use gmvae_trainer::data::idx::{read_images, read_labels, IdxImages};
use std::path::{Path, PathBuf};

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn bundled_test_images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/data/mnist-10k/t10k-images-idx3-ubyte.gz")
}

/// Writes a greyscale PNG of `width × height` bytes.
fn write_png(path: &Path, width: u32, height: u32, pixels: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
    writer.finish().unwrap();
}

/// The JSON verdicts of `gmvae classify --json`, one per input.
fn classify_json(model: &str, inputs: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["classify", model, "--json"];
    args.extend_from_slice(inputs);
    ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn export_inspect_classify_and_bench_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&tiny_train_args(s(&run), &["--train-limit", "300"]));
    let trained_path = run.join("model.gmvae");
    let trained = std::fs::read(&trained_path).unwrap();
    let trained_view = ModelView::parse(&trained).unwrap();

    // export: the same calibration subset reproduces the trained file byte for byte; the
    // whole training split gives the same weights with thresholds from 9,000 samples.
    let same = dir.path().join("same.gmvae");
    let out = ok(&["export", s(&run), "--out", s(&same), "--train-limit", "300"]);
    assert!(out.contains("model written to"), "{out}");
    assert_eq!(
        std::fs::read(&same).unwrap(),
        trained,
        "export differs from train"
    );
    let full = dir.path().join("full.gmvae");
    ok(&["export", s(&run.join("checkpoint.ckpt")), "--out", s(&full)]);
    let full_bytes = std::fs::read(&full).unwrap();
    let full_view = ModelView::parse(&full_bytes).unwrap();
    for id in TensorId::ALL {
        let a: Vec<f32> = trained_view.tensor(id).iter().collect();
        let b: Vec<f32> = full_view.tensor(id).iter().collect();
        assert_eq!(a, b, "{id}");
    }
    assert_eq!(full_view.calibration().samples, 9000);
    assert_eq!(trained_view.calibration().samples, 300);

    // export from the model file alone (no checkpoint): the run's calibration images and
    // settings give back its file byte for byte; a model file needs --out, and a checkpoint
    // refuses the model-file flags.
    let from_file = dir.path().join("from-file.gmvae");
    let out = ok(&[
        "export",
        s(&trained_path),
        "--out",
        s(&from_file),
        "--train-limit",
        "300",
    ]);
    assert!(out.contains("with new thresholds"), "{out}");
    assert_eq!(std::fs::read(&from_file).unwrap(), trained);
    // A run with a holdout and another seed: the same flags give back its file, and the
    // default seed picks other images, so other thresholds.
    let held = dir.path().join("held");
    ok(&tiny_train_args(
        s(&held),
        &[
            "--train-limit",
            "500",
            "--calibration-holdout",
            "250",
            "--seed",
            "7",
        ],
    ));
    let held_model = held.join("model.gmvae");
    let again = dir.path().join("held-again.gmvae");
    let export_held = |seed: Option<&str>| {
        let mut args = vec![
            "export",
            s(&held_model),
            "--out",
            s(&again),
            "--train-limit",
            "500",
            "--calibration-holdout",
            "250",
        ];
        args.extend(seed.map(|v| ["--seed", v]).into_iter().flatten());
        ok(&args);
        std::fs::read(&again).unwrap()
    };
    assert_eq!(export_held(Some("7")), std::fs::read(&held_model).unwrap());
    assert_ne!(export_held(None), std::fs::read(&held_model).unwrap());
    let err = one_error_line(&["export", s(&trained_path)]);
    assert!(err.contains("pass --out"), "{err}");
    let err = one_error_line(&[
        "export",
        s(&trained_path),
        "--out",
        &format!("{}/../run/model.gmvae", run.display()),
    ]);
    assert!(err.contains("the model file itself"), "{err}");
    let damaged = dir.path().join("damaged.gmvae");
    std::fs::write(&damaged, b"not a model").unwrap();
    let err = one_error_line(&["export", s(&damaged), "--out", s(&again)]);
    assert!(err.contains("not a valid gmvae model"), "{err}");
    let err = one_error_line(&["export", s(&run), "--calibration-holdout", "10"]);
    assert!(err.contains("are for a model file"), "{err}");

    // inspect: text and JSON report the runtime's workspace and the thresholds.
    let model = s(&trained_path);
    let runtime = gmvae_runtime::Model::parse(&trained).unwrap();
    let text = ok(&["inspect", model]);
    let workspace = format!(
        "{} bytes for classify",
        runtime.workspace_sizes().classify_bytes()
    );
    assert!(text.contains(&workspace), "{text}");
    let c = trained_view.calibration();
    assert!(text.contains(&format!("tau_enc = {}", c.tau_enc)), "{text}");
    assert!(text.contains(&format!("tau_dec = {}", c.tau_dec)), "{text}");
    assert_eq!(text.matches(" → ").count(), 14, "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&["inspect", model, "--json"])).unwrap();
    assert_eq!(
        json["workspace_bytes"],
        runtime.workspace_sizes().classify_bytes()
    );
    assert_eq!(json["tau_enc"].as_f64().map(|v| v as f32), Some(c.tau_enc));
    assert_eq!(
        json["parameters"],
        trained_view.architecture().param_count()
    );
    assert_eq!(json["samples"], 300);

    // classify agrees with eval's dfdx predictions on three test digits of distinct classes.
    let images_path = bundled_test_images();
    let images = read_images(&images_path).unwrap();
    let labels = read_labels(&images_path.with_file_name("t10k-labels-idx1-ubyte.gz")).unwrap();
    let mut picked: Vec<usize> = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        if picked.len() < 3 && picked.iter().all(|&p| labels[p] != l) {
            picked.push(i);
        }
    }
    let size = images.rows() * images.cols();
    let digit = |i: usize| images.pixels()[i * size..(i + 1) * size].to_vec();
    let eval_dir = dir.path().join("eval-data");
    let subset =
        IdxImages::new(3, 28, 28, picked.iter().flat_map(|&i| digit(i)).collect()).unwrap();
    let subset_labels: Vec<u8> = picked.iter().map(|&i| labels[i]).collect();
    write_mnist_dir(&eval_dir, &subset, &subset_labels);
    let eval_out = dir.path().join("eval-out");
    ok(&[
        "eval",
        model,
        "--data-dir",
        s(&eval_dir),
        "--out",
        s(&eval_out),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(eval_out.join("eval.json")).unwrap())
            .unwrap();

    let idx_inputs: Vec<String> = picked
        .iter()
        .map(|i| format!("{}:{i}", images_path.display()))
        .collect();
    let png_inputs: Vec<PathBuf> = picked
        .iter()
        .map(|&i| {
            let path = dir.path().join(format!("digit-{i}.png"));
            write_png(&path, 28, 28, &digit(i));
            path
        })
        .collect();
    let idx_refs: Vec<&str> = idx_inputs.iter().map(String::as_str).collect();
    let png_refs: Vec<&str> = png_inputs.iter().map(|p| s(p)).collect();
    let from_idx = classify_json(model, &idx_refs);
    let from_png = classify_json(model, &png_refs);
    assert_eq!(from_idx.len(), 3);
    for ((idx, png), &label) in from_idx.iter().zip(&from_png).zip(&subset_labels) {
        for key in [
            "label",
            "latent",
            "mahalanobis_sq",
            "reconstruction_error",
            "accepted",
        ] {
            assert_eq!(idx[key], png[key], "{key}: {idx} vs {png}");
        }
        let row = &report["confusion"][usize::from(label)];
        let eval_prediction = row.as_array().unwrap().iter().position(|n| n == 1).unwrap();
        assert_eq!(
            idx["label"], eval_prediction,
            "digit of class {label}: {idx}"
        );
        // Accepted by eval unless the thresholded confusion row's last column counts it.
        let thresholded = report["confusion_thresholded"][usize::from(label)]
            .as_array()
            .unwrap();
        let eval_accepted = thresholded.last() == Some(&serde_json::json!(0));
        let margin = |key: &str, tau: &str| {
            let (v, t) = (idx[key].as_f64().unwrap(), idx[tau].as_f64().unwrap());
            ((v - t) / t).abs()
        };
        if margin("mahalanobis_sq", "tau_enc") > 1e-3
            && margin("reconstruction_error", "tau_dec") > 1e-3
        {
            assert_eq!(idx["accepted"], eval_accepted, "{idx}");
        }
        let rejected_by = idx["rejected_by"].as_array().unwrap();
        assert_eq!(
            idx["accepted"].as_bool().unwrap(),
            rejected_by.is_empty(),
            "{idx}"
        );
    }
    let text = ok(&["classify", model, png_refs[0]]);
    assert!(
        text.contains("latent [") && text.contains("Mahalanobis²"),
        "{text}"
    );
    assert!(
        text.contains("accepted") || text.contains("REJECTED ("),
        "{text}"
    );

    // bench classify, our side only.
    let bench: serde_json::Value = serde_json::from_str(&ok(&[
        "bench", "classify", model, "--runs", "20", "--warmup", "2", "--json",
    ]))
    .unwrap();
    assert!(
        bench["ours"]["median_ms"].as_f64().unwrap() > 0.0,
        "{bench}"
    );
    assert_eq!(
        bench["workspace_bytes"],
        runtime.workspace_sizes().classify_bytes()
    );

    // Bad inputs: one error line each.
    let err = one_error_line(&["classify", model, s(&dir.path().join("missing.png"))]);
    assert!(err.contains("cannot read input"), "{err}");
    let small = dir.path().join("small.png");
    write_png(&small, 20, 20, &[0; 400]);
    let err = one_error_line(&["classify", model, s(&small)]);
    assert!(err.contains("20×20") && err.contains("28×28"), "{err}");
    let bad_index = format!("{}:99999", images_path.display());
    let err = one_error_line(&["classify", model, &bad_index]);
    assert!(err.contains("no such image"), "{err}");
    let not_png = dir.path().join("text.png");
    std::fs::write(&not_png, b"not a png").unwrap();
    let err = one_error_line(&["classify", model, s(&not_png)]);
    assert!(err.contains("not a readable PNG"), "{err}");

    let mut corrupt = trained.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x40;
    let corrupt_path = dir.path().join("corrupt.gmvae");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    for command in ["inspect", "classify"] {
        let mut args = vec![command, s(&corrupt_path)];
        if command == "classify" {
            args.push(png_refs[0]);
        }
        let err = one_error_line(&args);
        assert!(err.contains("[FormatError::ChecksumMismatch]"), "{err}");
    }
    let err = one_error_line(&["inspect", s(&dir.path().join("missing.gmvae"))]);
    assert!(err.contains("cannot read model"), "{err}");
    let err = one_error_line(&["export", s(&dir.path().join("no-run"))]);
    assert!(err.contains("checkpoint"), "{err}");
}
