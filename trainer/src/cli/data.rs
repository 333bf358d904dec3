//! `gmvae data ...`: dataset inspection and import (filled in by the data work).

use clap::Subcommand;

/// Dataset subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {}

/// Runs a dataset subcommand.
pub fn run(command: DataCommand) -> anyhow::Result<()> {
    match command {}
}
