//! PNG decoding for model inputs: greyscale or RGB, 1 to 16 bits, palettes expanded, alpha
//! ignored. The header's size is compared with the model's before any pixel buffer is
//! allocated, so a hostile file costs at most one image of the model's size.

use super::{to_channels, InputError};
use crate::data::ImageShape;
use std::io::Read;

/// Decodes the PNG `reader` yields into the model's `[C][H][W]` values in `[0, 1]`; `name`
/// names the input in errors.
pub fn decode_png(
    reader: impl Read,
    name: &str,
    shape: ImageShape,
) -> Result<Vec<f32>, InputError> {
    let mut decoder = png::Decoder::new(reader);
    // Palette → RGB(A), grey below 8 bits → 8 bits, tRNS → alpha; 16 bits stay 16.
    decoder.set_transformations(png::Transformations::EXPAND);
    let not_png = |source| InputError::NotPng {
        name: name.to_owned(),
        source,
    };
    let mut reader = decoder.read_info().map_err(not_png)?;
    let (width, height) = (reader.info().width as usize, reader.info().height as usize);
    super::check_size(name, (width, height), shape)?;
    check_palette(reader.info(), name)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).map_err(not_png)?;
    let samples = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        // EXPAND turns palettes into RGB(A); a frame still indexed is a decoder defect.
        png::ColorType::Indexed => {
            return Err(InputError::Channels {
                name: name.to_owned(),
                found: 0,
                expected: shape.channels,
            })
        }
    };
    let colours = if samples >= 3 { 3 } else { 1 };
    let wide = frame.bit_depth == png::BitDepth::Sixteen;
    let bytes_per_sample = if wide { 2 } else { 1 };
    let pixels = shape.height * shape.width;
    let truncated = || InputError::Truncated {
        name: name.to_owned(),
    };
    // Channel-major values of the PNG's colour channels.
    let mut values = vec![0.0f32; colours * pixels];
    for y in 0..shape.height {
        let row = buf
            .get(y * frame.line_size..(y + 1) * frame.line_size)
            .ok_or_else(truncated)?;
        for x in 0..shape.width {
            for c in 0..colours {
                let at = (x * samples + c) * bytes_per_sample;
                let b = row.get(at..at + bytes_per_sample).ok_or_else(truncated)?;
                let v = match *b {
                    [hi, lo] => f32::from(u16::from_be_bytes([hi, lo])) / 65535.0,
                    [v] => f32::from(v) / 255.0,
                    _ => return Err(truncated()),
                };
                values[c * pixels + y * shape.width + x] = v;
            }
        }
    }
    to_channels(name, values, colours, shape)
}

/// Fails unless an indexed image's palette holds 1 to 256 whole RGB entries and its
/// transparency at most one value per entry. The png crate (0.17) does not check this when it
/// reads the chunks, and its palette expansion panics on a malformed palette (found by the
/// `png` fuzz target).
fn check_palette(info: &png::Info<'_>, name: &str) -> Result<(), InputError> {
    if info.color_type != png::ColorType::Indexed {
        return Ok(());
    }
    let entries = info.palette.as_ref().map_or(0, |p| p.len());
    let transparency = info.trns.as_ref().map_or(0, |t| t.len());
    if entries == 0 || !entries.is_multiple_of(3) || entries > 3 * 256 || transparency > entries / 3
    {
        return Err(InputError::Palette {
            name: name.to_owned(),
            bytes: entries,
            transparency,
        });
    }
    Ok(())
}
