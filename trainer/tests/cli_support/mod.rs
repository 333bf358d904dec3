//! Shared by the CLI tests: run the `gmvae` binary from the workspace root (where a user runs
//! it, so the bundled data is found the same way) and check how it ended.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `gmvae ARGS` from the workspace root.
pub fn gmvae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gmvae"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("the gmvae binary runs")
}

/// `gmvae train` of a tiny model for one epoch into `out`, with `extra` flags (the training
/// limit among them).
pub fn tiny_train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--preset", "tiny", "--epochs", "1", "--out", out];
    args.extend_from_slice(extra);
    args
}

/// Runs `gmvae ARGS`, asserts success and returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = gmvae(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gmvae {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that `output` is a failure with exactly one `error: …` line on stderr (no panic)
/// and returns stderr.
pub fn assert_one_error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "unexpected success: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    stderr
}

/// Runs `gmvae ARGS` and asserts it fails with one `error: …` line; returns stderr.
pub fn one_error_line(args: &[&str]) -> String {
    assert_one_error_line(&gmvae(args))
}

/// Writes `images` and `labels` into `dir` as an MNIST-layout dataset (the same images as the
/// training and the test split, raw IDX).
pub fn write_mnist_dir(
    dir: &std::path::Path,
    images: &gmvae_trainer::data::idx::IdxImages,
    labels: &[u8],
) {
    std::fs::create_dir_all(dir).unwrap();
    for prefix in ["train", "t10k"] {
        let path = |kind: &str| dir.join(format!("{prefix}-{kind}"));
        std::fs::write(path("images-idx3-ubyte"), images.to_idx_bytes()).unwrap();
        let labels = gmvae_trainer::data::idx::encode_labels(labels).unwrap();
        std::fs::write(path("labels-idx1-ubyte"), labels).unwrap();
    }
}
