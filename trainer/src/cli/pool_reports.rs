//! `gmvae pool-reports`: one or more models' security reports, each model's pooled over the
//! distinct inputs of its samples (`gmvae report --seed S`), in one table and one chart with
//! 95 % intervals.

use anyhow::{Context, Result};
use clap::Args;
use gmvae_trainer::attack::pool::{
    load_and_pool, pooled_markdown, seen_inputs, write_pooled, Goal,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One model's label and its report directories (or `report.json` files).
#[derive(Debug, Clone)]
pub struct ModelReports {
    /// Legend label.
    pub label: String,
    /// The reports to pool.
    pub paths: Vec<PathBuf>,
}

/// Parses `LABEL=PATH[,PATH...]`.
fn model_reports(text: &str) -> Result<ModelReports, String> {
    let (label, paths) = text
        .split_once('=')
        .filter(|(l, p)| !l.is_empty() && !p.is_empty())
        .ok_or_else(|| format!("{text:?} is not LABEL=REPORT_DIR[,REPORT_DIR...]"))?;
    let paths: Vec<PathBuf> = paths.split(',').map(PathBuf::from).collect();
    if paths.iter().any(|p| p.as_os_str().is_empty()) {
        return Err(format!("{text:?} has an empty report path"));
    }
    Ok(ModelReports {
        label: label.to_owned(),
        paths,
    })
}

/// Parses `EPS:PERCENT`.
fn goal(text: &str) -> Result<Goal, String> {
    let bad = || format!("{text:?} is not EPS:PERCENT (e.g. 0.3:7)");
    let (eps, percent) = text.split_once(':').ok_or_else(bad)?;
    let eps: f64 = eps.trim().parse().map_err(|_| bad())?;
    let percent: f64 = percent.trim().parse().map_err(|_| bad())?;
    Goal::new(eps, percent).ok_or_else(|| {
        format!("{text:?}: ε must be a finite non-negative number and the percentage within 0–100")
    })
}

/// Arguments of `gmvae pool-reports`.
#[derive(Debug, Clone, Args)]
pub struct PoolReportsArgs {
    /// One model: its legend label and the `gmvae report` directories (or `report.json`
    /// files) to pool, one per input sample (repeat for each model). An input in several
    /// samples counts once. Attack result files of the same model (`adaptive.json`, say)
    /// may be listed too: their wins on the reports' inputs count, and they add no inputs.
    #[arg(long = "model", value_name = "LABEL=REPORT_DIR[,REPORT_OR_ATTACK...]", value_parser = model_reports, required = true)]
    pub models: Vec<ModelReports>,
    /// A goal for the attacker success rate, at most PERCENT % at budget EPS: drawn as a
    /// marker, and judged in the table (repeatable).
    #[arg(long = "goal", value_name = "EPS:PERCENT", value_parser = goal)]
    pub goals: Vec<Goal>,
    /// Set aside the inputs an earlier evaluation showed: a report (directory or
    /// `report.json`) or one attack's result file (`adaptive.json`), e.g. the sample a model
    /// or its thresholds were chosen on, so that only fresh inputs are pooled (repeatable).
    #[arg(long, value_name = "REPORT_OR_ATTACK_JSON")]
    pub exclude_seen: Vec<PathBuf>,
    /// Where to write `worst-case-pooled.{json,md,svg,png}`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs `gmvae pool-reports`: reads and pools every report before writing anything.
pub fn run(a: PoolReportsArgs) -> Result<()> {
    let mut seen = BTreeSet::new();
    for path in &a.exclude_seen {
        seen.extend(seen_inputs(path)?);
    }
    let pooled = a
        .models
        .iter()
        .map(|m| load_and_pool(&m.label, &m.paths, &seen))
        .collect::<Result<Vec<_>, _>>()?;
    let written = write_pooled(&a.out, &pooled, &a.goals)
        .with_context(|| format!("writing the pooled reports into {}", a.out.display()))?;
    print!("{}", pooled_markdown(&pooled, &a.goals));
    println!();
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_parsed_or_refused_with_the_expected_form() {
        let m = model_reports("robust=a,b/report.json").unwrap();
        assert_eq!(m.label, "robust");
        assert_eq!(
            m.paths,
            [PathBuf::from("a"), PathBuf::from("b/report.json")]
        );
        for bad in ["robust", "=a", "robust=", "robust=a,,b"] {
            assert!(model_reports(bad).is_err(), "{bad}");
        }
        assert_eq!(
            goal("0.3:7").unwrap(),
            Goal {
                eps: 0.3,
                percent: 7.0
            }
        );
        for bad in ["0.3", "x:7", "0.3:101", "-0.1:5", "inf:5"] {
            assert!(goal(bad).is_err(), "{bad}");
        }
    }
}
