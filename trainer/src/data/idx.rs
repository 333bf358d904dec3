//! Reading and encoding IDX files of unsigned bytes (the MNIST format): rank-3 image files and
//! rank-1 label files, raw or gzip-compressed.
//!
//! Sizes are computed with checked arithmetic from the header before anything is allocated, and
//! buffers grow only as real bytes arrive, so a header that claims billions of images costs
//! nothing. No input can make the reader panic.

use super::gzip::Source;
use super::DataError;
use std::path::Path;

/// The IDX type code for unsigned bytes.
const UBYTE: u8 = 0x08;

/// The magic number of an IDX file of unsigned bytes with the given rank.
fn magic(rank: u8) -> u32 {
    u32::from_be_bytes([0, 0, UBYTE, rank])
}

/// A stack of single-channel byte images, as stored in an IDX image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    count: usize,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
}

impl IdxImages {
    /// Wraps `pixels` (image-major, then row-major) as `count` images of `rows` x `cols`.
    ///
    /// Fails unless every dimension is non-zero, fits the IDX header's 32 bits, and
    /// `pixels.len() == count * rows * cols`.
    pub fn new(count: usize, rows: usize, cols: usize, pixels: Vec<u8>) -> Result<Self, DataError> {
        let invalid = |reason: String| DataError::InvalidImages { reason };
        for (name, dim) in [("count", count), ("rows", rows), ("cols", cols)] {
            if dim == 0 || u32::try_from(dim).is_err() {
                return Err(invalid(format!("{name} = {dim} is not in 1..=2^32-1")));
            }
        }
        let expected = count
            .checked_mul(rows)
            .and_then(|n| n.checked_mul(cols))
            .ok_or_else(|| invalid(format!("{count}x{rows}x{cols} pixels overflow")))?;
        if pixels.len() != expected {
            return Err(invalid(format!(
                "{count}x{rows}x{cols} images need {expected} pixels, got {}",
                pixels.len()
            )));
        }
        Ok(Self {
            count,
            rows,
            cols,
            pixels,
        })
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All pixels, image-major then row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Takes the pixel buffer.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// Encodes the images as an uncompressed IDX file (magic `0x00000803`).
    pub fn to_idx_bytes(&self) -> Vec<u8> {
        // `new` guarantees every dimension fits in u32.
        let dims = [self.count, self.rows, self.cols].map(|d| u32::try_from(d).unwrap_or(0));
        encode(3, &dims, &self.pixels)
    }
}

/// Encodes labels as an uncompressed IDX file (magic `0x00000801`).
pub fn encode_labels(labels: &[u8]) -> Result<Vec<u8>, DataError> {
    match u32::try_from(labels.len()) {
        Ok(count) if count > 0 => Ok(encode(1, &[count], labels)),
        _ => Err(DataError::InvalidImages {
            reason: format!("{} labels is not in 1..=2^32-1", labels.len()),
        }),
    }
}

/// Lays out an IDX header followed by the data.
fn encode(rank: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&magic(rank).to_be_bytes());
    for dim in dims {
        out.extend_from_slice(&dim.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Reads an IDX image file (rank 3, unsigned bytes), raw or gzip.
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    images(Source::open(path)?)
}

/// Parses the contents of an IDX image file (rank 3, unsigned bytes), raw or gzip, exactly as
/// [`read_images`] reads the file; errors name `path` as the file the bytes came from.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages, DataError> {
    images(Source::from_bytes(bytes, path))
}

/// Reads an IDX label file (rank 1, unsigned bytes), raw or gzip.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    read_idx::<1>(Source::open(path)?).map(|(_, labels)| labels)
}

/// Parses the contents of an IDX label file (rank 1, unsigned bytes), raw or gzip, exactly as
/// [`read_labels`] reads the file; errors name `path` as the file the bytes came from.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    read_idx::<1>(Source::from_bytes(bytes, path)).map(|(_, labels)| labels)
}

/// The first dimension (the number of images or labels) an IDX file of unsigned bytes
/// declares, read from its first 8 bytes only; `None` when the file does not start like one
/// (the full reader then names what is wrong).
pub fn declared_count(path: &Path) -> Result<Option<usize>, DataError> {
    let head = Source::open(path)?.read_up_to(8)?;
    Ok(match head[..] {
        [0, 0, UBYTE, rank, a, b, c, d] if rank > 0 => {
            usize::try_from(u32::from_be_bytes([a, b, c, d])).ok()
        }
        _ => None,
    })
}

/// Reads an image file from `src`.
fn images(src: Source<'_>) -> Result<IdxImages, DataError> {
    let ([count, rows, cols], pixels) = read_idx::<3>(src)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Reads an IDX file of unsigned bytes with rank `RANK`; returns its dimensions and data.
fn read_idx<const RANK: usize>(mut src: Source<'_>) -> Result<([usize; RANK], Vec<u8>), DataError> {
    let rank = u8::try_from(RANK).unwrap_or(u8::MAX);
    let path = src.path().to_path_buf();
    let truncated = |expected: u64, actual: u64| DataError::Truncated {
        path: path.to_path_buf(),
        expected,
        actual,
    };

    let head = src.read_up_to(4)?;
    let [b0, b1, ty, found_rank] = head[..] else {
        return Err(truncated(4, head.len() as u64));
    };
    if b0 != 0 || b1 != 0 || ty != UBYTE {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: u32::from_be_bytes([b0, b1, ty, found_rank]),
            expected: magic(rank),
        });
    }
    if found_rank != rank {
        return Err(DataError::WrongDimensions {
            path: path.to_path_buf(),
            found: found_rank,
            expected: rank,
        });
    }

    let dims_len = 4 * RANK as u64;
    let header_len = 4 + dims_len;
    let dim_bytes = src.read_up_to(dims_len)?;
    if (dim_bytes.len() as u64) < dims_len {
        return Err(truncated(header_len, 4 + dim_bytes.len() as u64));
    }
    let mut dims = [0u32; RANK];
    for (dim, bytes) in dims.iter_mut().zip(dim_bytes.chunks_exact(4)) {
        *dim = bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b));
    }
    let shape = dims.map(|d| d.to_string()).join("x");
    if dims.contains(&0) {
        return Err(DataError::ZeroDimension {
            path: path.to_path_buf(),
            dims: shape,
        });
    }
    let too_large = || DataError::TooLarge {
        path: path.to_path_buf(),
        dims: shape.clone(),
    };
    let body_len = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .filter(|&n| usize::try_from(n).is_ok() && n.checked_add(header_len).is_some())
        .ok_or_else(too_large)?;
    let mut sizes = [0usize; RANK];
    for (size, &dim) in sizes.iter_mut().zip(&dims) {
        *size = usize::try_from(dim).map_err(|_| too_large())?;
    }

    let body = src.read_up_to(body_len)?;
    let expected = header_len + body_len;
    if (body.len() as u64) < body_len {
        return Err(truncated(expected, header_len + body.len() as u64));
    }
    let extra = src.count_rest()?;
    if extra > 0 {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            extra,
        });
    }
    Ok((sizes, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inconsistent_images_are_refused() {
        for (n, r, c, len) in [(0, 1, 1, 0), (2, 2, 2, 7), (1, 1usize << 32, 1, 0)] {
            assert!(matches!(
                IdxImages::new(n, r, c, vec![0; len]),
                Err(DataError::InvalidImages { .. })
            ));
        }
        assert!(matches!(
            encode_labels(&[]),
            Err(DataError::InvalidImages { .. })
        ));
    }

    #[test]
    fn bytes_parse_raw_and_gzip() {
        let images = IdxImages::new(2, 3, 4, (0..24).collect()).unwrap();
        let labels = encode_labels(&[7, 1]).unwrap();
        let gzip = |raw: &[u8]| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            std::io::Write::write_all(&mut encoder, raw).unwrap();
            encoder.finish().unwrap()
        };
        let name = Path::new("in-memory");
        for bytes in [images.to_idx_bytes(), gzip(&images.to_idx_bytes())] {
            assert_eq!(parse_images(&bytes, name).unwrap(), images);
        }
        for bytes in [labels.clone(), gzip(&labels)] {
            assert_eq!(parse_labels(&bytes, name).unwrap(), [7, 1]);
        }
        match parse_labels(&images.to_idx_bytes(), name) {
            Err(DataError::WrongDimensions { path, .. }) => assert_eq!(path, name),
            other => panic!("expected WrongDimensions, got {other:?}"),
        }
    }

    #[test]
    fn encoding_matches_the_mnist_header_layout() {
        let bytes = IdxImages::new(1, 2, 3, vec![9; 6]).unwrap().to_idx_bytes();
        assert_eq!(
            bytes[..16],
            [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        );
        assert_eq!(encode_labels(&[4]).unwrap(), [0, 0, 8, 1, 0, 0, 0, 1, 4]);
    }
}
