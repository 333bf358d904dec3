//! The `gmvae` command-line tool: train, calibrate, evaluate, sample and export Gaussian-mixture
//! VAE classifiers that reject what they do not recognise.

use clap::Parser;
use gmvae_trainer::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(args) => gmvae_trainer::cli::data::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
