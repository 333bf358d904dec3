//! gmvae trainer: trains, calibrates, evaluates and exports Gaussian-mixture VAE classifiers.
