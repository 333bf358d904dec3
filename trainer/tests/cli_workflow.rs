//! The `gmvae` binary end to end on the bundled digits with a tiny model: train, resume, eval,
//! sample — and one clear error line (never a panic) when something is wrong.

mod cli_support;

use cli_support::{ok, one_error_line};

use std::path::Path;

#[test]
fn train_resume_eval_and_sample_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run = run.to_str().unwrap();
    let train = [
        "train",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--train-limit",
        "400",
        "--out",
        run,
    ];
    ok(&train);
    let model = Path::new(run).join("model.gmvae");
    assert!(model.is_file());

    // A second run into the same directory must not silently overwrite the checkpoint.
    let err = one_error_line(&train);
    assert!(err.contains("--resume"), "{err}");
    ok(&[
        "train",
        "--preset",
        "tiny",
        "--epochs",
        "2",
        "--train-limit",
        "400",
        "--out",
        run,
        "--resume",
    ]);
    let log = std::fs::read_to_string(Path::new(run).join("train-log.json")).unwrap();
    assert_eq!(log.matches("\"epoch\"").count(), 2, "{log}");

    let model = model.to_str().unwrap();
    let report = ok(&["eval", model]);
    assert!(report.contains("| mnist-10k | 1000 |"), "{report}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(run).join("eval.json")).unwrap())
            .unwrap();
    let m = &json["metrics"];
    let total = m["accuracy"].as_f64().unwrap()
        + m["error"].as_f64().unwrap()
        + m["rejection"].as_f64().unwrap();
    assert!((total - 1.0).abs() < 1e-9, "{m}");
    for name in ["eval.md", "risk-coverage.svg", "confusion.svg"] {
        assert!(Path::new(run).join(name).is_file(), "{name}");
    }

    ok(&["sample", model, "--per-class", "3"]);
    for name in ["class-means.png", "samples.png", "reconstructions.png"] {
        let bytes = std::fs::read(Path::new(run).join(name)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{name}");
    }
}

#[test]
fn bad_inputs_give_one_clear_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("model.gmvae");
    std::fs::write(&not_a_model, b"definitely not a model").unwrap();
    let err = one_error_line(&["eval", not_a_model.to_str().unwrap()]);
    assert!(err.contains("not a valid gmvae model"), "{err}");
    let err = one_error_line(&["eval", dir.path().join("missing.gmvae").to_str().unwrap()]);
    assert!(err.contains("cannot read model"), "{err}");
    let err = one_error_line(&["train", "--resume", "--out", dir.path().to_str().unwrap()]);
    assert!(err.contains("checkpoint"), "{err}");
    let err = one_error_line(&[
        "train",
        "--data-dir",
        dir.path().join("nowhere").to_str().unwrap(),
    ]);
    assert!(err.contains("does not exist"), "{err}");
}
