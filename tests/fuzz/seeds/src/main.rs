//! Writes the fuzz targets' seed corpus, `tests/fuzz/corpus/<target>/` (or `OUT/<target>/`):
//!
//! * `model_runtime/` and `model_fixed_up/`: tiny valid models (a few KB each, so the fuzzer
//!   runs fast on them) of several sizes, covariance kinds and τ_dec statistics, a newer-minor
//!   file, and each `gmvae_format::corrupt::Corruption` of a tiny model;
//! * `idx/`: the first images and labels of the bundled MNIST test files
//!   (`fixtures/data/mnist-10k/`), raw, gzip, and gzip in two members;
//! * `png/`: the first bundled test digit as a 28 × 28 PNG, and small images of every colour
//!   type and bit depth the decoder handles (grey 1 to 16 bits, grey with alpha, RGB and RGBA
//!   at 8 and 16 bits, a palette with transparency), plus one larger than the fuzz target's
//!   header-size limit.
//!
//! The golden and broken fixtures (425 KB each) are not copied here: `run.sh` adds them to
//! the corpus it fuzzes. The output is deterministic; run it again after changing it:
//!
//! ```text
//! cargo run --release -p gmvae-fuzz-seeds [-- OUT]
//! ```

use std::error::Error;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};
use gmvae_format::corrupt::{future_minor, Corruption};
use gmvae_format::{
    Architecture, Calibration, CovarianceKind, ModelFile, TauDecStatistic, TensorId,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The worked example's sizes (`SPEC.md` section 13): C=1, 4×4, c1=c2=2, hidden 3, latent 2,
/// two classes.
const TINY: Architecture = Architecture {
    in_channels: 1,
    height: 4,
    width: 4,
    conv1: 2,
    conv2: 2,
    hidden: 3,
    latent: 2,
    classes: 2,
};

/// Three channels, a non-square image, more classes than the tiny one.
const RGB: Architecture = Architecture {
    in_channels: 3,
    height: 8,
    width: 12,
    conv1: 3,
    conv2: 4,
    hidden: 5,
    latent: 4,
    classes: 3,
};

/// MNIST's ten classes on a small network: reclassification runs ten starts.
const TEN: Architecture = Architecture {
    in_channels: 1,
    height: 8,
    width: 8,
    conv1: 2,
    conv2: 3,
    hidden: 8,
    latent: 10,
    classes: 10,
};

/// Images taken from the bundled test file.
const IMAGES: usize = 3;
/// Labels taken from the bundled test file.
const LABELS: usize = 8;

fn main() -> Result<()> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| fuzz.join("corpus"), PathBuf::from);
    let mnist = fuzz.join("../../fixtures/data/mnist-10k");

    let models = model_seeds()?;
    for target in ["model_runtime", "model_fixed_up"] {
        write_all(&out.join(target), &models)?;
    }
    write_all(&out.join("idx"), &idx_seeds(&mnist)?)?;
    write_all(&out.join("png"), &png_seeds(&mnist)?)?;
    Ok(())
}

/// Writes each `(name, bytes)` into `dir`.
fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes)?;
    }
    println!("{}: {} seeds", dir.display(), files.len());
    Ok(())
}

/// The worked example's calibration (`SPEC.md` section 13) with `covariance`.
fn calibration(covariance: CovarianceKind, tau_dec_statistic: TauDecStatistic) -> Calibration {
    Calibration {
        s2: 1.0 / 3000.0,
        covariance,
        tau_enc: 11.83,
        tau_dec: 4.5,
        confidence: 0.9973,
        tau_dec_statistic,
        samples: 1000,
    }
}

/// A small deterministic generator of values in `[-1, 1)`.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// A model of `arch` with weights and means from `seed` (zero weights for seed 0) and, for
/// [`CovarianceKind::PerClass`], precisions `A·Aᵀ + n·I` (symmetric positive definite).
fn model(
    arch: Architecture,
    covariance: CovarianceKind,
    statistic: TauDecStatistic,
    seed: u64,
) -> Result<ModelFile> {
    let mut file = ModelFile::new(arch, calibration(covariance, statistic))?;
    if seed == 0 {
        return Ok(file);
    }
    let mut rng = Lcg(seed);
    for id in TensorId::ALL {
        for v in file.tensor_mut(id) {
            *v = rng.next();
        }
    }
    for v in &mut file.class_means {
        *v = rng.next();
    }
    if covariance == CovarianceKind::PerClass {
        let n = arch.latent;
        for p in file.precisions.chunks_exact_mut(n * n) {
            let a: Vec<f32> = (0..n * n).map(|_| rng.next()).collect();
            for i in 0..n {
                for j in 0..n {
                    let dot: f32 = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum();
                    p[i * n + j] = dot + if i == j { n as f32 } else { 0.0 };
                }
            }
        }
    }
    Ok(file)
}

/// Valid tiny models, a newer-minor file and every corruption of a tiny model.
fn model_seeds() -> Result<Vec<(String, Vec<u8>)>> {
    let quantile = TauDecStatistic::Quantile { level: 0.99 };
    let k_std = TauDecStatistic::MeanPlusKStd { k: 3.0 };
    // The worked example exactly: zero weights, "mnist" with classes "zero" and "one".
    let mut example = model(TINY, CovarianceKind::Isotropic, quantile, 0)?;
    example.dataset_name = "mnist".into();
    example.class_names = vec!["zero".into(), "one".into()];
    let random = model(TINY, CovarianceKind::Isotropic, quantile, 1)?;

    let mut seeds = vec![
        ("tiny_spec_example.gmvae".to_string(), example.to_bytes()?),
        ("tiny_isotropic.gmvae".into(), random.to_bytes()?),
        (
            "tiny_per_class.gmvae".into(),
            model(TINY, CovarianceKind::PerClass, k_std, 2)?.to_bytes()?,
        ),
        (
            "rgb_per_class.gmvae".into(),
            model(RGB, CovarianceKind::PerClass, quantile, 3)?.to_bytes()?,
        ),
        (
            "ten_classes.gmvae".into(),
            model(TEN, CovarianceKind::Isotropic, k_std, 4)?.to_bytes()?,
        ),
        ("tiny_future_minor.gmvae".into(), future_minor(&random)?),
    ];
    let mut named = example;
    named.dataset_name = "digits".into();
    for c in Corruption::ALL {
        seeds.push((format!("tiny_{}.gmvae", c.name()), c.apply(&named)?));
    }
    Ok(seeds)
}

/// The first [`IMAGES`] images and [`LABELS`] labels of the bundled test files, as IDX files
/// raw, gzip, and gzip in two members (the readers accept concatenated members).
fn idx_seeds(mnist: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let images = gunzip(&fs::read(mnist.join("t10k-images-idx3-ubyte.gz"))?)?;
    let labels = gunzip(&fs::read(mnist.join("t10k-labels-idx1-ubyte.gz"))?)?;
    let images = head(&images, 16, IMAGES, 28 * 28)?;
    let labels = head(&labels, 8, LABELS, 1)?;
    let mut seeds = Vec::new();
    for (name, raw) in [
        (format!("images_{IMAGES}.idx"), images),
        (format!("labels_{LABELS}.idx"), labels),
    ] {
        let (first, second) = raw.split_at(raw.len() / 2);
        let members = [gzip(first)?, gzip(second)?].concat();
        seeds.push((format!("{name}.gz"), gzip(&raw)?));
        seeds.push((format!("{name}.2members.gz"), members));
        seeds.push((name, raw));
    }
    Ok(seeds)
}

/// The IDX file `idx` (header of `header_len` bytes, count at bytes 4..8) cut to its first
/// `count` items of `item_len` bytes, with the count rewritten.
fn head(idx: &[u8], header_len: usize, count: usize, item_len: usize) -> Result<Vec<u8>> {
    let len = header_len + count * item_len;
    let mut out = idx.get(..len).ok_or("bundled IDX file too short")?.to_vec();
    out[4..8].copy_from_slice(&u32::try_from(count)?.to_be_bytes());
    Ok(out)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Deterministic gzip (mtime 0, no name), as the trainer writes it.
fn gzip(raw: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    encoder.write_all(raw)?;
    Ok(encoder.finish()?)
}

/// The PNG seeds (see the module documentation).
fn png_seeds(mnist: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    use png::{BitDepth, ColorType};
    let images = gunzip(&fs::read(mnist.join("t10k-images-idx3-ubyte.gz"))?)?;
    let digit = images
        .get(16..16 + 28 * 28)
        .ok_or("bundled IDX file too short")?;
    // A deterministic ramp of `n` bytes.
    let ramp = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 37 % 256) as u8).collect() };
    let mut seeds = vec![(
        "digit_28x28_grey8.png".to_owned(),
        png_image(28, 28, ColorType::Grayscale, BitDepth::Eight, digit, None)?,
    )];
    // (name, width, height, colour, depth, bytes per row)
    let cases = [
        ("grey1", 8, 4, ColorType::Grayscale, BitDepth::One, 1),
        ("grey2", 8, 4, ColorType::Grayscale, BitDepth::Two, 2),
        ("grey4", 8, 4, ColorType::Grayscale, BitDepth::Four, 4),
        ("grey8", 7, 5, ColorType::Grayscale, BitDepth::Eight, 7),
        ("grey16", 4, 4, ColorType::Grayscale, BitDepth::Sixteen, 8),
        (
            "greyalpha8",
            4,
            4,
            ColorType::GrayscaleAlpha,
            BitDepth::Eight,
            8,
        ),
        ("rgb8", 12, 8, ColorType::Rgb, BitDepth::Eight, 36),
        ("rgb16", 4, 4, ColorType::Rgb, BitDepth::Sixteen, 24),
        ("rgba8", 4, 4, ColorType::Rgba, BitDepth::Eight, 16),
        ("rgba16", 4, 3, ColorType::Rgba, BitDepth::Sixteen, 32),
        (
            "grey8_large",
            80,
            80,
            ColorType::Grayscale,
            BitDepth::Eight,
            80,
        ),
    ];
    for (name, width, height, colour, depth, row) in cases {
        let data = ramp(row * height as usize);
        let bytes = png_image(width, height, colour, depth, &data, None)?;
        seeds.push((format!("{name}_{width}x{height}.png"), bytes));
    }
    // Four palette entries, the first transparent, indices 0..4 at 2 bits.
    let palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255];
    let bytes = png_image(
        4,
        4,
        ColorType::Indexed,
        BitDepth::Two,
        &[0x1b, 0xe4, 0x1b, 0xe4],
        Some((&palette, &[0])),
    )?;
    seeds.push(("palette2_trns_4x4.png".to_owned(), bytes));
    Ok(seeds)
}

/// A PNG of `width × height` `colour` pixels at `depth` from the packed rows `data`, with a
/// palette and its transparency when given.
fn png_image(
    width: u32,
    height: u32,
    colour: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<(&[u8], &[u8])>,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    if let Some((entries, transparency)) = palette {
        encoder.set_palette(entries.to_vec());
        encoder.set_trns(transparency.to_vec());
    }
    let mut writer = encoder.write_header()?;
    writer.write_image_data(data)?;
    writer.finish()?;
    Ok(out)
}
