use super::*;
use crate::attack::report::linf_worst_cases;
use serde_json::json;

/// One test input of a made-up report: its index, true label, clean prediction, and the
/// smallest budget at which the attack wins on it (`None`: never).
type Input = (usize, usize, usize, Option<f64>);

fn metrics() -> serde_json::Value {
    json!({ "samples": 1, "clean_accuracy": 1.0, "accuracy": 1.0, "error": 0.0,
            "rejection": 0.0, "rejected_by_latent": 0.0, "rejected_by_reconstruction": 0.0,
            "selective_risk": 0.0 })
}

/// A report whose one L∞ attack has a clean point (ε = 0, when `with_clean`) and one point
/// per budget, with the report's own worst case computed from them.
fn report(
    seed: u64,
    tau_enc: f32,
    inputs: &[Input],
    budgets: &[f64],
    with_clean: bool,
) -> SecurityReport {
    let outcome = |&(index, label, clean, wins_at): &Input, eps: f64| {
        let prediction = if eps == 0.0 {
            clean
        } else if wins_at.is_some_and(|w| w <= eps) {
            (label + 1) % 10
        } else {
            label
        };
        json!({ "index": index, "label": label, "prediction": prediction, "mahalanobis_sq": 1.0,
                "reconstruction_error": 1.0, "accepted": true, "linf": eps, "l2": eps })
    };
    let eps: Vec<f64> = with_clean
        .then_some(0.0)
        .into_iter()
        .chain(budgets.iter().copied())
        .collect();
    let points: Vec<serde_json::Value> = eps
        .iter()
        .map(|&e| {
            json!({ "attack": "adaptive", "norm": "Linf", "eps": e, "metrics": metrics(),
            "auc": { "latent": null, "reconstruction": null, "combined": null, "positives": 0 },
            "mean_linf": e, "max_linf": e, "mean_l2": e, "max_l2": e })
        })
        .collect();
    let outcomes: Vec<Vec<serde_json::Value>> = eps
        .iter()
        .map(|&e| inputs.iter().map(|i| outcome(i, e)).collect())
        .collect();
    let run = json!({ "kind": "adaptive", "title": "t", "settings": {}, "samples": inputs.len(),
        "clean": metrics(), "points": points, "outcomes": outcomes, "seconds": 1.0 });
    let mut report: SecurityReport = serde_json::from_value(json!({
        "model": "m.gmvae", "dataset": "mnist", "tau_enc": tau_enc, "tau_dec": 40.0,
        "clean_test": metrics(), "bounded": [run], "targeted": [], "worst_case": [],
        "sanity": null, "seed": seed, "command": "gmvae report", "seconds": 1.0 }))
    .unwrap();
    let clean_correct = inputs
        .iter()
        .filter(|&&(_, label, clean, _)| label == clean)
        .map(|&(index, ..)| index)
        .collect();
    report.worst_case = linf_worst_cases(&report.bounded, budgets, &clean_correct);
    report
}

fn at(path: &str, r: SecurityReport) -> (PathBuf, SecurityReport) {
    (PathBuf::from(path), r)
}

#[test]
fn one_report_pooled_is_its_own_worst_case() {
    let inputs: Vec<Input> = (0..20)
        .map(|i| {
            (
                i * 7,
                i % 10,
                if i == 3 { 5 } else { i % 10 },
                match i % 4 {
                    0 => Some(0.1),
                    1 => Some(0.3),
                    _ => None,
                },
            )
        })
        .collect();
    let r = report(2020, 50.0, &inputs, &[0.1, 0.3], true);
    let expected = r.worst_case.clone();
    let pooled = pool("m", &[at("a/report.json", r)], &[], &BTreeSet::new()).unwrap();
    assert_eq!(pooled.cases.len(), 2);
    for (p, w) in pooled.cases.iter().zip(&expected) {
        assert_eq!(
            (
                p.eps,
                p.samples,
                p.attacker_wins,
                p.correct_inputs,
                p.repeated_inputs
            ),
            (w.eps, w.samples, w.attacker_wins, Some(w.correct_inputs), 0)
        );
        assert_eq!(p.robust_error(), w.robust_error);
        assert_eq!(p.interval, w.success_interval().unwrap());
    }
    // The attack wins on 5 of 20 inputs at 0.1 and on 10 at 0.3; input 3, accepted and wrong
    // even clean (the ε = 0 point), is broken at every budget and is not among the 19 right.
    assert_eq!(pooled.cases[0].attacker_wins, 6);
    assert_eq!(pooled.cases[1].attacker_wins, 11);
    assert_eq!(pooled.cases[1].correct_inputs, Some(19));
    assert_eq!(pooled.reports[0].seed, Some(2020));
}

#[test]
fn an_input_in_two_samples_counts_once_and_is_broken_if_either_broke_it() {
    // Input 5 is in both samples; only the second report's attack won on it.
    let a = report(
        1,
        50.0,
        &[(1, 1, 1, Some(0.3)), (5, 5, 5, None), (9, 9, 9, None)],
        &[0.3],
        true,
    );
    let b = report(
        2,
        50.0,
        &[(5, 5, 5, Some(0.3)), (7, 7, 7, None)],
        &[0.3],
        true,
    );
    let c = &pool("m", &[at("a", a), at("b", b)], &[], &BTreeSet::new())
        .unwrap()
        .cases[0];
    assert_eq!(
        (
            c.samples,
            c.attacker_wins,
            c.repeated_inputs,
            c.correct_inputs,
            c.robust_error_count
        ),
        (4, 2, 1, Some(4), Some(2))
    );
    assert_eq!(c.interval, wilson_interval(2, 4).unwrap());
}

#[test]
fn an_input_in_three_samples_is_one_repeated_input() {
    let r = |seed| {
        report(
            seed,
            50.0,
            &[(5, 5, 5, None), (seed as usize * 10, 1, 1, None)],
            &[0.3],
            true,
        )
    };
    let c = &pool(
        "m",
        &[at("a", r(1)), at("b", r(2)), at("c", r(3))],
        &[],
        &BTreeSet::new(),
    )
    .unwrap()
    .cases[0];
    assert_eq!((c.samples, c.repeated_inputs), (4, 1));
    // Set aside as seen, it is no longer repeated in the pool.
    let c = &pool(
        "m",
        &[at("a", r(1)), at("b", r(2))],
        &[],
        &BTreeSet::from([5]),
    )
    .unwrap()
    .cases[0];
    assert_eq!((c.samples, c.repeated_inputs, c.excluded_inputs), (2, 0, 1));
}

#[test]
fn no_input_right_when_clean_gives_no_robust_error_as_in_the_report() {
    let r = report(1, 50.0, &[(1, 1, 2, None)], &[0.3], true);
    assert_eq!(r.worst_case[0].robust_error, None);
    let c = &pool("m", &[at("a", r)], &[], &BTreeSet::new())
        .unwrap()
        .cases[0];
    assert_eq!((c.correct_inputs, c.robust_error()), (Some(0), None));
}

#[test]
fn without_clean_verdicts_there_is_no_robust_error() {
    let a = report(1, 50.0, &[(1, 1, 1, Some(0.3))], &[0.3], false);
    let c = &pool("m", &[at("a", a)], &[], &BTreeSet::new())
        .unwrap()
        .cases[0];
    assert_eq!(
        (c.attacker_wins, c.correct_inputs, c.robust_error()),
        (1, None, None)
    );
}

#[test]
fn reports_that_cannot_be_pooled_are_refused_naming_the_file() {
    let one = |tau, budgets: &[f64]| report(1, tau, &[(1, 1, 1, None)], budgets, true);
    let err = |reports: &[(PathBuf, SecurityReport)]| {
        pool("m", reports, &[], &BTreeSet::new())
            .unwrap_err()
            .to_string()
    };
    let e = err(&[
        at("a", one(50.0, &[0.1])),
        at("b/report.json", one(50.0, &[0.2])),
    ]);
    assert!(e.contains("b/report.json has the budgets [0.2]"), "{e}");
    let e = err(&[at("a", one(50.0, &[0.1])), at("other", one(40.0, &[0.1]))]);
    assert!(e.contains("pool one model's reports"), "{e}");
    let e = err(&[at("twice", one(50.0, &[0.1, 0.1]))]);
    assert!(e.contains("twice has the same budget twice"), "{e}");
    assert!(err(&[]).contains("no report given"));
    // Budgets that went through f32 are the same budget.
    let f32_budget = f64::from(0.3f32);
    assert!(pool(
        "m",
        &[
            at("a", one(50.0, &[0.3])),
            at("b", one(50.0, &[f32_budget]))
        ],
        &[],
        &BTreeSet::new()
    )
    .is_ok());
}

#[test]
fn goals_are_judged_in_whole_inputs_and_an_unmeasured_one_is_refused() {
    let inputs: Vec<Input> = (0..1000)
        .map(|i| (i, i % 10, i % 10, (i < 73).then_some(0.3)))
        .collect();
    let m = pool(
        "robust",
        &[at("a", report(1, 50.0, &inputs, &[0.3], true))],
        &[],
        &BTreeSet::new(),
    )
    .unwrap();
    let goal = |p| Goal::new(0.3, p).unwrap();
    assert_eq!((goal(7.0).allowed(1000), goal(7.3).allowed(1000)), (70, 73));
    let missed = pooled_markdown(std::slice::from_ref(&m), &[goal(7.0)]);
    assert!(
        missed.contains("73 of 1000 (7.3 %)") && missed.contains("missed by 3 inputs"),
        "{missed}"
    );
    let by_one = pooled_markdown(std::slice::from_ref(&m), &[goal(7.2)]);
    assert!(by_one.contains("missed by 1 input\n"), "{by_one}");
    assert!(pooled_markdown(std::slice::from_ref(&m), &[goal(7.3)]).contains(": met"));
    for (eps, percent) in [(f64::NAN, 5.0), (-0.1, 5.0), (0.3, 101.0), (0.3, f64::NAN)] {
        assert_eq!(Goal::new(eps, percent), None);
    }
    let dir = tempfile::tempdir().unwrap();
    let unmeasured = write_pooled(
        dir.path(),
        std::slice::from_ref(&m),
        &[Goal::new(0.1, 2.0).unwrap()],
    );
    assert!(unmeasured
        .unwrap_err()
        .to_string()
        .contains("did not measure"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let written = write_pooled(dir.path(), &[m], &[goal(7.0)]).unwrap();
    assert_eq!(written.len(), 4);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
    assert_eq!(json["models"][0]["cases"][0]["attacker_wins"], 73);
    assert_eq!(json["goals"][0]["percent"], 7.0);
}

#[test]
fn the_chart_draws_intervals_apart_and_goals() {
    let inputs: Vec<Input> = (0..100)
        .map(|i| (i, 0, 0, (i < 9).then_some(0.3)))
        .collect();
    let m = pool(
        "a",
        &[at("a", report(1, 50.0, &inputs, &[0.1, 0.3], true))],
        &[],
        &BTreeSet::new(),
    )
    .unwrap();
    let mut other = m.clone();
    other.label = "b | c".into();
    let chart = pooled_chart(&[m.clone(), other.clone()], &[Goal::new(0.3, 7.0).unwrap()]);
    let (left, right) = (chart.series[0].error_bars[1], chart.series[1].error_bars[1]);
    assert!(left.0 < 0.3 && 0.3 < right.0, "{left:?} {right:?}");
    assert_eq!(
        (left.1, left.2),
        (100.0 * m.cases[1].interval.0, 100.0 * m.cases[1].interval.1)
    );
    assert!(chart.y_range.1 >= left.2);
    assert_eq!(chart.markers[0].at, (0.3, 7.0));
    assert!(chart.to_svg().contains("goal ≤ 7 %"));
    // A `|` in a label is escaped in the table.
    assert!(pooled_markdown(&[other], &[]).contains("| b \\| c |"));
}

#[test]
fn seen_inputs_are_set_aside_from_a_report_or_an_attack_file() {
    let a = report(
        1,
        50.0,
        &[(1, 1, 1, Some(0.3)), (5, 5, 5, Some(0.3)), (9, 9, 9, None)],
        &[0.3],
        true,
    );
    let seen_report = report(7, 50.0, &[(5, 5, 5, None), (8, 8, 8, None)], &[0.3], true);
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("seen");
    std::fs::create_dir(&report_dir).unwrap();
    std::fs::write(
        report_dir.join("report.json"),
        serde_json::to_vec(&seen_report).unwrap(),
    )
    .unwrap();
    let attack_file = dir.path().join("adaptive.json");
    std::fs::write(
        &attack_file,
        serde_json::to_vec(&seen_report.bounded[0]).unwrap(),
    )
    .unwrap();
    for path in [&report_dir, &attack_file] {
        let seen = seen_inputs(path).unwrap();
        assert_eq!(seen, BTreeSet::from([5, 8]), "{}", path.display());
        let c = &pool("m", &[at("a", a.clone())], &[], &seen).unwrap().cases[0];
        assert_eq!(
            (
                c.samples,
                c.attacker_wins,
                c.excluded_inputs,
                c.correct_inputs
            ),
            (2, 1, 1, Some(2))
        );
    }
    assert!(seen_inputs(&dir.path().join("missing")).is_err());
}

#[test]
fn reports_drawn_outside_earlier_inputs_say_so_in_the_table() {
    let inputs = [(1, 1, 1, Some(0.3)), (2, 2, 2, None)];
    let plain = report(1, 50.0, &inputs, &[0.3], true);
    let mut fresh = report(2, 50.0, &[(3, 3, 3, None)], &[0.3], true);
    fresh.set_aside = Some(crate::attack::report::SetAside {
        sources: vec!["old/report.json".into()],
        inputs: 2713,
    });
    let none = BTreeSet::new();
    let alone = pool("m", &[at("a", plain.clone())], &[], &none).unwrap();
    assert!(!pooled_markdown(&[alone], &[]).contains("drawn outside"));
    let both = pool("m", &[at("a", plain), at("b", fresh)], &[], &none).unwrap();
    assert_eq!(both.reports[1].drawn_outside, Some(2713));
    let table = pooled_markdown(&[both], &[]);
    assert!(
        table.contains("- m: the samples of 1 of its 2 reports were drawn outside 2713 inputs"),
        "{table}"
    );
}

#[test]
fn a_further_attack_run_adds_wins_on_the_reports_inputs_only() {
    let r = report(
        1,
        50.0,
        &[(1, 1, 1, None), (2, 2, 2, Some(0.3)), (3, 3, 3, None)],
        &[0.1, 0.3],
        true,
    );
    // Another run of the attack wins on input 1 at 0.3 and on input 9, which no report
    // attacked.
    let other = report(
        2,
        50.0,
        &[(1, 1, 1, Some(0.3)), (9, 9, 9, Some(0.1))],
        &[0.1, 0.3],
        false,
    );
    let run = other.bounded[0].clone();
    let m = pool(
        "m",
        &[at("a", r)],
        &[(PathBuf::from("again.json"), run)],
        &BTreeSet::new(),
    )
    .unwrap();
    let counts: Vec<(usize, usize)> = m
        .cases
        .iter()
        .map(|c| (c.samples, c.attacker_wins))
        .collect();
    assert_eq!(counts, [(3, 0), (3, 2)]);
    assert_eq!(m.cases[1].robust_error_count, Some(2));
    assert_eq!(m.attacks, [PathBuf::from("again.json")]);
}
