//! Images to classify (`gmvae classify`, `gmvae bench`): PNG files (greyscale or RGB, 1 to 16
//! bits, alpha ignored) and entries of IDX image files written `FILE:INDEX`, converted to a
//! model's `[C][H][W]` values in `[0, 1]`. Images are never resized: a size other than the
//! model's is an [`InputError`], as is every unreadable file.

mod error;
mod png_input;

pub use error::InputError;
pub use png_input::decode_png;

use crate::data::idx::{read_images, IdxImages};
use crate::data::ImageShape;
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
    pub fn load(&mut self, spec: &InputSpec, shape: ImageShape) -> Result<Vec<f32>, InputError> {
        match spec {
            InputSpec::Png(path) => {
                if looks_like_idx(path) {
                    return Err(InputError::WholeIdxFile { path: path.clone() });
                }
                let read = |source| InputError::Read {
                    path: path.clone(),
                    source,
                };
                let file = std::fs::File::open(path).map_err(read)?;
                decode_png(
                    std::io::BufReader::new(file),
                    &path.display().to_string(),
                    shape,
                )
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
fn idx_entry(
    images: &IdxImages,
    path: &Path,
    index: usize,
    shape: ImageShape,
) -> Result<Vec<f32>, InputError> {
    if index >= images.count() {
        return Err(InputError::NoSuchImage {
            path: path.to_owned(),
            index,
            count: images.count(),
        });
    }
    let name = format!("{}:{index}", path.display());
    let (rows, cols) = (images.rows(), images.cols());
    check_size(&name, (cols, rows), shape)?;
    let size = rows * cols;
    let grey: Vec<f32> = images
        .pixels()
        .get(index * size..(index + 1) * size)
        .ok_or_else(|| InputError::Truncated { name: name.clone() })?
        .iter()
        .map(|&k| f32::from(k) / 255.0)
        .collect();
    to_channels(&name, grey, 1, shape)
}

/// Fails unless a `width × height` image fits the model.
fn check_size(
    name: &str,
    (width, height): (usize, usize),
    shape: ImageShape,
) -> Result<(), InputError> {
    if (width, height) != (shape.width, shape.height) {
        return Err(InputError::Size {
            name: name.to_owned(),
            width,
            height,
            expected_width: shape.width,
            expected_height: shape.height,
        });
    }
    Ok(())
}

/// Converts channel-major grey (1) or RGB (3) values to the model's channel count: grey is
/// replicated, RGB becomes luma (ITU-R BT.601) for a one-channel model.
fn to_channels(
    name: &str,
    values: Vec<f32>,
    from: usize,
    shape: ImageShape,
) -> Result<Vec<f32>, InputError> {
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
        (_, c) => Err(InputError::Channels {
            name: name.to_owned(),
            found: from,
            expected: c,
        }),
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

    /// The `png` fuzz target's first find: a 4 × 4 indexed PNG whose palette chunk is 13 bytes
    /// (not whole RGB entries), on which png 0.17's palette expansion panics (rebuilt here with
    /// valid CRCs: fuzzing builds of png skip the CRC check).
    const PALETTE_OF_13_BYTES: [u8; 109] = [
        137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 4, 2, 3,
        0, 0, 0, 212, 159, 118, 237, 0, 0, 0, 13, 80, 76, 84, 69, 0, 0, 0, 255, 0, 0, 0, 255, 0,
        255, 255, 255, 7, 163, 5, 22, 222, 0, 0, 0, 1, 116, 82, 78, 83, 0, 64, 230, 216, 102, 0, 0,
        0, 14, 73, 68, 65, 84, 120, 156, 99, 144, 102, 120, 194, 0, 196, 0, 6, 110, 1, 255, 40, 81,
        181, 0, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
    ];

    #[test]
    fn a_malformed_palette_is_an_error_not_a_panic() {
        let err = decode_png(
            &PALETTE_OF_13_BYTES[..],
            "p.png",
            ImageShape {
                width: 4,
                height: 4,
                ..SHAPE
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, InputError::Palette { bytes: 13, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "p.png has a malformed palette (13 bytes, 1 transparency values)"
        );
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
