//! PNG grids of images (grayscale or RGB), e.g. class means decoded, samples, or inputs beside
//! their reconstructions.

use crate::atomic::{write_atomically, WriteError};
use std::path::Path;

/// Why a grid could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Only grayscale and RGB images can be drawn.
    #[error("cannot draw {0}-channel images (only 1 or 3)")]
    Channels(usize),
    /// A figure setting is out of range.
    #[error("the {name} must be between 1 and {max}, not {value}")]
    Setting {
        /// Which setting.
        name: &'static str,
        /// Requested value.
        value: usize,
        /// The largest accepted.
        max: usize,
    },
    /// A grid needs at least one column and a magnification of at least 1.
    #[error("a grid needs at least one column and a scale of at least 1")]
    EmptyGrid,
    /// An image does not have `channels × height × width` values.
    #[error("every image must have {expected} values, one has {found}")]
    ImageSize {
        /// `channels × height × width`.
        expected: usize,
        /// The offending image's length.
        found: usize,
    },
    /// The grid is too large to address or to encode as a PNG.
    #[error("a grid of {images} images of {height}x{width} at scale {scale} is too large")]
    TooLarge {
        /// Images in the grid.
        images: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// Magnification.
        scale: usize,
    },
    /// The encoder variance cannot be sampled from (not a finite non-negative number).
    #[error("cannot sample the mixture with variance {0}")]
    Variance(f64),
    /// The PNG encoder failed.
    #[error("cannot encode the PNG")]
    Encode(#[source] png::EncodingError),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Layout of the images in a grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridShape {
    /// Channels per image (1 = grayscale, 3 = RGB).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Images per row.
    pub columns: usize,
    /// Each pixel becomes a `scale × scale` block.
    pub scale: usize,
}

/// Gap between images, in output pixels.
const GAP: usize = 2;

/// Encodes `images` (each `channels×height×width`, channel-major, values in [0, 1]) as one PNG
/// grid, row by row; missing cells at the end stay grey.
pub fn encode_png(images: &[&[f32]], shape: GridShape) -> Result<Vec<u8>, PlotError> {
    let GridShape {
        channels,
        height,
        width,
        columns,
        scale,
    } = shape;
    if channels != 1 && channels != 3 {
        return Err(PlotError::Channels(channels));
    }
    if columns == 0 || scale == 0 {
        return Err(PlotError::EmptyGrid);
    }
    let pixels = channels * height * width;
    if let Some(bad) = images.iter().find(|im| im.len() != pixels) {
        return Err(PlotError::ImageSize {
            expected: pixels,
            found: bad.len(),
        });
    }
    let rows = images.len().div_ceil(columns).max(1);
    let too_large = PlotError::TooLarge {
        images: images.len(),
        height,
        width,
        scale,
    };
    let (out_w, out_h, bytes) = grid_size(rows, columns, height, width, scale).ok_or(too_large)?;
    let (cell_w, cell_h) = (width * scale + GAP, height * scale + GAP);
    let mut rgb = vec![128u8; bytes];
    for (n, image) in images.iter().enumerate() {
        let (x0, y0) = (GAP + (n % columns) * cell_w, GAP + (n / columns) * cell_h);
        for y in 0..height * scale {
            for x in 0..width * scale {
                let p = (y / scale) * width + x / scale;
                let at = ((y0 + y) * out_w + x0 + x) * 3;
                for c in 0..3 {
                    let v = image[if channels == 1 {
                        p
                    } else {
                        c * height * width + p
                    }];
                    rgb[at + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, out_w as u32, out_h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(PlotError::Encode)?;
        writer.write_image_data(&rgb).map_err(PlotError::Encode)?;
    }
    Ok(bytes)
}

/// Width, height and RGB byte count of a grid, if they fit the PNG format (32-bit sides) and
/// this machine's address space.
fn grid_size(
    rows: usize,
    columns: usize,
    height: usize,
    width: usize,
    scale: usize,
) -> Option<(usize, usize, usize)> {
    let cell_w = width.checked_mul(scale)?.checked_add(GAP)?;
    let cell_h = height.checked_mul(scale)?.checked_add(GAP)?;
    let out_w = columns.checked_mul(cell_w)?.checked_add(GAP)?;
    let out_h = rows.checked_mul(cell_h)?.checked_add(GAP)?;
    u32::try_from(out_w).ok()?;
    u32::try_from(out_h).ok()?;
    Some((out_w, out_h, out_w.checked_mul(out_h)?.checked_mul(3)?))
}

/// Writes a grid PNG atomically to `path`.
pub fn write_png(path: &Path, images: &[&[f32]], shape: GridShape) -> Result<(), PlotError> {
    Ok(write_atomically(path, &encode_png(images, shape)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_png_decodes_to_the_expected_size_and_pixels() {
        let white = vec![1.0f32; 4];
        let black = vec![0.0f32; 4];
        let shape = GridShape {
            channels: 1,
            height: 2,
            width: 2,
            columns: 2,
            scale: 3,
        };
        let bytes = encode_png(&[&white, &black, &white], shape).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2 * 8 + 2, 2 * 8 + 2));
        let px = |x: usize, y: usize| buf[(y * info.width as usize + x) * 3];
        assert_eq!(px(2, 2), 255); // first image, white
        assert_eq!(px(10, 2), 0); // second image, black
        assert_eq!(px(0, 0), 128); // gap
        assert_eq!(px(10, 12), 128); // missing fourth cell
    }

    #[test]
    fn rejects_wrong_image_sizes() {
        let shape = GridShape {
            channels: 1,
            height: 2,
            width: 2,
            columns: 1,
            scale: 1,
        };
        assert!(encode_png(&[&[0.0; 3]], shape).is_err());
    }
}
