//! The README's memory figures are what `gmvae inspect` reports for the models they describe
//! (the golden `edge` model, and a freshly written paper-sized one), so they cannot drift from
//! the code again.

mod cli_support;

use cli_support::ok;
use dfdx::prelude::*;
use gmvae_trainer::calibrate::{Calibration, CalibrationSettings};
use gmvae_trainer::model::{ModelConfig, Network, Params, Preset};
use gmvae_trainer::trained::TrainedModel;
use rand::SeedableRng;
use serde_json::Value;
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

/// `gmvae inspect --json MODEL`.
fn inspect(model: &Path) -> Value {
    serde_json::from_str(&ok(&["inspect", "--json", model.to_str().unwrap()])).unwrap()
}

/// Every number in `text`, digits grouped by `,` or spaces as the README writes them (the
/// type name `f32` is not a number).
fn numbers(text: &str) -> Vec<usize> {
    let text = text.replace("f32", "");
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let continues = |next: Option<&char>| next.is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() {
            current.push(c);
        } else if (c == ',' || c == ' ') && !current.is_empty() && continues(chars.peek()) {
            // A thousands separator between digits.
        } else if !current.is_empty() {
            out.push(current.parse().unwrap());
            current.clear();
        }
    }
    if !current.is_empty() {
        out.push(current.parse().unwrap());
    }
    out
}

/// The README line that starts with `prefix` (exactly one).
fn line<'a>(readme: &'a str, prefix: &str) -> &'a str {
    let found: Vec<&str> = readme.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(
        found.len(),
        1,
        "README lines starting with {prefix:?}: {found:?}"
    );
    found[0]
}

/// The figures `inspect` reports, in the order of the README's "Model sizes" columns:
/// parameters, weight bytes, file bytes, classify workspace bytes, reclassify workspace bytes
/// (least, all starts in lockstep).
fn size_columns(r: &Value) -> Vec<usize> {
    [
        "parameters",
        "weight_bytes",
        "file_bytes",
        "workspace_bytes",
        "reclassify_workspace_bytes",
        "reclassify_lockstep_workspace_bytes",
    ]
    .iter()
    .map(|k| r[k].as_u64().unwrap() as usize)
    .collect()
}

/// A paper-sized model with random weights (sizes do not depend on the values).
fn write_paper_model(path: &Path) {
    let config = ModelConfig::from_preset(Preset::Paper, (1, 28, 28), 10, None).unwrap();
    let dev = Cpu::default();
    let params = Params::init(
        &config,
        &dev,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
    );
    let arch = gmvae_trainer::export::architecture(&config);
    let s2 = 1.0 / 3000.0;
    let model = TrainedModel {
        network: Network::new(config, &dev),
        params,
        calibration: Calibration {
            settings: CalibrationSettings::default(),
            s2,
            tau_enc: 26.0,
            tau_dec: 50.0,
            precisions: gmvae_format::isotropic_precisions(&arch, s2 as f32),
            samples: 9000,
        },
        dataset: "mnist-10k".to_owned(),
        class_names: (0..10).map(|k| k.to_string()).collect(),
    };
    model.save(path).unwrap();
}

#[test]
fn the_readme_memory_figures_are_what_inspect_reports() {
    let readme = readme();
    let edge = inspect(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/golden/model.gmvae"
    )));
    let dir = tempfile::tempdir().unwrap();
    let paper_path = dir.path().join("paper.gmvae");
    write_paper_model(&paper_path);
    let paper = inspect(&paper_path);

    // "Model sizes": | preset | channels / hidden | the six figures |.
    for (prefix, r) in [("| `paper`", &paper), ("| `edge`", &edge)] {
        let row = line(&readme, prefix);
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let figures: Vec<usize> = cells[3..].iter().flat_map(|c| numbers(c)).collect();
        assert_eq!(figures, size_columns(r), "README row {row:?}");
    }

    // The edge preset's memory table, in f32s and bytes.
    let file = line(&readme, "| model file (");
    assert_eq!(
        numbers(file).last().copied(),
        edge["file_bytes"].as_u64().map(|v| v as usize)
    );
    for (prefix, f32s, bytes) in [
        ("| workspace (", "workspace_f32s", "workspace_bytes"),
        (
            "| workspace for `reclassify` (",
            "reclassify_workspace_f32s",
            "reclassify_workspace_bytes",
        ),
    ] {
        let row = line(&readme, prefix);
        let n = numbers(row);
        let expected = [edge[f32s].as_u64().unwrap(), edge[bytes].as_u64().unwrap()];
        let expected: Vec<usize> = expected.iter().map(|&v| v as usize).collect();
        assert_eq!(n[n.len() - 2..], expected[..], "README row {row:?}");
    }

    // "The paper-sized MNIST model needs N `f32` (K KiB) of workspace".
    let sentence = line(&readme, "The paper-sized MNIST model needs");
    let n = numbers(sentence);
    let f32s = paper["workspace_f32s"].as_u64().unwrap() as usize;
    assert_eq!(n[0], f32s, "{sentence}");
    assert_eq!(
        n[1],
        ((f32s * 4) as f64 / 1024.0).round() as usize,
        "{sentence}"
    );
}
