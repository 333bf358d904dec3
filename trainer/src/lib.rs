//! gmvae trainer: trains, calibrates, evaluates and exports Gaussian-mixture VAE classifiers.

pub mod cli;
pub mod data;
