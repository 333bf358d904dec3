//! SVHN's cropped digits as their publisher distributes them: MATLAB level-5 MAT files
//! (`train_32x32.mat`, `test_32x32.mat`, optionally `extra_32x32.mat`), each holding the images
//! as a 32x32x3xN `uint8` array `X` (column-major) and the labels as an Nx1 `double` array `y`
//! (1..=10, where 10 is digit 0).
//!
//! The reader streams the file element by element: it inflates only the compressed elements that
//! turn out to hold `X` or `y`, and checks every declared size against the bytes its element can
//! hold and against the size the dimensions imply before allocating, so no input can make it
//! panic or allocate more than the 3 GB that the 1,000,000-image cap allows.

use super::{DataError, Dataset, ImageShape, Split};
use flate2::bufread::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Take, Write};
use std::path::{Path, PathBuf};

/// The training file's name.
pub const SVHN_TRAIN_FILE: &str = "train_32x32.mat";
/// The test file's name.
pub const SVHN_TEST_FILE: &str = "test_32x32.mat";
/// The name of the optional file of 531,131 extra training images.
pub const SVHN_EXTRA_FILE: &str = "extra_32x32.mat";
/// Class names: SVHN's digits, label k is digit k (`"0"`..`"9"`).
pub const SVHN_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Where SVHN comes from.
const SVHN_URL: &str = "http://ufldl.stanford.edu/housenumbers/";
/// Bytes per image: 3 channels of 32x32.
const IMAGE_BYTES: usize = 3 * 32 * 32;
/// The most images (or labels) one file may hold.
const MAX_IMAGES: usize = 1_000_000;
/// Length of the level-5 MAT header.
const HEADER_LEN: usize = 128;
/// The first bytes of a bare HDF5 file.
const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";
/// deflate never inflates by more than this factor, which bounds what a compressed element holds.
const MAX_INFLATE_RATIO: u64 = 1032;
/// More dimensions than this are not stored (such a variable cannot be `X` or `y`).
const MAX_DIMS: u32 = 32;
/// Longer names are not read (MATLAB's own limit is 63).
const MAX_NAME: u32 = 64;
/// The complex bit of the array flags.
const COMPLEX_FLAG: u32 = 0x0800;

// MAT data types.
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
// MATLAB array classes.
const MX_DOUBLE: u8 = 6;
const MX_UINT8: u8 = 9;

/// Why an SVHN file cannot be read. Every message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum SvhnError {
    /// A required file does not exist.
    #[error("{} does not exist; download it from {SVHN_URL}", path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
    },
    /// The file is a MATLAB v7.3 file, which is HDF5 rather than level 5.
    #[error(
        "{}: MATLAB v7.3 (HDF5) files are not supported; SVHN's official files are level 5 — re-save with `save -v7`",
        path.display()
    )]
    Hdf5 {
        /// The file.
        path: PathBuf,
    },
    /// The file is a big-endian MAT file.
    #[error(
        "{} is a big-endian MAT file; only little-endian MAT files are supported",
        path.display()
    )]
    BigEndian {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with a level-5 MAT header.
    #[error("{} is not a MATLAB level-5 MAT file: {reason}", path.display())]
    NotMat {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        reason: String,
    },
    /// A data element is not laid out as the MAT format prescribes.
    #[error("{} is not a valid MAT file: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file (or an inflated element) ends before the data it declares.
    #[error("{} is truncated: {what}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is cut short, and by how much.
        what: String,
    },
    /// A subelement declares more bytes than its enclosing element can hold.
    #[error(
        "{}: {what} declares {declared} bytes, more than the {available} its element can hold",
        path.display()
    )]
    Oversized {
        /// The file.
        path: PathBuf,
        /// The subelement.
        what: String,
        /// Bytes it declares.
        declared: u64,
        /// Bytes its element can hold (for a compressed element, at most what its compressed
        /// bytes can inflate to).
        available: u64,
    },
    /// A compressed element is not a valid zlib stream.
    #[error("{} holds a corrupt zlib stream", path.display())]
    Zlib {
        /// The file.
        path: PathBuf,
        /// The decompressor's complaint.
        source: io::Error,
    },
    /// The variable `X` or `y` is absent.
    #[error("{} has no variable named `{name}`", path.display())]
    MissingVariable {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
    },
    /// The variable `X` or `y` appears twice.
    #[error("{} has two variables named `{name}`", path.display())]
    DuplicateVariable {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
    },
    /// `X` is not `uint8` or `y` not `double`.
    #[error(
        "{}: variable `{name}` has MATLAB class {}, expected {expected}",
        path.display(), class_name(*class)
    )]
    WrongClass {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
        /// The class code in its array flags.
        class: u8,
        /// The class it must have.
        expected: &'static str,
    },
    /// `X` or `y` is complex.
    #[error("{}: variable `{name}` is complex, expected real", path.display())]
    Complex {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
    },
    /// `X` is not 32x32x3xN or `y` not Nx1 (or 1xN).
    #[error("{}: variable `{name}` has dimensions {dims}, expected {expected}", path.display())]
    WrongDims {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
        /// The dimensions as written, e.g. `32x32x1x5`.
        dims: String,
        /// The dimensions it must have.
        expected: &'static str,
    },
    /// The data of `X` is not stored as `miUINT8`, or that of `y` not as a numeric type.
    #[error(
        "{}: variable `{name}` stores its data as {}, expected {expected}",
        path.display(), type_name(*data_type)
    )]
    WrongDataType {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
        /// The data type of its real part.
        data_type: u32,
        /// The data types it may have.
        expected: &'static str,
    },
    /// The data of `X` or `y` has a size other than its dimensions imply.
    #[error(
        "{}: variable `{name}` has {declared} bytes of data, its dimensions need {expected}",
        path.display()
    )]
    DataSize {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
        /// Bytes declared.
        declared: u64,
        /// Bytes its dimensions and data type need.
        expected: u64,
    },
    /// `X` or `y` holds more than 1,000,000 entries.
    #[error(
        "{}: variable `{name}` declares {count} entries, more than the {MAX_IMAGES} images supported",
        path.display()
    )]
    TooManyImages {
        /// The file.
        path: PathBuf,
        /// `X` or `y`.
        name: &'static str,
        /// The count its dimensions declare.
        count: i64,
    },
    /// `X` and `y` disagree on the number of images.
    #[error("{}: `X` holds {images} images but `y` holds {labels} labels", path.display())]
    CountMismatch {
        /// The file.
        path: PathBuf,
        /// Images in `X`.
        images: usize,
        /// Labels in `y`.
        labels: usize,
    },
    /// A label is not an integer in 1..=10.
    #[error("{}: label y[{index}] = {value} is not an integer in 1..=10", path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Position of the label (0-based).
        index: usize,
        /// Its value.
        value: f64,
    },
}

/// How SVHN is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SvhnOptions {
    /// Add `extra_32x32.mat` to the training part.
    pub include_extra: bool,
}

/// One file's images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvhnImages {
    /// Pixels in channel, row, column order per image (3*32*32 bytes each).
    pub pixels: Vec<u8>,
    /// Labels 0..=9 (label 10 in the file becomes 0).
    pub labels: Vec<u8>,
}

/// Reads one SVHN MAT file (`X` and `y`, compressed or not); other variables are skipped.
pub fn read_svhn_mat(path: &Path) -> Result<SvhnImages, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SvhnError::MissingFile {
            path: path.to_path_buf(),
        }
        .into(),
        _ => io_err(source),
    })?;
    let total = file.metadata().map_err(io_err)?.len();
    read_mat(&mut BufReader::new(file), total, path)
}

/// Loads the SVHN directory `dir` as a split named `svhn` (`svhn+extra` with
/// [`SvhnOptions::include_extra`]) of 3x32x32 images with classes `"0"`..`"9"`.
pub fn load_svhn(dir: &Path, options: &SvhnOptions) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDirectory {
            path: dir.to_path_buf(),
            hint: format!(
                "; download SVHN's cropped digits ({SVHN_TRAIN_FILE}, {SVHN_TEST_FILE}, optionally \
                 {SVHN_EXTRA_FILE}) from {SVHN_URL}"
            ),
        });
    }
    let mut names = vec![SVHN_TRAIN_FILE, SVHN_TEST_FILE];
    if options.include_extra {
        names.push(SVHN_EXTRA_FILE);
    }
    // Every file is looked for before any is read, so a missing one is reported at once.
    for name in &names {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(SvhnError::MissingFile { path }.into());
        }
    }
    let mut train = read_svhn_mat(&dir.join(SVHN_TRAIN_FILE))?;
    let test = read_svhn_mat(&dir.join(SVHN_TEST_FILE))?;
    if options.include_extra {
        let extra = read_svhn_mat(&dir.join(SVHN_EXTRA_FILE))?;
        train.pixels.extend_from_slice(&extra.pixels);
        train.labels.extend_from_slice(&extra.labels);
    }
    let shape = ImageShape {
        channels: 3,
        height: 32,
        width: 32,
    };
    let classes: Vec<String> = SVHN_CLASSES.iter().map(|c| c.to_string()).collect();
    let name = if options.include_extra {
        "svhn+extra"
    } else {
        "svhn"
    };
    Ok(Split {
        name: name.to_string(),
        train: Dataset::from_bytes(&train.pixels, train.labels, shape, classes.clone())?,
        test: Dataset::from_bytes(&test.pixels, test.labels, shape, classes)?,
    })
}

/// Writes a level-5 MAT file holding `X` (32x32x3xN `uint8`) and `y` (Nx1 `double`, digit 0
/// written as 10) in SVHN's layout, each variable in a zlib-compressed element when
/// `compressed`, atomically. Equal input gives byte-identical files.
pub fn write_svhn_mat(path: &Path, images: &SvhnImages, compressed: bool) -> Result<(), DataError> {
    let bytes = encode_mat(images, compressed)?;
    crate::atomic::write_atomically(path, &bytes).map_err(|e| DataError::Write {
        path: e.path,
        source: e.source,
    })
}

/// A data element's tag.
#[derive(Debug, Clone, Copy)]
struct Tag {
    /// The data type.
    ty: u32,
    /// The data's byte count, padding excluded.
    len: u32,
    /// The data, for the small data element format.
    inline: Option<[u8; 4]>,
}

impl Tag {
    fn parse(b: [u8; 8]) -> Self {
        let word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if word >> 16 != 0 {
            Tag {
                ty: word & 0xffff,
                len: word >> 16,
                inline: Some([b[4], b[5], b[6], b[7]]),
            }
        } else {
            Tag {
                ty: word,
                len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                inline: None,
            }
        }
    }
}

/// `len` rounded up to a multiple of 8.
fn padded(len: u64) -> u64 {
    len.div_ceil(8) * 8
}

/// A variable this reader wants.
enum Variable {
    /// `X`: the image count and the pixels, already in channel, row, column order.
    Images(usize, Vec<u8>),
    /// `y`: labels 0..=9.
    Labels(Vec<u8>),
}

/// Reads a MAT file of `total` bytes from `reader`; errors name `path`.
fn read_mat<R: BufRead + Seek>(
    reader: &mut R,
    total: u64,
    path: &Path,
) -> Result<SvhnImages, DataError> {
    let path_buf = || path.to_path_buf();
    check_header(reader, path)?;
    let (mut images, mut labels) = (None, None);
    let mut offset = HEADER_LEN as u64;
    while offset < total {
        let remaining = total - offset;
        let mut raw = [0u8; 8];
        let read = if remaining < 8 {
            Err(io::ErrorKind::UnexpectedEof.into())
        } else {
            reader.read_exact(&mut raw)
        };
        match read {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let what =
                    format!("{remaining} bytes at offset {offset} cannot hold an 8-byte tag");
                return fail(SvhnError::Truncated {
                    path: path_buf(),
                    what,
                });
            }
            Err(source) => {
                return Err(DataError::Io {
                    path: path_buf(),
                    source,
                })
            }
            Ok(()) => {}
        }
        let tag = Tag::parse(raw);
        let len = u64::from(tag.len);
        let body = match (tag.inline, tag.ty) {
            (Some(_), _) => 0,
            (None, MI_COMPRESSED) => len,
            (None, _) => padded(len),
        };
        if body > remaining - 8 {
            let what = format!(
                "the element at offset {offset} needs {} bytes, {remaining} remain",
                body + 8
            );
            return fail(SvhnError::Truncated {
                path: path_buf(),
                what,
            });
        }
        let variable = match (tag.inline, tag.ty) {
            (None, MI_MATRIX) => {
                let reader = (&mut *reader).take(len);
                read_matrix(&mut Element {
                    reader,
                    path,
                    compressed: false,
                })?
            }
            (None, MI_COMPRESSED) => read_compressed((&mut *reader).take(len), path)?,
            _ => None,
        };
        offset += 8 + body;
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|source| DataError::Io {
                path: path_buf(),
                source,
            })?;
        let duplicate = |name| {
            fail(SvhnError::DuplicateVariable {
                path: path_buf(),
                name,
            })
        };
        match variable {
            Some(Variable::Images(..)) if images.is_some() => return duplicate("X"),
            Some(Variable::Labels(_)) if labels.is_some() => return duplicate("y"),
            Some(Variable::Images(count, pixels)) => images = Some((count, pixels)),
            Some(Variable::Labels(l)) => labels = Some(l),
            None => {}
        }
    }
    let missing = |name| SvhnError::MissingVariable {
        path: path_buf(),
        name,
    };
    let (count, pixels) = images.ok_or_else(|| missing("X"))?;
    let labels = labels.ok_or_else(|| missing("y"))?;
    if labels.len() != count {
        let labels = labels.len();
        return fail(SvhnError::CountMismatch {
            path: path_buf(),
            images: count,
            labels,
        });
    }
    Ok(SvhnImages { pixels, labels })
}

/// `Err(error)`, as a [`DataError`].
fn fail<T>(error: SvhnError) -> Result<T, DataError> {
    Err(error.into())
}

/// Checks the 128-byte header: level 5 (version 0x0100), little-endian.
fn check_header(reader: &mut impl Read, path: &Path) -> Result<(), DataError> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    reader
        .take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let path = path.to_path_buf();
    if header.starts_with(HDF5_SIGNATURE) || header.starts_with(b"MATLAB 7.3 MAT-file") {
        return fail(SvhnError::Hdf5 { path });
    }
    let len = header.len();
    if len < HEADER_LEN {
        return fail(if header.starts_with(b"MATLAB") {
            let what = format!("its 128-byte header has only {len} bytes");
            SvhnError::Truncated { path, what }
        } else {
            let reason = format!("{len} bytes is shorter than the 128-byte header");
            SvhnError::NotMat { path, reason }
        });
    }
    let version = [header[124], header[125]];
    fail(match &header[126..] {
        b"IM" => match u16::from_le_bytes(version) {
            0x0100 => return Ok(()),
            0x0200 => SvhnError::Hdf5 { path },
            v => {
                let reason = format!("version {v:#06x}, expected 0x0100");
                SvhnError::NotMat { path, reason }
            }
        },
        b"MI" if u16::from_be_bytes(version) == 0x0200 => SvhnError::Hdf5 { path },
        b"MI" => SvhnError::BigEndian { path },
        _ => {
            let reason = String::from("no endian indicator `IM` at bytes 126-127");
            SvhnError::NotMat { path, reason }
        }
    })
}

/// Reads the element inside a compressed element whose compressed bytes `compressed` yields;
/// only a matrix named `X` or `y` is inflated past its header.
fn read_compressed<R: BufRead>(
    compressed: Take<R>,
    path: &Path,
) -> Result<Option<Variable>, DataError> {
    // Nothing inflates to more than this, so larger declared sizes fail before allocation.
    let budget = compressed
        .limit()
        .saturating_mul(MAX_INFLATE_RATIO)
        .saturating_add(64);
    let mut decoder = ZlibDecoder::new(compressed);
    let reader = (&mut decoder).take(8);
    let tag = Element {
        reader,
        path,
        compressed: true,
    }
    .tag("the compressed element")?;
    if tag.inline.is_some() || tag.ty != MI_MATRIX {
        return Ok(None);
    }
    let reader = (&mut decoder).take(u64::from(tag.len).min(budget));
    let mut matrix = Element {
        reader,
        path,
        compressed: true,
    };
    let variable = read_matrix(&mut matrix)?;
    if variable.is_some() {
        // Inflate to the end of the stream, so that its checksum is verified.
        let rest = matrix.remaining();
        matrix.skip(rest, "the variable's padding")?;
        let mut tail = (&mut decoder).take(1 << 16);
        io::copy(&mut tail, &mut io::sink()).map_err(|e| stream_error(path, true, e))?;
    }
    Ok(variable)
}

/// A read error inside an element: an inflate error when `compressed`, else an I/O error.
fn stream_error(path: &Path, compressed: bool, source: io::Error) -> DataError {
    let path = path.to_path_buf();
    match (compressed, source.kind()) {
        (true, io::ErrorKind::UnexpectedEof) => {
            let what = String::from("a compressed element ends mid-stream");
            SvhnError::Truncated { path, what }.into()
        }
        (true, _) => SvhnError::Zlib { path, source }.into(),
        (false, _) => DataError::Io { path, source },
    }
}

/// The bytes of one element (`reader` is limited to them).
struct Element<'a, R> {
    reader: Take<R>,
    path: &'a Path,
    compressed: bool,
}

impl<R: Read> Element<'_, R> {
    fn remaining(&self) -> u64 {
        self.reader.limit()
    }

    fn malformed(&self, reason: String) -> DataError {
        SvhnError::Malformed {
            path: self.path.to_path_buf(),
            reason,
        }
        .into()
    }

    fn truncated(&self, what: &str, needed: u64, got: u64) -> DataError {
        let what = format!("{what} needs {needed} bytes, only {got} follow");
        SvhnError::Truncated {
            path: self.path.to_path_buf(),
            what,
        }
        .into()
    }

    /// Exactly `len` bytes, checked against what remains before anything is allocated.
    fn read_vec(&mut self, len: u64, what: &str) -> Result<Vec<u8>, DataError> {
        let available = self.remaining();
        let oversized = || -> DataError {
            let (path, what) = (self.path.to_path_buf(), what.to_string());
            SvhnError::Oversized {
                path,
                what,
                declared: len,
                available,
            }
            .into()
        };
        let size = usize::try_from(len).map_err(|_| oversized())?;
        if len > available {
            return Err(oversized());
        }
        let mut buf = Vec::new();
        buf.try_reserve_exact(size).map_err(|_| oversized())?;
        let (path, compressed) = (self.path, self.compressed);
        (&mut self.reader)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| stream_error(path, compressed, e))?;
        if buf.len() != size {
            return Err(self.truncated(what, len, buf.len() as u64));
        }
        Ok(buf)
    }

    fn skip(&mut self, len: u64, what: &str) -> Result<(), DataError> {
        let (path, compressed) = (self.path, self.compressed);
        let skipped = io::copy(&mut (&mut self.reader).take(len), &mut io::sink())
            .map_err(|e| stream_error(path, compressed, e))?;
        if skipped != len {
            return Err(self.truncated(what, len, skipped));
        }
        Ok(())
    }

    fn tag(&mut self, what: &str) -> Result<Tag, DataError> {
        if self.remaining() < 8 {
            return Err(self.malformed(format!("{what} has no room for its tag")));
        }
        let raw = self.read_vec(8, what)?;
        let mut bytes = [0u8; 8];
        bytes.iter_mut().zip(&raw).for_each(|(b, r)| *b = *r);
        Ok(Tag::parse(bytes))
    }

    /// The data of `tag` (inline or following it); with `pad`, the padding after it is skipped.
    fn data(&mut self, tag: &Tag, what: &str, pad: bool) -> Result<Vec<u8>, DataError> {
        let len = u64::from(tag.len);
        if let Some(bytes) = tag.inline {
            return match bytes.get(..tag.len as usize) {
                Some(data) => Ok(data.to_vec()),
                None => Err(self.malformed(format!("{what} is a small element of {len} bytes"))),
            };
        }
        let data = self.read_vec(len, what)?;
        if pad {
            let padding = (padded(len) - len).min(self.remaining());
            self.skip(padding, what)?;
        }
        Ok(data)
    }
}

/// Reads an `miMATRIX` element's header and, for `X` and `y`, their data; other variables
/// give `None` (their remaining bytes are left unread).
fn read_matrix<R: Read>(el: &mut Element<'_, R>) -> Result<Option<Variable>, DataError> {
    let tag = el.tag("a variable's array flags")?;
    if tag.ty != MI_UINT32 || tag.len != 8 {
        let ty = type_name(tag.ty);
        let reason = format!(
            "array flags are {} bytes of {ty}, expected 8 of miUINT32",
            tag.len
        );
        return Err(el.malformed(reason));
    }
    let flags = el.data(&tag, "array flags", true)?;
    let word = u32::from_le_bytes([flags[0], flags[1], flags[2], flags[3]]);
    let class = (word & 0xff) as u8;
    if !(1..=15).contains(&class) {
        // Function handles and objects lay out their elements differently: skip them.
        return Ok(None);
    }
    let tag = el.tag("a variable's dimensions")?;
    if tag.ty != MI_INT32 || tag.len % 4 != 0 || tag.len < 8 {
        let ty = type_name(tag.ty);
        let reason = format!(
            "dimensions are {} bytes of {ty}, expected 2+ miINT32",
            tag.len
        );
        return Err(el.malformed(reason));
    }
    // Dimensions beyond MAX_DIMS are skipped; the variable then matches no expected shape.
    let dims: Vec<i64> = if tag.len <= 4 * MAX_DIMS {
        let bytes = el.data(&tag, "dimensions", true)?;
        let dim = |b: &[u8]| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        bytes.chunks_exact(4).map(dim).collect()
    } else {
        el.skip(padded(u64::from(tag.len)), "dimensions")?;
        Vec::new()
    };
    let tag = el.tag("a variable's name")?;
    if tag.ty != MI_INT8 {
        return Err(el.malformed(format!("a name is {}, expected miINT8", type_name(tag.ty))));
    }
    if tag.len > MAX_NAME {
        return Ok(None);
    }
    let (name, expected_class, class_name) = match &el.data(&tag, "a variable's name", true)?[..] {
        b"X" => ("X", MX_UINT8, "uint8"),
        b"y" => ("y", MX_DOUBLE, "double"),
        _ => return Ok(None),
    };
    let path = el.path.to_path_buf();
    if class != expected_class {
        return fail(SvhnError::WrongClass {
            path,
            name,
            class,
            expected: class_name,
        });
    }
    if word & COMPLEX_FLAG != 0 {
        return fail(SvhnError::Complex { path, name });
    }
    let count = match (name, &dims[..]) {
        // MATLAB drops trailing singleton dimensions: one image is 32x32x3.
        ("X", [32, 32, 3]) => Some(1),
        ("X", [32, 32, 3, n]) | ("y", [n, 1] | [1, n]) if *n >= 1 => Some(*n),
        _ => None,
    };
    let Some(count) = count else {
        let expected = if name == "X" {
            "32x32x3xN with N >= 1"
        } else {
            "Nx1 or 1xN, N >= 1"
        };
        let dims = match dims.is_empty() {
            true => format!("of rank above {MAX_DIMS}"),
            false => dims
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("x"),
        };
        return fail(SvhnError::WrongDims {
            path,
            name,
            dims,
            expected,
        });
    };
    let count = match usize::try_from(count) {
        Ok(c) if c <= MAX_IMAGES => c,
        _ => return fail(SvhnError::TooManyImages { path, name, count }),
    };
    let what = format!("the data of `{name}`");
    let tag = el.tag(&what)?;
    let (size, expected_type) = match name {
        "X" => (Some(1).filter(|_| tag.ty == MI_UINT8), "miUINT8"),
        _ => (data_type_size(tag.ty), "a real numeric type"),
    };
    let Some(size) = size else {
        let data_type = tag.ty;
        return fail(SvhnError::WrongDataType {
            path,
            name,
            data_type,
            expected: expected_type,
        });
    };
    let per_entry = if name == "X" {
        IMAGE_BYTES as u64
    } else {
        size
    };
    let (declared, expected) = (u64::from(tag.len), count as u64 * per_entry);
    if declared != expected {
        return fail(SvhnError::DataSize {
            path,
            name,
            declared,
            expected,
        });
    }
    let mut data = el.data(&tag, &what, false)?;
    if name == "X" {
        transpose_planes(&mut data);
        return Ok(Some(Variable::Images(count, data)));
    }
    let label = |(index, bytes): (usize, &[u8])| {
        let value = decode_number(tag.ty, bytes);
        match (1u8..=10).find(|&k| f64::from(k) == value) {
            Some(k) => Ok(k % 10),
            None => fail(SvhnError::BadLabel {
                path: path.clone(),
                index,
                value,
            }),
        }
    };
    let labels = data.chunks_exact(size as usize).enumerate().map(label);
    Ok(Some(Variable::Labels(labels.collect::<Result<_, _>>()?)))
}

/// Bytes per value of a numeric data type; `None` for the others.
fn data_type_size(ty: u32) -> Option<u64> {
    match ty {
        MI_INT8 | MI_UINT8 => Some(1),
        MI_INT16 | MI_UINT16 => Some(2),
        MI_INT32 | MI_UINT32 | MI_SINGLE => Some(4),
        MI_DOUBLE | MI_INT64 | MI_UINT64 => Some(8),
        _ => None,
    }
}

/// One little-endian value of numeric type `ty` (`bytes` holds exactly its size).
fn decode_number(ty: u32, bytes: &[u8]) -> f64 {
    fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
        let mut a = [0; N];
        a.iter_mut().zip(bytes).for_each(|(d, s)| *d = *s);
        a
    }
    match ty {
        MI_INT8 => f64::from(i8::from_le_bytes(array(bytes))),
        MI_UINT8 => f64::from(u8::from_le_bytes(array(bytes))),
        MI_INT16 => f64::from(i16::from_le_bytes(array(bytes))),
        MI_UINT16 => f64::from(u16::from_le_bytes(array(bytes))),
        MI_INT32 => f64::from(i32::from_le_bytes(array(bytes))),
        MI_UINT32 => f64::from(u32::from_le_bytes(array(bytes))),
        MI_SINGLE => f64::from(f32::from_le_bytes(array(bytes))),
        MI_INT64 => i64::from_le_bytes(array(bytes)) as f64,
        MI_UINT64 => u64::from_le_bytes(array(bytes)) as f64,
        _ => f64::from_le_bytes(array(bytes)),
    }
}

/// Transposes every 32x32 plane in place: column-major (MATLAB) to row-major and back.
fn transpose_planes(pixels: &mut [u8]) {
    for plane in pixels.chunks_exact_mut(32 * 32) {
        for i in 0..32 {
            for j in i + 1..32 {
                plane.swap(i + 32 * j, j + 32 * i);
            }
        }
    }
}

/// A MATLAB class's name, for messages.
fn class_name(class: u8) -> String {
    const NAMES: [&str; 18] = [
        "0", "cell", "struct", "object", "char", "sparse", "double", "single", "int8", "uint8",
        "int16", "uint16", "int32", "uint32", "int64", "uint64", "function", "opaque",
    ];
    match NAMES.get(usize::from(class)) {
        Some(name) if class > 0 => (*name).to_string(),
        _ => format!("code {class}"),
    }
}

/// A MAT data type's name, for messages.
fn type_name(ty: u32) -> String {
    const NAMES: [&str; 19] = [
        "",
        "miINT8",
        "miUINT8",
        "miINT16",
        "miUINT16",
        "miINT32",
        "miUINT32",
        "miSINGLE",
        "",
        "miDOUBLE",
        "",
        "",
        "miINT64",
        "miUINT64",
        "miMATRIX",
        "miCOMPRESSED",
        "miUTF8",
        "miUTF16",
        "miUTF32",
    ];
    match usize::try_from(ty).ok().and_then(|t| NAMES.get(t)) {
        Some(name) if !name.is_empty() => (*name).to_string(),
        _ => format!("data type {ty}"),
    }
}

/// Appends a tag in the normal format.
fn push_tag(out: &mut Vec<u8>, ty: u32, len: u32) {
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

/// Pads `out` with zeros to a multiple of 8 bytes.
fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(8) * 8, 0);
}

/// The fixed 128-byte header of the files this module writes.
fn mat_header() -> Vec<u8> {
    let mut header = b"MATLAB 5.0 MAT-file, written by gmvae-trainer in SVHN's layout".to_vec();
    header.resize(116, b' ');
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&0x0100u16.to_le_bytes());
    header.extend_from_slice(b"IM");
    header
}

/// A complete `miMATRIX` element: array flags `flags`, dimensions, name, real data.
fn matrix_element(flags: u32, dims: &[u32], name: &[u8], ty: u32, data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    body.try_reserve_exact(data.len().checked_add(64 + name.len() + 4 * dims.len())?)
        .ok()?;
    push_tag(&mut body, MI_UINT32, 8);
    body.extend_from_slice(&flags.to_le_bytes());
    body.extend_from_slice(&[0; 4]);
    push_tag(&mut body, MI_INT32, u32::try_from(4 * dims.len()).ok()?);
    dims.iter()
        .for_each(|d| body.extend_from_slice(&d.to_le_bytes()));
    pad(&mut body);
    if name.len() <= 4 {
        let word = (u32::try_from(name.len()).ok()? << 16) | MI_INT8;
        body.extend_from_slice(&word.to_le_bytes());
        body.extend_from_slice(name);
    } else {
        push_tag(&mut body, MI_INT8, u32::try_from(name.len()).ok()?);
        body.extend_from_slice(name);
    }
    pad(&mut body);
    push_tag(&mut body, ty, u32::try_from(data.len()).ok()?);
    body.extend_from_slice(data);
    pad(&mut body);
    let mut element = Vec::with_capacity(body.len() + 8);
    push_tag(&mut element, MI_MATRIX, u32::try_from(body.len()).ok()?);
    element.extend_from_slice(&body);
    Some(element)
}

/// `element` as an `miCOMPRESSED` element.
fn compress_element(element: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(element)?;
    let zlib = encoder.finish()?;
    let len = u32::try_from(zlib.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "compressed variable exceeds 4 GiB",
        )
    })?;
    let mut out = Vec::with_capacity(zlib.len() + 8);
    push_tag(&mut out, MI_COMPRESSED, len);
    out.extend_from_slice(&zlib);
    Ok(out)
}

/// The bytes of the MAT file [`write_svhn_mat`] writes.
fn encode_mat(images: &SvhnImages, compressed: bool) -> Result<Vec<u8>, DataError> {
    let invalid = |reason: String| DataError::InvalidImages { reason };
    let count = images.labels.len();
    if count == 0 || count > MAX_IMAGES {
        return Err(invalid(format!(
            "{count} SVHN images is not in 1..={MAX_IMAGES}"
        )));
    }
    if images.pixels.len() != count * IMAGE_BYTES {
        return Err(invalid(format!(
            "{count} SVHN images need {} pixels, got {}",
            count * IMAGE_BYTES,
            images.pixels.len()
        )));
    }
    if let Some((index, label)) = images.labels.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(invalid(format!(
            "SVHN label {label} at index {index} is not a digit"
        )));
    }
    let mut x_data = images.pixels.clone();
    transpose_planes(&mut x_data);
    let y_data: Vec<u8> = images
        .labels
        .iter()
        .flat_map(|&l| f64::from(if l == 0 { 10 } else { l }).to_le_bytes())
        .collect();
    // count <= MAX_IMAGES, so every size below fits in u32.
    let n = count as u32;
    let too_large = || invalid(format!("{count} SVHN images are too large for a MAT file"));
    let x = matrix_element(
        u32::from(MX_UINT8),
        &[32, 32, 3, n],
        b"X",
        MI_UINT8,
        &x_data,
    )
    .ok_or_else(too_large)?;
    drop(x_data);
    let y = matrix_element(u32::from(MX_DOUBLE), &[n, 1], b"y", MI_DOUBLE, &y_data)
        .ok_or_else(too_large)?;
    let mut out = mat_header();
    for element in [x, y] {
        if compressed {
            out.extend_from_slice(&compress_element(&element).map_err(|e| invalid(e.to_string()))?);
        } else {
            out.extend_from_slice(&element);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Parses `bytes` as the contents of `t.mat`.
    fn parse(bytes: &[u8]) -> Result<SvhnImages, DataError> {
        read_mat(
            &mut io::Cursor::new(bytes),
            bytes.len() as u64,
            Path::new("t.mat"),
        )
    }

    /// The `SvhnError` that parsing `bytes` gives, checked to be the variant `variant` with a
    /// one-line message naming the file.
    fn fails(bytes: &[u8], variant: &str) -> SvhnError {
        match parse(bytes) {
            Err(DataError::Svhn(e)) => {
                let message = e.to_string();
                assert!(
                    message.contains("t.mat") && !message.contains('\n'),
                    "{message}"
                );
                assert!(
                    format!("{e:?}").starts_with(&format!("{variant} ")),
                    "{e:?}"
                );
                e
            }
            other => panic!("expected an SvhnError, got {other:?}"),
        }
    }

    /// `count` images with pixels that differ from their neighbours, labels cycling 0..=9.
    fn sample(count: usize) -> SvhnImages {
        SvhnImages {
            pixels: (0..count * IMAGE_BYTES)
                .map(|i| (i * 7 + i / 251) as u8)
                .collect(),
            labels: (0..count).map(|i| (i % 10) as u8).collect(),
        }
    }

    /// A MAT file of `elements`, each compressed when `compressed`.
    fn mat(elements: &[Vec<u8>], compressed: bool) -> Vec<u8> {
        let mut out = mat_header();
        for element in elements {
            match compressed {
                true => out.extend(compress_element(element).unwrap()),
                false => out.extend(element),
            }
        }
        out
    }

    fn x_element(dims: &[u32], data: &[u8]) -> Vec<u8> {
        matrix_element(9, dims, b"X", MI_UINT8, data).unwrap()
    }

    /// One blank image.
    fn x1() -> Vec<u8> {
        x_element(&[32, 32, 3, 1], &[0; IMAGE_BYTES])
    }

    fn y_element(values: &[f64]) -> Vec<u8> {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        matrix_element(6, &[values.len() as u32, 1], b"y", MI_DOUBLE, &data).unwrap()
    }

    fn tag(ty: u32, len: u32) -> Vec<u8> {
        let mut out = Vec::new();
        push_tag(&mut out, ty, len);
        out
    }

    #[test]
    fn column_major_planes_become_channel_row_column() {
        // Two images, all zero but (n, c, i, j) = (1, 2, 3, 17) and (0, 0, 31, 0).
        let mut data = vec![0u8; 2 * IMAGE_BYTES];
        data[3 + 32 * 17 + 1024 * 2 + 3072] = 200;
        data[31] = 99;
        let x = x_element(&[32, 32, 3, 2], &data);
        for compressed in [false, true] {
            let images = parse(&mat(&[x.clone(), y_element(&[1.0, 2.0])], compressed)).unwrap();
            assert_eq!(images.pixels[3072 + 2 * 1024 + 3 * 32 + 17], 200);
            assert_eq!(images.pixels[31 * 32], 99);
            assert_eq!(images.pixels.iter().filter(|&&p| p != 0).count(), 2);
            assert_eq!(images.labels, [1, 2]);
        }
    }

    #[test]
    fn written_files_round_trip_deterministically() {
        let dir = tempfile::TempDir::new().unwrap();
        let images = sample(3);
        for compressed in [false, true] {
            let path = dir.path().join(format!("c{compressed}.mat"));
            write_svhn_mat(&path, &images, compressed).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(read_svhn_mat(&path).unwrap(), images);
            write_svhn_mat(&path, &images, compressed).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
            if !compressed {
                // X's data starts at 192; pixel (2, 1, 5, 30) is stored column-major.
                let (n, c, i, j) = (2, 1, 5, 30);
                let stored = bytes[192 + i + 32 * j + 1024 * c + 3072 * n];
                assert_eq!(stored, images.pixels[n * 3072 + c * 1024 + i * 32 + j]);
                // y comes last: label 0 of image 0 is stored as the double 10.
                let y = [10.0f64, 1.0, 2.0].map(f64::to_le_bytes).concat();
                assert_eq!(bytes[bytes.len() - 24..], y);
            }
        }
        let empty = SvhnImages {
            pixels: vec![],
            labels: vec![],
        };
        assert!(write_svhn_mat(&dir.path().join("e.mat"), &empty, false).is_err());
        let bad = SvhnImages {
            pixels: vec![0; IMAGE_BYTES],
            labels: vec![10],
        };
        assert!(write_svhn_mat(&dir.path().join("b.mat"), &bad, false).is_err());
    }

    #[test]
    fn y_stored_as_any_integer_type_or_single_is_accepted() {
        let x = x_element(&[32, 32, 3, 3], &[0; 3 * IMAGE_BYTES]);
        // By hand: y as 3 bytes of miUINT8 in the small data element format.
        let mut body = [tag(MI_UINT32, 8), vec![6, 0, 0, 0, 0, 0, 0, 0]].concat();
        body.extend([tag(MI_INT32, 8), vec![3, 0, 0, 0, 1, 0, 0, 0]].concat());
        body.extend([1, 0, 1, 0, b'y', 0, 0, 0]);
        body.extend([2, 0, 3, 0, 10, 3, 7, 0]);
        let y = [tag(MI_MATRIX, body.len() as u32), body].concat();
        for compressed in [false, true] {
            let images = parse(&mat(&[x.clone(), y.clone()], compressed)).unwrap();
            assert_eq!(images.labels, [0, 3, 7]);
        }
        let x5 = x_element(&[32, 32, 3, 5], &[0; 5 * IMAGE_BYTES]);
        for ty in [1, 2, 3, 4, 5, 6, 7, 9, 12, 13] {
            let size = data_type_size(ty).unwrap() as usize;
            let data: Vec<u8> = [10u8, 3, 7, 1, 9]
                .iter()
                .flat_map(|&v| match ty {
                    MI_SINGLE => f32::from(v).to_le_bytes().to_vec(),
                    MI_DOUBLE => f64::from(v).to_le_bytes().to_vec(),
                    _ => [vec![v], vec![0; size - 1]].concat(),
                })
                .collect();
            let y = matrix_element(6, &[1, 5], b"y", ty, &data).unwrap();
            let images = parse(&mat(&[x5.clone(), y], false)).unwrap();
            assert_eq!(images.labels, [0, 3, 7, 1, 9], "{}", type_name(ty));
        }
    }

    #[test]
    fn unrelated_variables_and_elements_are_skipped() {
        let one = 1.0f64.to_le_bytes();
        let elements = [
            matrix_element(6, &[1, 1], b"junk", MI_DOUBLE, &one).unwrap(),
            matrix_element(6, &[1, 1], b"x", MI_DOUBLE, &one).unwrap(),
            x_element(&[32, 32, 3, 1], &[7; IMAGE_BYTES]),
            matrix_element(9, &[1, 3], &[b'v'; 70], MI_UINT8, &[1, 2, 3]).unwrap(),
            matrix_element(17, &[1, 1], b"__function_workspace__", MI_UINT8, &[0]).unwrap(),
            [tag(MI_UINT8, 5), vec![1, 2, 3, 4, 5, 0, 0, 0]].concat(),
            y_element(&[4.0]),
            matrix_element(6, &[40, 1], b"y_extra", MI_DOUBLE, &[0; 320]).unwrap(),
        ];
        for compressed in [false, true] {
            let images = parse(&mat(&elements, compressed)).unwrap();
            assert_eq!(
                (images.pixels, images.labels),
                (vec![7; IMAGE_BYTES], vec![4])
            );
        }
    }

    #[test]
    fn v73_hdf5_and_non_mat_files_are_refused() {
        let mut v73 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon".to_vec();
        v73.resize(512, 0);
        assert!(fails(&v73, "Hdf5")
            .to_string()
            .contains("re-save with `save -v7`"));
        let mut v2 = mat_header();
        v2[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
        fails(&v2, "Hdf5");
        fails(&[HDF5_SIGNATURE, &[0; 200]].concat(), "Hdf5");
        for bytes in [&b""[..], b"hello", &[b'a'; 300], &[0; 128]] {
            fails(bytes, "NotMat");
        }
        let mut version = mat_header();
        version[124] = 7;
        fails(&version, "NotMat");
        let mut big = mat_header();
        big[124..].copy_from_slice(b"\x01\x00MI");
        fails(&big, "BigEndian");
    }

    #[test]
    fn every_truncation_fails() {
        for compressed in [false, true] {
            let bytes = encode_mat(&sample(2), compressed).unwrap();
            assert!(parse(&bytes).is_ok());
            for cut in 0..bytes.len() {
                assert!(
                    parse(&bytes[..cut]).is_err(),
                    "cut at {cut} of {}",
                    bytes.len()
                );
            }
        }
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("cut.mat");
        let bytes = encode_mat(&sample(1), true).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_svhn_mat(&path).unwrap_err().to_string();
        assert!(e.contains("cut.mat") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn wrong_dims_class_or_type_are_refused() {
        let y = y_element(&[1.0]);
        let dims: [&[u32]; 5] = [
            &[32, 32, 1, 3],
            &[28, 28, 3, 1],
            &[32, 32, 3, 1, 2],
            &[3072, 1],
            &[32, 32, 3, 0],
        ];
        for dims in dims {
            let x = x_element(dims, &[0; IMAGE_BYTES]);
            fails(&mat(&[x, y.clone()], false), "WrongDims");
        }
        let y22 = matrix_element(6, &[2, 2], b"y", MI_DOUBLE, &[0; 32]).unwrap();
        fails(&mat(&[x1(), y22], false), "WrongDims");
        let mut double_x = x1();
        double_x[16] = MX_DOUBLE;
        let e = fails(&mat(&[double_x, y.clone()], false), "WrongClass");
        assert!(
            e.to_string().contains("class double, expected uint8"),
            "{e}"
        );
        let int8_x = matrix_element(9, &[32, 32, 3, 1], b"X", MI_INT8, &[0; IMAGE_BYTES]).unwrap();
        fails(&mat(&[int8_x, y.clone()], true), "WrongDataType");
        let utf8_y = matrix_element(6, &[1, 1], b"y", 16, &[1]).unwrap();
        fails(&mat(&[x1(), utf8_y], false), "WrongDataType");
        let short_x = x_element(&[32, 32, 3, 2], &[0; IMAGE_BYTES]);
        fails(&mat(&[short_x, y.clone()], false), "DataSize");
        let mut complex = x1();
        complex[17] = 0x08;
        fails(&mat(&[complex, y], false), "Complex");
    }

    #[test]
    fn labels_and_counts_are_checked() {
        let x = x_element(&[32, 32, 3, 2], &[0; 2 * IMAGE_BYTES]);
        let cases = [
            ([1.0, 0.0], 1, 0.0),
            ([11.0, 1.0], 0, 11.0),
            ([2.5, 1.0], 0, 2.5),
        ];
        for (values, index, value) in cases {
            match fails(&mat(&[x.clone(), y_element(&values)], false), "BadLabel") {
                SvhnError::BadLabel {
                    index: i, value: v, ..
                } => assert_eq!((i, v), (index, value)),
                other => panic!("{other}"),
            }
        }
        fails(
            &mat(&[x.clone(), y_element(&[1.0, f64::NAN])], false),
            "BadLabel",
        );
        let e = fails(
            &mat(&[x.clone(), y_element(&[1.0; 3])], true),
            "CountMismatch",
        );
        assert!(
            e.to_string().contains("2 images but `y` holds 3 labels"),
            "{e}"
        );
        let e = fails(&mat(std::slice::from_ref(&x), false), "MissingVariable");
        assert!(e.to_string().contains("`y`"), "{e}");
        fails(&mat(&[y_element(&[1.0])], false), "MissingVariable");
        fails(
            &mat(&[x.clone(), x, y_element(&[1.0; 2])], false),
            "DuplicateVariable",
        );
    }

    #[test]
    fn huge_declared_sizes_fail_before_allocating() {
        let start = Instant::now();
        let y = y_element(&[1.0]);
        // X claims 999,999 images and a data element to match, but holds 16 bytes.
        let mut body = [tag(MI_UINT32, 8), vec![9, 0, 0, 0, 0, 0, 0, 0]].concat();
        body.extend(tag(MI_INT32, 16));
        [32u32, 32, 3, 999_999]
            .iter()
            .for_each(|d| body.extend(d.to_le_bytes()));
        body.extend([1, 0, 1, 0, b'X', 0, 0, 0]);
        body.extend(tag(MI_UINT8, 3072 * 999_999));
        body.extend([0; 16]);
        for declared in [body.len() as u32, u32::MAX - 7] {
            let x = [tag(MI_MATRIX, declared), body.clone()].concat();
            let e = fails(&mat(&[x.clone(), y.clone()], true), "Oversized");
            assert!(matches!(
                e,
                SvhnError::Oversized {
                    declared: 3_071_996_928,
                    ..
                }
            ));
            let honest = declared == body.len() as u32;
            fails(
                &mat(&[x, y.clone()], false),
                if honest { "Oversized" } else { "Truncated" },
            );
        }
        for n in [2_000_000, i32::MAX as u32] {
            let x = x_element(&[32, 32, 3, n], &[0; 8]);
            fails(&mat(&[x, y.clone()], false), "TooManyImages");
        }
        fails(
            &[mat_header(), tag(MI_COMPRESSED, u32::MAX)].concat(),
            "Truncated",
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn corrupt_zlib_streams_are_refused() {
        let bytes = encode_mat(&sample(2), true).unwrap();
        // X's compressed element starts at 128; its zlib stream at 136.
        let mut header = bytes.clone();
        header[136..138].copy_from_slice(&[0xff, 0xff]);
        fails(&header, "Zlib");
        let len = u32::from_le_bytes([bytes[132], bytes[133], bytes[134], bytes[135]]) as usize;
        for at in [136 + len / 2, 136 + len - 2] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x55;
            assert!(parse(&flipped).is_err(), "flip at {at}");
        }
        let mut garbage = bytes;
        garbage[136..136 + len].fill(0xff);
        fails(&garbage, "Zlib");
        // A stored (uncompressed) deflate block inflates fine when a pixel is flipped: only the
        // stream's Adler-32 checksum tells.
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::none());
        encoder
            .write_all(&x_element(&[32, 32, 3, 1], &[9; IMAGE_BYTES]))
            .unwrap();
        let zlib = encoder.finish().unwrap();
        let y = y_element(&[1.0]);
        let mut stored = [mat_header(), tag(MI_COMPRESSED, zlib.len() as u32), zlib, y].concat();
        assert!(parse(&stored).is_ok());
        stored[136 + 200] ^= 1;
        fails(&stored, "Zlib");
    }

    #[test]
    fn load_svhn_reads_train_test_and_extra() {
        let dir = tempfile::TempDir::new().unwrap();
        let (train, test) = (sample(5), sample(3));
        write_svhn_mat(&dir.path().join(SVHN_TRAIN_FILE), &train, true).unwrap();
        let options = SvhnOptions::default();
        let e = load_svhn(dir.path(), &options).unwrap_err().to_string();
        assert!(e.contains(SVHN_TEST_FILE) && e.contains(SVHN_URL), "{e}");
        write_svhn_mat(&dir.path().join(SVHN_TEST_FILE), &test, false).unwrap();
        let split = load_svhn(dir.path(), &options).unwrap();
        assert_eq!(split.name, "svhn");
        assert_eq!((split.train.len(), split.test.len()), (5, 3));
        assert_eq!(split.train.shape.to_string(), "3x32x32");
        assert_eq!(split.train.class_names, SVHN_CLASSES);
        assert_eq!(split.train.class_counts(), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
        assert_eq!(split.test.class_counts(), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        let pixel = test.pixels[2 * IMAGE_BYTES + 100];
        assert_eq!(split.test.image(2)[100], f32::from(pixel) / 255.0);

        let extra = SvhnOptions {
            include_extra: true,
        };
        match load_svhn(dir.path(), &extra) {
            Err(DataError::Svhn(SvhnError::MissingFile { path })) => {
                assert!(path.ends_with(SVHN_EXTRA_FILE));
            }
            other => panic!("expected MissingFile, got {other:?}"),
        }
        write_svhn_mat(&dir.path().join(SVHN_EXTRA_FILE), &sample(2), true).unwrap();
        let split = load_svhn(dir.path(), &extra).unwrap();
        assert_eq!((split.name.as_str(), split.train.len()), ("svhn+extra", 7));
        assert_eq!(split.train.labels.to_vec(), [0, 1, 2, 3, 4, 0, 1]);

        match load_svhn(&dir.path().join("absent"), &options) {
            Err(e @ DataError::MissingDirectory { .. }) => {
                let message = e.to_string();
                assert!(message.contains(SVHN_URL) && message.contains(SVHN_TRAIN_FILE));
            }
            other => panic!("expected MissingDirectory, got {other:?}"),
        }
    }
}
