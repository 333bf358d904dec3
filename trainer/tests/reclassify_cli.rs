//! `gmvae reclassify`, `gmvae eval --reclassify` and `gmvae bench reclassify` end to end on
//! the golden (edge) model with a few samples and steps, both engines; bad settings are one
//! error line.

mod cli_support;

use cli_support::{gmvae, ok};

use std::path::PathBuf;

fn golden_model() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/golden/model.gmvae")
        .display()
        .to_string()
}

#[test]
fn reclassify_reports_recovered_samples_and_table2_with_both_engines_free_or_confined() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let model = golden_model();
    for engine in ["runtime", "dfdx"] {
        let args = [
            "reclassify",
            &model,
            "--samples",
            "12",
            "--steps",
            "3",
            "--engine",
            engine,
            "--device",
            "cpu",
            "--out",
            out,
        ];
        // The confined search writes its own report, beside the paper's.
        let confined = ok(&[&args[..], &["--confine", "--confine-fraction", "0.5"]].concat());
        assert!(
            confined.contains("confined to their class's acceptance ellipsoid (d² ≤ 0.5 · τ_enc)"),
            "{confined}"
        );
        assert!(dir.path().join("reclassify-confined.json").is_file());
        let first = engine == "runtime";
        assert!(!first || !dir.path().join("reclassify.json").exists());
        let text = ok(&args);
        assert!(
            text.contains(&format!("engine {engine}, 3 steps × 10 starts")),
            "{text}"
        );
        assert!(
            text.contains("| recovered (correct after reclassification) |"),
            "{text}"
        );
        assert!(
            text.contains("Reclassification alone (every sample"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("reclassify.json")).unwrap())
                .unwrap();
        assert_eq!(json["report"]["samples"], 12);
        assert_eq!(
            json["reclassified"]["outcomes"].as_array().unwrap().len(),
            12
        );
    }
    let text = ok(&[
        "reclassify",
        &model,
        "--samples",
        "10",
        "--steps",
        "2",
        "--fgsm",
        "0.1,0.3",
        "--only-rejected",
        "--device",
        "cpu",
        "--out",
        out,
    ]);
    assert!(
        text.contains("| 0.10 | 10 |") && text.contains("| 0.30 | 10 |"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("reclassify-fgsm.json")).unwrap())
            .unwrap();
    // Every row also reclassifies the clean originals of its rejected samples, and lists
    // every rejected digit, whose labels add up to the row's tallies.
    let mut rejected_somewhere = 0;
    for row in json["table"]["rows"].as_array().unwrap() {
        assert_eq!(row["unperturbed"]["reclassified"], row["rejected"], "{row}");
        let per_sample = row["per_sample"].as_array().unwrap();
        assert_eq!(per_sample.len() as u64, row["rejected"].as_u64().unwrap());
        rejected_somewhere += per_sample.len();
        let count =
            |field: &str| per_sample.iter().filter(|s| s[field] == s["label"]).count() as u64;
        assert_eq!(count("reclassified"), row["recovery"]["correct"], "{row}");
        assert_eq!(count("unperturbed"), row["unperturbed"]["correct"], "{row}");
        assert!(per_sample.iter().all(|s| s["index"].as_u64().unwrap() < 10));
        // The encoder's labels of the rejected samples are the rejected part of its
        // accuracy; every sample has one loss per class start.
        let encoder_right = row["correct_unthresholded"].as_u64().unwrap()
            - row["accepted_correct"].as_u64().unwrap();
        assert_eq!(count("encoder_label"), encoder_right, "{row}");
        for s in per_sample {
            let losses = s["start_losses"].as_array().unwrap();
            assert_eq!(losses.len(), 10, "{s}");
            assert!(losses.iter().all(|l| l.as_f64().unwrap() >= 0.0), "{s}");
        }
    }
    assert!(rejected_somewhere > 0, "no row rejected anything: {json}");
    assert!(text.contains("the same digits unperturbed"), "{text}");
    // The chart of the table: one line per figure, the paper's too (ε = 0.3 is one of its).
    let svg = std::fs::read_to_string(dir.path().join("reclassify-fgsm.svg")).unwrap();
    assert!(svg.contains("Reclassification of FGSM samples"), "{svg}");
    assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
    assert!(svg.contains("paper, Table 2"), "{svg}");
}

#[test]
fn eval_reclassifies_the_rejected_test_samples() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let text = ok(&[
        "eval",
        &golden_model(),
        "--reclassify",
        "--device",
        "cpu",
        "--out",
        out,
    ]);
    assert!(
        text.contains("Reclassification of the rejected test samples"),
        "{text}"
    );
    assert!(dir.path().join("reclassify.md").is_file());
}

#[test]
fn bench_reclassify_times_the_runtime() {
    let text = ok(&[
        "bench",
        "reclassify",
        &golden_model(),
        "--steps",
        "2",
        "--runs",
        "2",
    ]);
    assert!(text.contains("10 starts × 2 steps"), "{text}");
    assert!(text.contains("ours  median"), "{text}");
}

#[test]
fn bad_settings_are_one_error_line() {
    let out = gmvae(&["reclassify", &golden_model(), "--lr=-1", "--samples", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("learning_rate"),
        "{stderr}"
    );
}
