//! gmvae trainer: trains, calibrates, evaluates and exports Gaussian-mixture VAE classifiers.

pub mod atomic;
pub mod attack;
pub mod calibrate;
pub mod chi_square;
pub mod choice;
pub mod data;
mod error;
pub use error::{Error, Result};
pub mod eval;
pub mod export;
pub mod golden;
pub mod infer;
pub mod linalg;
pub mod model;
pub mod plot;
pub mod progress;
pub mod reclassify;
pub mod train;
pub mod trained;
