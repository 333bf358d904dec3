//! `gmvae attack` and `gmvae report` end to end on a tiny model: every promised file appears,
//! the JSON parses, and bad arguments fail with a clear message.

mod cli_support;

use cli_support::{gmvae, ok};

mod attack_support;

use attack_support::tiny_model;
use std::path::Path;

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `gmvae report MODEL --out OUT` with every attack cut to a few inputs and steps (a tiny
/// model's report in seconds), then `extra`.
fn small_report_args<'a>(model: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "report",
        model,
        "--out",
        out,
        "--samples",
        "10",
        "--fgsm-eps",
        "0,0.1",
        "--whitebox-images",
        "1",
        "--fooling-images",
        "1",
        "--whitebox-steps",
        "2",
        "--adaptive-samples",
        "4",
        "--adaptive-steps",
        "2",
        "--adaptive-restarts",
        "1",
        "--adaptive-targets",
        "1",
        "--adaptive-pool",
        "300",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn attack_and_report_write_their_files() {
    let (model, _) = tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gmvae");
    model.save(&path).unwrap();
    let m = path.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();

    let run = gmvae(&[
        "attack",
        "fgsm",
        m,
        "--samples",
        "20",
        "--eps",
        "0:0.2:0.1",
        "--out",
        o,
        "--device",
        "cpu",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for name in [
        "fgsm.json",
        "fgsm.md",
        "fgsm.svg",
        "fgsm.png",
        "fgsm-examples.png",
    ] {
        assert!(out.join(name).is_file(), "missing {name}");
    }
    let fgsm = json(&out.join("fgsm.json"));
    let eps: Vec<f64> = fgsm["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["eps"].as_f64().unwrap())
        .collect();
    assert_eq!(eps, vec![0.0, 0.1, 0.2]);
    assert_eq!(fgsm["outcomes"][2].as_array().unwrap().len(), 20);
    assert!(String::from_utf8_lossy(&run.stdout).contains("| 0.2 |"));

    // A second sweep drawn beside the first (Figure 3 with two models).
    let versus = dir.path().join("versus");
    let first = out.join("fgsm.json");
    let run = gmvae(&[
        "attack",
        "fgsm",
        m,
        "--samples",
        "20",
        "--eps",
        "0:0.3:0.1",
        "--out",
        versus.to_str().unwrap(),
        "--versus",
        first.to_str().unwrap(),
        "--label",
        "semi-supervised",
        "--versus-label",
        "supervised",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let svg = std::fs::read_to_string(versus.join("fgsm-versus.svg")).unwrap();
    for label in [
        "semi-supervised: error (accepted, wrong)",
        "semi-supervised: rejection",
        "supervised: error (accepted, wrong)",
        "supervised: rejection",
    ] {
        assert!(svg.contains(label), "{label} missing");
    }
    assert!(versus.join("fgsm-versus.png").is_file());

    let run = gmvae(&[
        "attack", "whitebox", m, "--images", "2", "--steps", "3", "--out", o,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(json(&out.join("whitebox.json"))["summary"]["pairs"], 18);
    assert!(out.join("whitebox-loss.png").is_file() && out.join("whitebox-examples.png").is_file());

    let report = dir.path().join("report");
    let run = gmvae(&small_report_args(
        m,
        report.to_str().unwrap(),
        &[
            "--adaptive-eps",
            "0.1,0.3",
            "--square-queries",
            "50",
            "--sanity-samples",
            "3",
            "--seed",
            "7",
        ],
    ));
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    assert!(md.contains("Worst case per input"), "{md}");
    // The report names the sample its figures come from.
    assert!(md.contains("drawn with seed 7."), "{md}");
    assert!(md.contains("attacker success rate (95 % interval)"), "{md}");
    assert_eq!(json(&report.join("report.json"))["seed"], 7);
    for kind in [
        "fgsm",
        "pgd-linf",
        "pgd-linf-madry",
        "pgd-l2",
        "mim",
        "whitebox",
        "fooling",
        "adaptive",
        "square",
    ] {
        assert!(
            report.join(format!("{kind}.json")).is_file(),
            "missing {kind}.json"
        );
    }
    let r = json(&report.join("report.json"));
    assert_eq!(r["worst_case"].as_array().unwrap().len(), 2);
    assert_eq!(r["worst_case"][0]["samples"], 4);
    // The worst case counts the gradient-free attack too, with the robust error beside it.
    let attacks = r["worst_case"][1]["attacks"].as_array().unwrap();
    assert!(
        attacks
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("square")),
        "{attacks:?}"
    );
    assert!(md.contains("RErr@"), "{md}");
    // The sanity checks ran on 3 inputs, at ε = 1 and with twice the effort at both budgets.
    assert_eq!(r["sanity"]["samples"], 3);
    assert_eq!(r["sanity"]["effort"].as_array().unwrap().len(), 2);
    assert!(md.contains("## Sanity checks of this evaluation"), "{md}");
    let unbounded = r["sanity"]["unbounded_success"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&unbounded), "{unbounded}");

    // The report pooled on its own gives back its worst case; the same report twice counts
    // each input once.
    let pooled = dir.path().join("pooled");
    let pool_reports = |paths: &str, goal: &str| {
        gmvae(&[
            "pool-reports",
            "--model",
            &format!("tiny={paths}"),
            "--goal",
            goal,
            "--out",
            pooled.to_str().unwrap(),
        ])
    };
    let run = pool_reports(report.to_str().unwrap(), "0.3:50");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let p = json(&pooled.join("worst-case-pooled.json"));
    for k in 0..2 {
        let (pooled_case, own) = (&p["models"][0]["cases"][k], &r["worst_case"][k]);
        for field in ["eps", "samples", "attacker_wins", "correct_inputs"] {
            assert_eq!(pooled_case[field], own[field], "{field}");
        }
    }
    for ext in ["md", "svg", "png"] {
        assert!(pooled.join(format!("worst-case-pooled.{ext}")).is_file());
    }
    let table = std::fs::read_to_string(pooled.join("worst-case-pooled.md")).unwrap();
    let wins = r["worst_case"][1]["attacker_wins"].as_u64().unwrap();
    assert!(
        table.contains(&format!("- tiny at ε = 0.3: {wins} of 4 ")),
        "{table}"
    );
    let twice = pool_reports(&format!("{0},{0}/report.json", report.display()), "0.3:50");
    assert!(twice.status.success());
    let p = json(&pooled.join("worst-case-pooled.json"));
    assert_eq!(p["models"][0]["cases"][1]["samples"], 4);
    assert_eq!(p["models"][0]["cases"][1]["repeated_inputs"], 4);
    // Its own inputs set aside as seen, nothing is left to pool.
    let all_seen = gmvae(&[
        "pool-reports",
        "--model",
        &format!("tiny={}", report.display()),
        "--exclude-seen",
        report.to_str().unwrap(),
        "--out",
        pooled.to_str().unwrap(),
    ]);
    assert!(!all_seen.status.success());
    assert!(
        String::from_utf8_lossy(&all_seen.stderr).contains("were set aside as seen"),
        "{}",
        String::from_utf8_lossy(&all_seen.stderr)
    );
    // A goal at a budget the reports did not measure fails, naming it.
    let unmeasured = pool_reports(report.to_str().unwrap(), "0.2:5");
    assert!(!unmeasured.status.success());
    assert!(
        String::from_utf8_lossy(&unmeasured.stderr).contains("did not measure"),
        "{}",
        String::from_utf8_lossy(&unmeasured.stderr)
    );

    // The attack through reclassification on the report's adaptive inputs, combined with the
    // report into the worst case of the decision with reclassification.
    let through = dir.path().join("through");
    let report_json = report.join("report.json");
    let through_args = [
        "attack",
        "reclassify",
        m,
        "--out",
        through.to_str().unwrap(),
        "--samples",
        "4",
        "--steps",
        "2",
        "--targets",
        "1",
        "--eps",
        "0.1,0.3",
        "--reclassify-steps",
        "3",
        "--report",
        report_json.to_str().unwrap(),
    ];
    // Another seed would attack other inputs than the report's: refused before any work.
    let other_seed = gmvae(&[&through_args[..], &["--seed", "8"]].concat());
    assert!(!other_seed.status.success());
    let stderr = String::from_utf8_lossy(&other_seed.stderr);
    assert!(stderr.contains("pass --seed 7"), "{stderr}");
    assert!(!through.exists(), "nothing is written before the check");
    let run = gmvae(&[&through_args[..], &["--seed", "7"]].concat());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(through.join("reclassify.json").is_file() && through.join("reclassify.png").is_file());
    let combined = json(&through.join("worst-case-with-reclassification.json"));
    let (with, without) = (
        combined["worst_case"].as_array().unwrap(),
        combined["report_worst_case"].as_array().unwrap(),
    );
    assert_eq!((with.len(), without.len()), (2, 2));
    for (w, r) in with.iter().zip(without) {
        assert_eq!(
            (w["samples"].clone(), r["samples"].clone()),
            (4.into(), 4.into())
        );
        // The report's wins stay wins under the decision with reclassification.
        assert!(
            w["attacker_wins"].as_u64() >= r["attacker_wins"].as_u64(),
            "{w} vs {r}"
        );
    }
    let md = std::fs::read_to_string(through.join("WORST-CASE-WITH-RECLASSIFICATION.md")).unwrap();
    assert!(md.contains("decision with reclassification"), "{md}");
}

#[test]
fn bad_arguments_fail_clearly() {
    let run = gmvae(&["attack", "fgsm", "/no/such/model.gmvae"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("/no/such/model.gmvae"), "{err}");

    // --versus must be an FGSM sweep, checked before the model is even read.
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("fgsm.json");
    std::fs::write(&not_json, "not json").unwrap();
    let run = gmvae(&[
        "attack",
        "fgsm",
        "/no/such/model.gmvae",
        "--versus",
        not_json.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("is not an attack result file"), "{err}");

    // The report to combine with is read before the model.
    let run = gmvae(&[
        "attack",
        "reclassify",
        "/no/such/model.gmvae",
        "--report",
        not_json.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("cannot combine with") && !err.contains("model.gmvae"),
        "{err}"
    );

    let run = gmvae(&["attack", "pgd", "m.gmvae", "--eps", "0.1,-2"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("non-negative"));

    let run = gmvae(&["attack", "whitebox", "/no/such/model.gmvae", "--a", "0.5"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("a > 1"));

    for args in [
        &["attack", "fgsm", "m.gmvae", "--samples", "0"][..],
        &["attack", "reclassify", "m.gmvae", "--steps", "0"],
        &["report", "m.gmvae", "--adaptive-samples", "0"],
        &["reclassify", "m.gmvae", "--samples", "0"],
    ] {
        let run = gmvae(args);
        assert!(!run.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("must be at least 1"),
            "{args:?}"
        );
    }
}

/// The test indices of every outcome in an attack's result file.
fn outcome_indices(run: &serde_json::Value) -> std::collections::BTreeSet<u64> {
    run["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|point| point.as_array().unwrap())
        .map(|o| o["index"].as_u64().unwrap())
        .collect()
}

#[test]
fn fresh_samples_set_aside_the_inputs_of_earlier_evaluations() {
    let (model, split) = tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gmvae");
    model.save(&path).unwrap();
    let m = path.to_str().unwrap();
    let fgsm = |out: &Path, samples: &str, extra: &[&str]| {
        let mut args = vec![
            "attack",
            "fgsm",
            m,
            "--samples",
            samples,
            "--eps",
            "0,0.1",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ok(&args);
        outcome_indices(&json(&out.join("fgsm.json")))
    };
    let first_dir = dir.path().join("first");
    let first = fgsm(&first_dir, "40", &[]);
    assert_eq!(first.len(), 40);
    // The same seed again draws the same sample; with the first run set aside, another one.
    assert_eq!(fgsm(&dir.path().join("again"), "40", &[]), first);
    let seen = first_dir.join("fgsm.json");
    let fresh = fgsm(
        &dir.path().join("fresh"),
        "40",
        &["--exclude-seen", seen.to_str().unwrap()],
    );
    assert_eq!(fresh.len(), 40);
    assert!(fresh.is_disjoint(&first), "{fresh:?} repeats {first:?}");

    // A report drawn outside both runs says so, and none of its attacks repeats an input.
    let report = dir.path().join("report");
    let fresh_seen = dir.path().join("fresh").join("fgsm.json");
    ok(&small_report_args(
        m,
        report.to_str().unwrap(),
        &[
            "--square-queries",
            "0",
            "--sanity-samples",
            "0",
            "--seed",
            "3",
            "--exclude-seen",
            seen.to_str().unwrap(),
            "--exclude-seen",
            fresh_seen.to_str().unwrap(),
        ],
    ));
    let r = json(&report.join("report.json"));
    assert_eq!(r["set_aside"]["inputs"], 80);
    let shown: std::collections::BTreeSet<u64> = r["bounded"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(outcome_indices)
        .collect();
    assert!(!shown.is_empty());
    assert!(shown.is_disjoint(&first) && shown.is_disjoint(&fresh));
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    assert!(
        md.contains("80 test inputs shown by earlier evaluations"),
        "{md}"
    );

    // An evaluation of another split, or one that showed every input, is refused before any
    // attack runs.
    let all = dir.path().join("all");
    fgsm(&all, "100000", &[]);
    let run = gmvae(&[
        "attack",
        "fgsm",
        m,
        "--exclude-seen",
        all.join("fgsm.json").to_str().unwrap(),
        "--out",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains(&format!("all {} test inputs were seen", split.test.len())),
        "{err}"
    );
}
