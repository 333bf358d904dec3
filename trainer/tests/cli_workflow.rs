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
    check_metrics_independently(&json, Path::new(model));
    for name in ["eval.md", "risk-coverage.svg", "confusion.svg"] {
        assert!(Path::new(run).join(name).is_file(), "{name}");
    }

    ok(&["sample", model, "--per-class", "3"]);
    for name in ["class-means.png", "samples.png", "reconstructions.png"] {
        let bytes = std::fs::read(Path::new(run).join(name)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{name}");
    }
}

/// Table 1's row in `eval.json` against two independent computations: the thresholded
/// confusion matrix (counted by other code from the same scores) must give the same
/// accuracy, error and rejection exactly, and the heap-free runtime classifying every test
/// digit itself must agree within [`RUNTIME_AGREEMENT`] images (dfdx and the runtime round
/// differently, which can move an image sitting on a threshold).
fn check_metrics_independently(json: &serde_json::Value, model: &Path) {
    let m = &json["metrics"];
    let rate = |k: &str| m[k].as_f64().unwrap();
    let rows: Vec<Vec<u64>> =
        serde_json::from_value(json["confusion_thresholded"].clone()).unwrap();
    let classes = rows.len();
    let n: u64 = rows.iter().flatten().sum();
    assert_eq!(n, 1000);
    let correct: u64 = (0..classes).map(|c| rows[c][c]).sum();
    let rejected: u64 = rows.iter().map(|r| r[classes]).sum();
    let wrong = n - correct - rejected;
    let frac = |k: u64| k as f64 / n as f64;
    assert_eq!(rate("accuracy"), frac(correct), "{m}");
    assert_eq!(rate("error"), frac(wrong), "{m}");
    assert_eq!(rate("rejection"), frac(rejected), "{m}");

    let bytes = std::fs::read(model).unwrap();
    let runtime = gmvae_runtime::Model::parse(&bytes).unwrap();
    let mut ws = vec![0.0f32; 1 << 17];
    let test = gmvae_trainer::data::load(&gmvae_trainer::data::DatasetSpec::Bundled)
        .unwrap()
        .test;
    let (mut ok, mut bad, mut refused) = (0u64, 0u64, 0u64);
    for i in 0..test.len() {
        let v = runtime
            .classify(&test.image(i).to_vec(), &mut ws[..])
            .unwrap();
        match (
            v.decision.is_accepted(),
            v.label == usize::from(test.labels[i]),
        ) {
            (false, _) => refused += 1,
            (true, true) => ok += 1,
            (true, false) => bad += 1,
        }
    }
    for (name, ours, theirs) in [
        ("correct", ok, correct),
        ("wrong", bad, wrong),
        ("rejected", refused, rejected),
    ] {
        assert!(
            ours.abs_diff(theirs) <= RUNTIME_AGREEMENT,
            "{name}: runtime {ours}, eval {theirs}"
        );
    }
}

/// Test images on which the runtime's verdict may differ from dfdx's evaluation.
const RUNTIME_AGREEMENT: u64 = 3;

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
