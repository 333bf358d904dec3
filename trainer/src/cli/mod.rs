//! Command-line definitions for the `gmvae` binary; each subcommand lives in its own module.

use clap::{Parser, Subcommand};

pub mod data;

/// Gaussian-mixture VAE classifiers that reject adversarial and fooling inputs.
#[derive(Debug, Parser)]
#[command(name = "gmvae", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `gmvae`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect or import datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
}
