//! Inputs of `gmvae classify` and `gmvae bench classify`: PNG files (greyscale or RGB, 8 or 16
//! bits, alpha ignored) and entries of IDX image files written `FILE:INDEX`, converted to the
//! model's `[C][H][W]` values in `[0, 1]`. Images are never resized: a size other than the
//! model's is an error.

use anyhow::{anyhow, bail, Context, Result};
use gmvae_trainer::data::idx::{read_images, IdxImages};
use gmvae_trainer::data::ImageShape;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where one input image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSpec {
    /// A PNG file.
    Png(PathBuf),
    /// Image `index` (0-based) of an IDX image file (raw or gzip).
    Idx {
        /// The IDX file.
        path: PathBuf,
        /// The image's position in it.
        index: usize,
    },
}

impl InputSpec {
    /// Reads `FILE:INDEX` as an IDX entry (unless a file of that exact name exists), anything
    /// else as a PNG path.
    pub fn parse(text: &str) -> Self {
        if !Path::new(text).exists() {
            if let Some((file, index)) = text.rsplit_once(':') {
                if let (false, Ok(index)) = (file.is_empty(), index.parse::<usize>()) {
                    return Self::Idx {
                        path: PathBuf::from(file),
                        index,
                    };
                }
            }
        }
        Self::Png(PathBuf::from(text))
    }
}

impl std::fmt::Display for InputSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Png(path) => write!(f, "{}", path.display()),
            Self::Idx { path, index } => write!(f, "{}:{index}", path.display()),
        }
    }
}

/// Loads inputs, reading each IDX file once.
#[derive(Debug, Default)]
pub struct InputLoader {
    idx_files: HashMap<PathBuf, IdxImages>,
}

impl InputLoader {
    /// A loader with nothing cached.
    pub fn new() -> Self {
        Self::default()
    }

    /// The image `spec` names as `[C][H][W]` values in `[0, 1]` for a model of `shape`.
    pub fn load(&mut self, spec: &InputSpec, shape: ImageShape) -> Result<Vec<f32>> {
        match spec {
            InputSpec::Png(path) => {
                if looks_like_idx(path) {
                    bail!(
                        "{} is an IDX file; name one of its images as {}:INDEX",
                        path.display(),
                        path.display()
                    );
                }
                read_png(path, shape)
            }
            InputSpec::Idx { path, index } => {
                let images = match self.idx_files.entry(path.clone()) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(read_images(path)?),
                };
                idx_entry(images, path, *index, shape)
            }
        }
    }
}

/// Whether a path is named like an IDX file (`…idx3-ubyte`, optionally `.gz`).
fn looks_like_idx(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    name.is_some_and(|n| n.contains("idx") && n.contains("-ubyte"))
}

/// Image `index` of `images`, replicated over the model's channels.
fn idx_entry(images: &IdxImages, path: &Path, index: usize, shape: ImageShape) -> Result<Vec<f32>> {
    if index >= images.count() {
        bail!(
            "{}:{index}: no such image ({} holds {} images, indices 0..={})",
            path.display(),
            path.display(),
            images.count(),
            images.count().saturating_sub(1)
        );
    }
    let name = format!("{}:{index}", path.display());
    let (rows, cols) = (images.rows(), images.cols());
    check_size(&name, (cols, rows), shape)?;
    let size = rows * cols;
    let grey: Vec<f32> = images
        .pixels()
        .get(index * size..(index + 1) * size)
        .ok_or_else(|| anyhow!("{name}: truncated image data"))?
        .iter()
        .map(|&k| f32::from(k) / 255.0)
        .collect();
    to_channels(&name, grey, 1, shape)
}

/// Fails unless a `width × height` image fits the model.
fn check_size(name: &str, (width, height): (usize, usize), shape: ImageShape) -> Result<()> {
    if (width, height) != (shape.width, shape.height) {
        bail!(
            "{name} is {width}×{height} pixels but the model expects {}×{} (inputs are not resized)",
            shape.width,
            shape.height
        );
    }
    Ok(())
}

/// Decodes a PNG into the model's channels.
fn read_png(path: &Path, shape: ImageShape) -> Result<Vec<f32>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read input {name}"))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    // Palette → RGB(A), grey below 8 bits → 8 bits, tRNS → alpha; 16 bits stay 16.
    decoder.set_transformations(png::Transformations::EXPAND);
    let not_png = |e: png::DecodingError| anyhow!("{name} is not a readable PNG: {e}");
    let mut reader = decoder.read_info().map_err(not_png)?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_size(&name, (width as usize, height as usize), shape)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).map_err(not_png)?;
    let samples = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => bail!("{name}: indexed PNG was not expanded"),
    };
    let colours = if samples >= 3 { 3 } else { 1 };
    let wide = frame.bit_depth == png::BitDepth::Sixteen;
    let pixels = shape.height * shape.width;
    // Channel-major values of the PNG's colour channels.
    let mut values = vec![0.0f32; colours * pixels];
    for y in 0..shape.height {
        let row = buf
            .get(y * frame.line_size..(y + 1) * frame.line_size)
            .ok_or_else(|| anyhow!("{name}: truncated image data"))?;
        for x in 0..shape.width {
            for c in 0..colours {
                let sample = x * samples + c;
                let v = if wide {
                    let b = row.get(2 * sample..2 * sample + 2).unwrap_or(&[0, 0]);
                    f32::from(u16::from_be_bytes([b[0], b[1]])) / 65535.0
                } else {
                    f32::from(row.get(sample).copied().unwrap_or(0)) / 255.0
                };
                values[c * pixels + y * shape.width + x] = v;
            }
        }
    }
    to_channels(&name, values, colours, shape)
}

/// Converts channel-major grey (1) or RGB (3) values to the model's channel count: grey is
/// replicated, RGB becomes luma (ITU-R BT.601) for a one-channel model.
fn to_channels(name: &str, values: Vec<f32>, from: usize, shape: ImageShape) -> Result<Vec<f32>> {
    let pixels = shape.height * shape.width;
    match (from, shape.channels) {
        (a, b) if a == b => Ok(values),
        (1, c) => Ok((0..c).flat_map(|_| values.iter().copied()).collect()),
        (3, 1) => Ok((0..pixels)
            .map(|p| {
                let luma =
                    0.299 * values[p] + 0.587 * values[pixels + p] + 0.114 * values[2 * pixels + p];
                luma.clamp(0.0, 1.0)
            })
            .collect()),
        (_, c) => bail!("{name} has {from} colour channels; the model expects {c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: ImageShape = ImageShape {
        channels: 1,
        height: 2,
        width: 3,
    };

    fn png_bytes(
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
        w: u32,
        h: u32,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(color);
        encoder.set_depth(depth);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            InputSpec::parse("/nowhere/t10k-images-idx3-ubyte.gz:17"),
            InputSpec::Idx {
                path: "/nowhere/t10k-images-idx3-ubyte.gz".into(),
                index: 17
            }
        );
        assert_eq!(InputSpec::parse("a.png"), InputSpec::Png("a.png".into()));
        assert_eq!(InputSpec::parse(":3"), InputSpec::Png(":3".into()));
        assert_eq!(InputSpec::parse("x:y"), InputSpec::Png("x:y".into()));
    }

    #[test]
    fn reads_grey_rgb_and_16_bit_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let grey = dir.path().join("g.png");
        std::fs::write(
            &grey,
            png_bytes(
                png::ColorType::Grayscale,
                png::BitDepth::Eight,
                &[0, 51, 255, 0, 0, 102],
                3,
                2,
            ),
        )
        .unwrap();
        let mut loader = InputLoader::new();
        let v = loader.load(&InputSpec::Png(grey.clone()), SHAPE).unwrap();
        assert_eq!(v, [0.0, 0.2, 1.0, 0.0, 0.0, 0.4]);
        let rgb_shape = ImageShape {
            channels: 3,
            ..SHAPE
        };
        let v3 = loader.load(&InputSpec::Png(grey), rgb_shape).unwrap();
        assert_eq!(&v3[6..12], &v[..]);

        let rgb = dir.path().join("c.png");
        let data: Vec<u8> = (0..6).flat_map(|_| [255u8, 255, 255]).collect();
        std::fs::write(
            &rgb,
            png_bytes(png::ColorType::Rgb, png::BitDepth::Eight, &data, 3, 2),
        )
        .unwrap();
        let v = loader.load(&InputSpec::Png(rgb), SHAPE).unwrap();
        assert!(v.iter().all(|&x| (x - 1.0).abs() < 1e-6), "{v:?}");

        let wide = dir.path().join("w.png");
        let data: Vec<u8> = (0..6).flat_map(|_| 32768u16.to_be_bytes()).collect();
        std::fs::write(
            &wide,
            png_bytes(
                png::ColorType::Grayscale,
                png::BitDepth::Sixteen,
                &data,
                3,
                2,
            ),
        )
        .unwrap();
        let v = loader.load(&InputSpec::Png(wide), SHAPE).unwrap();
        assert!((v[0] - 32768.0 / 65535.0).abs() < 1e-7);

        let small = ImageShape { width: 2, ..SHAPE };
        let err = loader
            .load(&InputSpec::Png(dir.path().join("g.png")), small)
            .unwrap_err();
        assert!(err.to_string().contains("not resized"), "{err}");
    }

    #[test]
    fn reads_idx_entries_and_rejects_bad_indices() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t10k-images-idx3-ubyte");
        let images = IdxImages::new(2, 2, 3, (0..12).map(|v| v * 20).collect()).unwrap();
        std::fs::write(&path, images.to_idx_bytes()).unwrap();
        let mut loader = InputLoader::new();
        let spec = InputSpec::Idx {
            path: path.clone(),
            index: 1,
        };
        let v = loader.load(&spec, SHAPE).unwrap();
        assert_eq!(v[0], 120.0 / 255.0);
        let err = loader
            .load(
                &InputSpec::Idx {
                    path: path.clone(),
                    index: 2,
                },
                SHAPE,
            )
            .unwrap_err();
        assert!(err.to_string().contains("no such image"), "{err}");
        let err = loader.load(&InputSpec::Png(path), SHAPE).unwrap_err();
        assert!(err.to_string().contains(":INDEX"), "{err}");
    }
}
