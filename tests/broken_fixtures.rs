//! Every deliberately broken file in `fixtures/broken/` is rejected with its own typed error,
//! the same through the format reader and the runtime.
//!
//! The files were made by the `golden_fixtures` example from the golden model with each
//! `gmvae_format::corrupt::Corruption`; `fixtures/broken/expected.json` records the exact
//! error value of each. The committed bytes are tested, not bytes made afresh, so a change in
//! the reader that stops rejecting an old broken file is caught.

use std::collections::BTreeSet;

use gmvae::{broken_dir, read_fixture};
use gmvae_format::corrupt::Corruption;
use gmvae_format::ModelView;
use gmvae_runtime::{Error, Model};
use serde_json::Value;

fn index() -> Vec<Value> {
    let text = read_fixture(&broken_dir().join("expected.json"));
    let index: Value = serde_json::from_slice(&text).expect("broken/expected.json is JSON");
    index["files"]
        .as_array()
        .expect("broken/expected.json has a files array")
        .clone()
}

fn file_name(c: Corruption) -> String {
    format!("{}.gmvae", c.name())
}

#[test]
fn every_corruption_has_a_broken_file_giving_its_error() {
    let index = index();
    for c in Corruption::ALL {
        let name = file_name(c);
        let path = broken_dir().join(&name);
        assert!(
            path.is_file(),
            "{} is missing: regenerate with the `golden_fixtures` example (fixtures/README.md)",
            path.display()
        );
        let bytes = read_fixture(&path);
        let err = match ModelView::parse(&bytes) {
            Ok(_) => panic!("{name} parses"),
            Err(e) => e,
        };
        assert!(c.matches(&err), "{name}: {err:?} is not the error of {c:?}");
        match Model::parse(&bytes) {
            Err(Error::Format(e)) => assert_eq!(e, err, "{name}: runtime and reader disagree"),
            other => panic!("{name}: the runtime gives {other:?}, the reader {err:?}"),
        }
        let entry = index
            .iter()
            .find(|e| e["file"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} is not in broken/expected.json"));
        assert_eq!(entry["corruption"], format!("{c:?}"), "{name}");
        assert_eq!(
            entry["error_debug"],
            format!("{err:?}"),
            "{name}: the error's details changed"
        );
        let variant = entry["error"].as_str().expect("error is a string");
        assert!(
            format!("{err:?}").starts_with(variant),
            "{name}: {err:?} is not {variant}"
        );
    }
}

#[test]
fn the_broken_directory_holds_nothing_unexplained() {
    let known: BTreeSet<String> = Corruption::ALL.iter().map(|&c| file_name(c)).collect();
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(broken_dir()).expect("fixtures/broken exists") {
        let name = entry.expect("directory entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if name == "expected.json" {
            continue;
        }
        assert!(
            known.contains(&name),
            "fixtures/broken/{name} matches no corruption"
        );
        found.insert(name);
    }
    assert_eq!(found, known, "fixtures/broken/ lacks some files");
    let listed: BTreeSet<String> = index()
        .iter()
        .map(|e| e["file"].as_str().expect("file is a string").to_owned())
        .collect();
    assert_eq!(listed, known, "broken/expected.json lists other files");
}

#[test]
fn the_broken_files_differ_from_the_golden_model_as_their_names_say() {
    let golden = read_fixture(&gmvae::golden_model_path());
    for c in Corruption::ALL {
        let bytes = read_fixture(&broken_dir().join(file_name(c)));
        match c {
            Corruption::Truncated => assert_eq!(bytes[..], golden[..golden.len() / 2]),
            Corruption::TrailingBytes => {
                assert_eq!(bytes[..golden.len()], golden[..]);
                assert_eq!(bytes.len(), golden.len() + 16);
            }
            Corruption::FlippedByte => {
                assert_eq!(bytes.len(), golden.len());
                let diffs: Vec<usize> = (0..golden.len())
                    .filter(|&i| bytes[i] != golden[i])
                    .collect();
                assert_eq!(diffs.len(), 1, "flipped_byte differs in {diffs:?}");
                assert_eq!(bytes[diffs[0]], !golden[diffs[0]]);
            }
            _ => {
                assert_eq!(bytes.len(), golden.len(), "{c:?}");
                assert_ne!(bytes, golden, "{c:?}");
            }
        }
    }
}
