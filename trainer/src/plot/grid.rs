//! PNG grids of images (grayscale or RGB), e.g. class means decoded, samples, or inputs beside
//! their reconstructions.

use crate::atomic::write_atomically;
use anyhow::{ensure, Context, Result};
use std::path::Path;

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
pub fn encode_png(images: &[&[f32]], shape: GridShape) -> Result<Vec<u8>> {
    let GridShape {
        channels,
        height,
        width,
        columns,
        scale,
    } = shape;
    ensure!(
        channels == 1 || channels == 3,
        "cannot draw {channels}-channel images"
    );
    ensure!(columns > 0 && scale > 0, "grid needs columns and scale > 0");
    let pixels = channels * height * width;
    ensure!(
        images.iter().all(|im| im.len() == pixels),
        "every image must have {pixels} values"
    );
    let rows = images.len().div_ceil(columns).max(1);
    let cell_w = width * scale + GAP;
    let cell_h = height * scale + GAP;
    let (out_w, out_h) = (columns * cell_w + GAP, rows * cell_h + GAP);
    let mut rgb = vec![128u8; out_w * out_h * 3];
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
        let mut writer = encoder.write_header().context("PNG header")?;
        writer.write_image_data(&rgb).context("PNG data")?;
    }
    Ok(bytes)
}

/// Writes a grid PNG atomically to `path`.
pub fn write_png(path: &Path, images: &[&[f32]], shape: GridShape) -> Result<()> {
    write_atomically(path, &encode_png(images, shape)?)
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
