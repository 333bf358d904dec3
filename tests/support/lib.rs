//! Shared support for the workspace's conformance tests and benchmarks: fixture paths and
//! named numeric tolerances.

use std::path::PathBuf;

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
