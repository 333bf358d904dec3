//! The `gmvae` command-line tool: train, calibrate, evaluate, sample and export Gaussian-mixture
//! VAE classifiers that reject what they do not recognise.

mod cli;

use clap::Parser;
use cli::{run, Cli};
use std::process::ExitCode;

// dfdx allocates and frees large activation buffers every step; glibc returns them to the OS
// and page-faults them back in, mimalloc keeps them: about a third faster training on CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap prints them; a mistake on the command line is one
/// `error:` line (clap's first line, with its tip and the possible values if it gives them)
/// and exit status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let mut lines = text.lines();
    let mut line = lines
        .next()
        .unwrap_or("error: invalid command line")
        .to_owned();
    for extra in lines.map(str::trim) {
        if let Some(tip) = extra.strip_prefix("tip:") {
            line.push_str(&format!(" (tip:{tip})"));
        } else if extra.starts_with("[possible values:") || extra.starts_with("--") {
            // Possible values, or the arguments a "required arguments were not provided"
            // error names on the lines below it.
            line.push_str(&format!(" {extra}"));
        }
    }
    if e.kind() == ErrorKind::UnknownArgument && line.contains("argument '-") {
        line.push_str(" (a negative value is written --option=-N)");
    }
    eprintln!("{line} (see --help)");
    ExitCode::from(2)
}
