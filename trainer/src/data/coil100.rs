//! COIL-100 as its publisher distributes it: a folder of `obj{1..100}__{0..355}.png`.
//!
//! Columbia's `coil-100.zip` unpacks to `coil-100/`, holding 7,200 images
//! `obj<k>__<angle>.png` (object `k` in 1..=100, angle in degrees, 0 to 355 in steps of 5), each
//! 128×128 8-bit RGB, next to files that are not images (`convertGroupppm2png.pl`), which are
//! ignored. Object `k` becomes class `k - 1`, named `obj<k>`.
//!
//! Any complete grid is read: objects 1..=K (K ≥ 2, at most 100), each with the same angles as
//! object 1. A name that looks like a COIL image (`obj`, a digit, …, `.png`) but is not one is an
//! error, as are a gap in the grid, an image that is not 8-bit RGB (RGBA loses its alpha) and
//! images of different or unusable sizes. Every header is checked before its pixels are decoded.
//!
//! Images may be shrunk by an exact factor, each output value the rounded integer mean of its
//! block. The split is seeded and stratified by object: each object's views are shuffled by one
//! [`seeded_rng`] stream, objects in order, and the first `round(views * test_fraction)` go to
//! test (at least one, and at least one left for training). Both parts list images object by
//! object, angles ascending.

use super::stratify::{seeded_rng, shuffle};
use super::{DataError, Dataset, ImageShape, Split};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Default share of each object's views held out for testing.
pub const DEFAULT_TEST_FRACTION: f64 = 0.25;
/// Default seed of the split.
pub const DEFAULT_SPLIT_SEED: u64 = 2019;
/// The official source side in pixels.
pub const COIL100_SIDE: usize = 128;

/// Objects in the official set, the most accepted.
const MAX_OBJECTS: usize = 100;
/// Degrees between consecutive views.
const ANGLE_STEP: u32 = 5;
/// The last view's angle.
const MAX_ANGLE: u32 = 355;
/// The largest image side accepted, in pixels.
const MAX_SIDE: usize = 1024;
/// Bytes the PNG decoder may allocate for itself (row buffers, ancillary chunks) per image.
const DECODER_BYTES: usize = 1 << 24;
/// Colour channels of every image.
const CHANNELS: usize = 3;
/// The stem of every split name.
const NAME: &str = "coil100";
/// Appended to the message when the folder is missing.
const HINT: &str = "; COIL-100 comes from https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php: unzip coil-100.zip and pass its coil-100 folder";

/// Why a COIL-100 folder cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Coil100Error {
    /// The share of views to hold out is not strictly between 0 and 1.
    #[error("test fraction {fraction} is not strictly between 0 and 1")]
    TestFraction {
        /// The share asked for.
        fraction: f64,
    },
    /// The requested image size is not a positive multiple of 4 of at most 1024 pixels.
    #[error("image size {size} is not a positive multiple of 4 of at most {MAX_SIDE} pixels")]
    ImageSize {
        /// The side asked for.
        size: usize,
    },
    /// The requested image size does not divide the source images' side.
    #[error(
        "image size {size} does not divide the {side}-pixel side of {}",
        path.display()
    )]
    ImageSizeNotDivisor {
        /// The side asked for.
        size: usize,
        /// The source images' side.
        side: usize,
        /// The image whose side was read.
        path: PathBuf,
    },
    /// A file is named like a COIL image but its name is not a valid one.
    #[error("{}: {reason}", path.display())]
    BadName {
        /// The file.
        path: PathBuf,
        /// What is wrong with the name.
        reason: String,
    },
    /// The folder holds no `obj<k>__<angle>.png` file.
    #[error("{} holds no COIL-100 image obj<object>__<angle>.png", dir.display())]
    NoImages {
        /// The folder.
        dir: PathBuf,
    },
    /// An object number below the highest one has no image.
    #[error(
        "{} holds objects up to {objects} but none numbered {object}: {} is missing",
        dir.display(),
        missing.display()
    )]
    MissingObject {
        /// The folder.
        dir: PathBuf,
        /// The missing object number.
        object: usize,
        /// The highest object number found.
        objects: usize,
        /// The first file that object would have.
        missing: PathBuf,
    },
    /// Only object 1 is present.
    #[error("{} holds a single COIL-100 object; at least 2 are needed", dir.display())]
    TooFewObjects {
        /// The folder.
        dir: PathBuf,
    },
    /// Two objects have different sets of angles.
    #[error(
        "object {object} has {views} views, object {reference} has {reference_views}: {} is missing",
        missing.display()
    )]
    MissingView {
        /// The object lacking a view.
        object: usize,
        /// Its views.
        views: usize,
        /// The object having that view.
        reference: usize,
        /// Its views.
        reference_views: usize,
        /// The first missing file.
        missing: PathBuf,
    },
    /// Each object has fewer than two views, so none can be both trained and tested on.
    #[error(
        "{}: each object has {views} view, too few to split into training and test",
        dir.display()
    )]
    TooFewViews {
        /// The folder.
        dir: PathBuf,
        /// Views per object.
        views: usize,
    },
    /// The first image's size cannot be a COIL-100 size.
    #[error(
        "{} is {width}x{height}: COIL-100 images must be square with a side that is a multiple of 4 of at most {MAX_SIDE}",
        path.display()
    )]
    SourceSize {
        /// The image.
        path: PathBuf,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// An image's size differs from the first image's.
    #[error(
        "{} is {width}x{height} but {} is {side}x{side}",
        path.display(),
        first.display()
    )]
    SizeMismatch {
        /// The image.
        path: PathBuf,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The first image, whose size all must have.
        first: PathBuf,
        /// Its side.
        side: usize,
    },
    /// An image is not 8-bit RGB or RGBA.
    #[error("{} is {found}, not 8-bit RGB", path.display())]
    Colour {
        /// The image.
        path: PathBuf,
        /// What it is, e.g. `8-bit greyscale`.
        found: String,
    },
    /// An image does not decode.
    #[error("{} is not a valid PNG", path.display())]
    Png {
        /// The image.
        path: PathBuf,
        /// The decoder's complaint.
        #[source]
        source: png::DecodingError,
    },
    /// The images need more memory than can be allocated.
    #[error(
        "{}: {images} images of {side}x{side} RGB need {bytes} bytes, more than can be allocated",
        dir.display()
    )]
    TooLarge {
        /// The folder.
        dir: PathBuf,
        /// Images to load.
        images: usize,
        /// Their side after downscaling.
        side: usize,
        /// Bytes needed (saturating).
        bytes: usize,
    },
}

/// How to load COIL-100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coil100Options {
    /// Side of the loaded images: `None` for the source side; otherwise a multiple of 4 that
    /// divides it, each output pixel the mean of a block of source pixels.
    pub image_size: Option<usize>,
    /// Share of each object's views held out for testing, strictly between 0 and 1.
    pub test_fraction: f64,
    /// Seed of the split's random stream.
    pub seed: u64,
}

impl Default for Coil100Options {
    /// Source size, [`DEFAULT_TEST_FRACTION`], [`DEFAULT_SPLIT_SEED`].
    fn default() -> Self {
        Self {
            image_size: None,
            test_fraction: DEFAULT_TEST_FRACTION,
            seed: DEFAULT_SPLIT_SEED,
        }
    }
}

/// What was found, besides the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coil100Summary {
    /// Objects (classes) found: 100 in the official set.
    pub objects: usize,
    /// Views per object: 72 in the official set.
    pub views: usize,
    /// Side of the source images: [`COIL100_SIDE`] in the official set.
    pub source_side: usize,
    /// Side of the loaded images.
    pub image_side: usize,
}

/// Loads `dir`: a [`Split`] named `coil100` when `image_size` is the source size,
/// `coil100-<side>` otherwise, and with `-test<fraction>-seed<seed>` appended when the split
/// options are not the defaults (e.g. `coil100-32-test0.5-seed7`), so the name identifies the
/// split exactly.
///
/// Images are 3×side×side in channel, row, column order; labels are object numbers minus one.
/// The options are checked first (the test fraction before anything else), the image size
/// against the first image's header before any pixels are decoded.
pub fn load_coil100(
    dir: &Path,
    options: &Coil100Options,
) -> Result<(Split, Coil100Summary), DataError> {
    let fraction = options.test_fraction;
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Coil100Error::TestFraction { fraction }.into());
    }
    if let Some(size) = options.image_size {
        if !valid_side(size) {
            return Err(Coil100Error::ImageSize { size }.into());
        }
    }
    if !dir.is_dir() {
        return Err(DataError::MissingDirectory {
            path: dir.to_path_buf(),
            hint: HINT.to_string(),
        });
    }
    let grid = scan(dir)?;
    let views = grid.angles.len();
    let test_views = test_count(dir, views, fraction)?;
    let first = grid.path(dir, 0, 0);
    let source_side = first_side(&first)?;
    let image_side = options.image_size.unwrap_or(source_side);
    if !source_side.is_multiple_of(image_side) {
        return Err(Coil100Error::ImageSizeNotDivisor {
            size: image_side,
            side: source_side,
            path: first,
        }
        .into());
    }

    let (train, test) = split_views(grid.objects, views, test_views, options.seed);
    let order: Vec<View> = train.iter().chain(&test).copied().collect();
    let per_image = CHANNELS * image_side * image_side;
    let mut pixels = allocate(dir, order.len(), image_side, per_image)?;
    let source = Source {
        first: &first,
        side: source_side,
        out_side: image_side,
    };
    let failure = pixels
        .par_chunks_mut(per_image)
        .zip(order.par_iter())
        .filter_map(|(out, &(object, view))| {
            decode_into(&grid.path(dir, object, view), &source, out)
                .err()
                .map(|e| (object * views + view, e))
        })
        .min_by_key(|&(index, _)| index);
    if let Some((_, error)) = failure {
        return Err(error);
    }

    let (train_pixels, test_pixels) = pixels.split_at(train.len() * per_image);
    let class_names: Vec<String> = (1..=grid.objects).map(|k| format!("obj{k}")).collect();
    let shape = ImageShape {
        channels: CHANNELS,
        height: image_side,
        width: image_side,
    };
    let labels = |part: &[View]| -> Vec<u8> {
        part.iter()
            .map(|&(object, _)| u8::try_from(object).unwrap_or(u8::MAX))
            .collect()
    };
    let size = (image_side != source_side).then_some(image_side);
    let split = Split {
        name: split_name(size, fraction, options.seed),
        train: Dataset::from_bytes(train_pixels, labels(&train), shape, class_names.clone())?,
        test: Dataset::from_bytes(test_pixels, labels(&test), shape, class_names)?,
    };
    let summary = Coil100Summary {
        objects: grid.objects,
        views,
        source_side,
        image_side,
    };
    Ok((split, summary))
}

/// Parses a Split name made by load_coil100 back into options (None if it is not one), so a
/// model that records its dataset name can reload the same split.
///
/// Only names in the exact form [`load_coil100`] writes are accepted; `coil100-<side>` gives
/// `image_size: Some(side)`, plain `coil100` gives `None`.
pub fn options_from_name(name: &str) -> Option<Coil100Options> {
    let rest = name.strip_prefix(NAME)?;
    let (image_size, rest) = match rest.strip_prefix('-') {
        Some(sized) if sized.starts_with(|c: char| c.is_ascii_digit()) => {
            let (side, rest) = sized.split_at(sized.find('-').unwrap_or(sized.len()));
            (Some(side.parse::<usize>().ok()?), rest)
        }
        _ => (None, rest),
    };
    let (test_fraction, seed) = if rest.is_empty() {
        (DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED)
    } else {
        let (fraction, seed) = rest.strip_prefix("-test")?.split_once("-seed")?;
        (fraction.parse::<f64>().ok()?, seed.parse::<u64>().ok()?)
    };
    let valid = test_fraction > 0.0 && test_fraction < 1.0 && image_size.is_none_or(valid_side);
    // Writing the options back must give the same name, so each split has one name.
    (valid && split_name(image_size, test_fraction, seed) == name).then_some(Coil100Options {
        image_size,
        test_fraction,
        seed,
    })
}

/// Writes one image as an 8-bit RGB PNG (pixels row-major RGB interleaved, side×side×3 bytes),
/// for tests and users' own data. Deterministic bytes.
pub fn write_coil100_png(path: &Path, side: usize, rgb: &[u8]) -> Result<(), DataError> {
    let expected = side.checked_mul(side).and_then(|n| n.checked_mul(CHANNELS));
    let dimension = u32::try_from(side).ok().filter(|&s| s > 0);
    let (Some(dimension), Some(expected)) = (dimension, expected) else {
        return Err(DataError::InvalidImages {
            reason: format!("{}: side {side} is not a valid PNG side", path.display()),
        });
    };
    if rgb.len() != expected {
        return Err(DataError::InvalidImages {
            reason: format!(
                "{}: {} bytes are not {side}x{side} RGB pixels ({expected} bytes)",
                path.display(),
                rgb.len()
            ),
        });
    }
    let encoding = |e: png::EncodingError| DataError::InvalidImages {
        reason: format!("{}: cannot encode as PNG: {e}", path.display()),
    };
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, dimension, dimension);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Default);
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(rgb).map_err(encoding)?;
    writer.finish().map_err(encoding)?;
    fs::write(path, &bytes).map_err(|source| DataError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// One image of the grid: `(object index from 0, view index from 0)`.
type View = (usize, usize);

/// The complete grid found in a folder.
struct Grid {
    /// Objects 1..=objects are present.
    objects: usize,
    /// The angles every object has, ascending.
    angles: Vec<u32>,
}

impl Grid {
    /// The file of object index `object` (from 0) at view index `view`.
    fn path(&self, dir: &Path, object: usize, view: usize) -> PathBuf {
        let angle = self.angles.get(view).copied().unwrap_or(0);
        dir.join(file_name(object + 1, angle))
    }
}

/// The name of object `number`'s image at `angle`.
fn file_name(number: usize, angle: u32) -> String {
    format!("obj{number}__{angle}.png")
}

/// Whether `side` is an acceptable image side: a positive multiple of 4 up to [`MAX_SIDE`].
fn valid_side(side: usize) -> bool {
    side > 0 && side.is_multiple_of(4) && side <= MAX_SIDE
}

/// The split's name; `image_size` is `None` when the images keep the source size.
fn split_name(image_size: Option<usize>, fraction: f64, seed: u64) -> String {
    let mut name = NAME.to_string();
    if let Some(side) = image_size {
        name.push_str(&format!("-{side}"));
    }
    if fraction != DEFAULT_TEST_FRACTION || seed != DEFAULT_SPLIT_SEED {
        name.push_str(&format!("-test{fraction}-seed{seed}"));
    }
    name
}

/// What a directory entry's name is.
enum Entry {
    /// Not a COIL image.
    Ignored,
    /// Object number and angle.
    View(usize, u32),
    /// Looks like a COIL image but is not a valid one: why.
    Malformed(String),
}

/// A decimal number written without sign, leading zeros or anything else.
fn decimal(text: &str) -> Option<u32> {
    let canonical = !text.is_empty()
        && text.len() <= 9
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// Classifies a file name: names starting `obj` and a digit and ending `.png` must be
/// `obj<k>__<angle>.png` with `k` in 1..=100 and the angle a multiple of 5 up to 355.
fn classify(name: &str) -> Entry {
    let Some(rest) = name.strip_prefix("obj") else {
        return Entry::Ignored;
    };
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Entry::Ignored;
    }
    let Some(stem) = rest.strip_suffix(".png") else {
        return Entry::Ignored;
    };
    let Some((object, angle)) = stem.split_once("__") else {
        return Entry::Malformed(
            "named like a COIL-100 image but not obj<object>__<angle>.png".to_string(),
        );
    };
    let (Some(object), Some(angle)) = (decimal(object), decimal(angle)) else {
        return Entry::Malformed(
            "named like a COIL-100 image but not obj<object>__<angle>.png with plain decimal numbers"
                .to_string(),
        );
    };
    let object = object as usize;
    if object == 0 || object > MAX_OBJECTS {
        return Entry::Malformed(format!(
            "object number {object} is not in 1..={MAX_OBJECTS}"
        ));
    }
    if angle > MAX_ANGLE || !angle.is_multiple_of(ANGLE_STEP) {
        return Entry::Malformed(format!(
            "angle {angle} is not a multiple of {ANGLE_STEP} in 0..={MAX_ANGLE}"
        ));
    }
    Entry::View(object, angle)
}

/// Finds the grid in `dir` and checks that it is complete.
fn scan(dir: &Path) -> Result<Grid, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut found: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    // The smallest malformed name, so the error does not depend on the listing order.
    let mut malformed: Option<(String, String)> = None;
    for entry in fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        match classify(name) {
            Entry::Ignored => {}
            Entry::View(object, angle) => {
                found.entry(object).or_default().insert(angle);
            }
            Entry::Malformed(reason) => {
                if malformed
                    .as_ref()
                    .is_none_or(|(first, _)| name < first.as_str())
                {
                    malformed = Some((name.to_string(), reason));
                }
            }
        }
    }
    if let Some((name, reason)) = malformed {
        return Err(Coil100Error::BadName {
            path: dir.join(name),
            reason,
        }
        .into());
    }
    check_grid(dir, &found)
}

/// Checks that objects 1..=K (K ≥ 2) are all present, each with object 1's angles.
fn check_grid(dir: &Path, found: &BTreeMap<usize, BTreeSet<u32>>) -> Result<Grid, DataError> {
    let (Some(&objects), Some(some_angles)) = (found.keys().next_back(), found.values().next())
    else {
        return Err(Coil100Error::NoImages {
            dir: dir.to_path_buf(),
        }
        .into());
    };
    let first_angle = some_angles.iter().next().copied().unwrap_or(0);
    if let Some(object) = (1..=objects).find(|k| !found.contains_key(k)) {
        return Err(Coil100Error::MissingObject {
            dir: dir.to_path_buf(),
            object,
            objects,
            missing: dir.join(file_name(object, first_angle)),
        }
        .into());
    }
    let reference = match found.get(&1) {
        Some(angles) if objects >= 2 => angles,
        _ => {
            return Err(Coil100Error::TooFewObjects {
                dir: dir.to_path_buf(),
            }
            .into())
        }
    };
    for (&object, angles) in found.range(2..) {
        let lacking = reference
            .difference(angles)
            .next()
            .map(|&a| (object, angles, 1, reference, a))
            .or_else(|| {
                angles
                    .difference(reference)
                    .next()
                    .map(|&a| (1, reference, object, angles, a))
            });
        if let Some((object, views, other, other_views, angle)) = lacking {
            return Err(Coil100Error::MissingView {
                object,
                views: views.len(),
                reference: other,
                reference_views: other_views.len(),
                missing: dir.join(file_name(object, angle)),
            }
            .into());
        }
    }
    Ok(Grid {
        objects,
        angles: reference.iter().copied().collect(),
    })
}

/// Test views per object: `round(views * fraction)`, kept within `1..=views - 1`.
fn test_count(dir: &Path, views: usize, fraction: f64) -> Result<usize, DataError> {
    if views < 2 {
        return Err(Coil100Error::TooFewViews {
            dir: dir.to_path_buf(),
            views,
        }
        .into());
    }
    // `views` is at most 72 and the fraction below 1, so the product is exact and small.
    let rounded = (views as f64 * fraction).round() as usize;
    Ok(rounded.clamp(1, views - 1))
}

/// Splits `objects × views` images: with one seeded stream, for each object in order, shuffle
/// its view indices and send the first `test_views` to test. Both parts are object-major with
/// views ascending. Returns `(train, test)`.
fn split_views(
    objects: usize,
    views: usize,
    test_views: usize,
    seed: u64,
) -> (Vec<View>, Vec<View>) {
    let mut rng = seeded_rng(seed);
    let mut train = Vec::with_capacity(objects * (views - test_views.min(views)));
    let mut test = Vec::with_capacity(objects * test_views);
    for object in 0..objects {
        let mut order: Vec<usize> = (0..views).collect();
        shuffle(&mut order, &mut rng);
        let mut held = vec![false; views];
        for &view in order.iter().take(test_views) {
            if let Some(h) = held.get_mut(view) {
                *h = true;
            }
        }
        for (view, &is_test) in held.iter().enumerate() {
            if is_test {
                test.push((object, view));
            } else {
                train.push((object, view));
            }
        }
    }
    (train, test)
}

/// A zeroed buffer for `images` images of `per_image` bytes, or an error if it cannot be had.
fn allocate(
    dir: &Path,
    images: usize,
    side: usize,
    per_image: usize,
) -> Result<Vec<u8>, DataError> {
    let too_large = |bytes| Coil100Error::TooLarge {
        dir: dir.to_path_buf(),
        images,
        side,
        bytes,
    };
    let bytes = images
        .checked_mul(per_image)
        .ok_or_else(|| too_large(usize::MAX))?;
    let mut pixels = Vec::new();
    pixels
        .try_reserve_exact(bytes)
        .map_err(|_| too_large(bytes))?;
    pixels.resize(bytes, 0);
    Ok(pixels)
}

/// Opens a PNG and reads its header (and the chunks before the image data).
fn open_png(path: &Path) -> Result<png::Reader<BufReader<File>>, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut decoder = png::Decoder::new_with_limits(
        BufReader::new(file),
        png::Limits {
            bytes: DECODER_BYTES,
        },
    );
    decoder.set_transformations(png::Transformations::IDENTITY);
    decoder.read_info().map_err(|source| {
        Coil100Error::Png {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

/// The side of the first image, read from its header: square, a multiple of 4, at most 1024.
fn first_side(path: &Path) -> Result<usize, DataError> {
    let reader = open_png(path)?;
    let (width, height) = (reader.info().width, reader.info().height);
    let side = usize::try_from(width).unwrap_or(usize::MAX);
    if width != height || !valid_side(side) {
        return Err(Coil100Error::SourceSize {
            path: path.to_path_buf(),
            width,
            height,
        }
        .into());
    }
    Ok(side)
}

/// The size every image must have and the size to shrink it to.
struct Source<'a> {
    /// The first image, named when another differs from it.
    first: &'a Path,
    /// Side of every source image.
    side: usize,
    /// Side of the loaded images; divides `side`.
    out_side: usize,
}

/// Describes a colour type and depth other than 8-bit RGB(A).
fn describe(colour: png::ColorType, depth: png::BitDepth) -> String {
    let bits = depth as u8;
    match colour {
        png::ColorType::Grayscale => format!("{bits}-bit greyscale"),
        png::ColorType::GrayscaleAlpha => format!("{bits}-bit greyscale with alpha"),
        png::ColorType::Indexed => format!("a {bits}-bit palette image"),
        png::ColorType::Rgb => format!("{bits}-bit RGB"),
        png::ColorType::Rgba => format!("{bits}-bit RGBA"),
    }
}

/// Bytes per pixel of an acceptable colour type (8-bit RGB or RGBA).
fn samples(colour: png::ColorType, depth: png::BitDepth) -> Option<usize> {
    match (colour, depth) {
        (png::ColorType::Rgb, png::BitDepth::Eight) => Some(3),
        (png::ColorType::Rgba, png::BitDepth::Eight) => Some(4),
        _ => None,
    }
}

/// Decodes `path` (checking its header first) and writes its pixels, shrunk to
/// `source.out_side`, into `out` in channel, row, column order.
fn decode_into(path: &Path, source: &Source<'_>, out: &mut [u8]) -> Result<(), DataError> {
    let mut reader = open_png(path)?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    let side = source.side;
    let expected = u32::try_from(side).ok();
    if Some(width) != expected || Some(height) != expected {
        return Err(Coil100Error::SizeMismatch {
            path: path.to_path_buf(),
            width,
            height,
            first: source.first.to_path_buf(),
            side,
        }
        .into());
    }
    let colour_error = |colour, depth| Coil100Error::Colour {
        path: path.to_path_buf(),
        found: describe(colour, depth),
    };
    let Some(per_pixel) = samples(info.color_type, info.bit_depth) else {
        return Err(colour_error(info.color_type, info.bit_depth).into());
    };
    // At most 1024 × 1024 × 4 bytes, fixed by the header checked above.
    let line = side * per_pixel;
    let mut buf = vec![0u8; line * side];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|source| Coil100Error::Png {
            path: path.to_path_buf(),
            source,
        })?;
    if samples(frame.color_type, frame.bit_depth) != Some(per_pixel)
        || (frame.width, frame.height) != (width, height)
        || frame.line_size != line
    {
        return Err(colour_error(frame.color_type, frame.bit_depth).into());
    }
    shrink(&buf, line, per_pixel, source, out);
    Ok(())
}

/// Box-averages interleaved pixels (`per_pixel` bytes each, the first three RGB) into `out`,
/// channel-major: each output value is `(sum + n / 2) / n` over its `factor × factor` block.
fn shrink(buf: &[u8], line: usize, per_pixel: usize, source: &Source<'_>, out: &mut [u8]) {
    let out_side = source.out_side.max(1);
    let factor = (source.side / out_side).max(1);
    let plane = out_side * out_side;
    // At most 65,536 values of at most 255 per block: the sums fit in u32.
    let mut sums = vec![0u32; CHANNELS * plane];
    for (y, row) in buf.chunks_exact(line).enumerate() {
        let row_base = (y / factor) * out_side;
        for (x, pixel) in row.chunks_exact(per_pixel).enumerate() {
            let at = row_base + x / factor;
            for (c, &value) in pixel.iter().take(CHANNELS).enumerate() {
                if let Some(sum) = sums.get_mut(c * plane + at) {
                    *sum += u32::from(value);
                }
            }
        }
    }
    let n = u32::try_from(factor * factor).unwrap_or(u32::MAX);
    for (value, sum) in out.iter_mut().zip(sums) {
        *value = u8::try_from((sum + n / 2) / n).unwrap_or(u8::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test images' angles.
    const ANGLES: [u32; 4] = [0, 5, 10, 15];

    /// A pixel value that differs between objects, angles, positions and channels.
    fn value(object: usize, angle: u32, y: usize, x: usize, c: usize) -> u8 {
        ((object * 37 + angle as usize * 3 + y * 11 + x * 5 + c * 70) % 256) as u8
    }

    /// The interleaved RGB pixels of object `object`'s image at `angle`.
    fn rgb(object: usize, angle: u32, side: usize) -> Vec<u8> {
        let mut pixels = Vec::with_capacity(side * side * 3);
        for y in 0..side {
            for x in 0..side {
                for c in 0..3 {
                    pixels.push(value(object, angle, y, x, c));
                }
            }
        }
        pixels
    }

    /// The same image in channel, row, column order, as values in `[0, 1]`.
    fn chw(object: usize, angle: u32, side: usize) -> Vec<f32> {
        let mut values = Vec::with_capacity(side * side * 3);
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    values.push(f32::from(value(object, angle, y, x, c)) / 255.0);
                }
            }
        }
        values
    }

    /// Writes `objects` objects at [`ANGLES`] of `side` pixels into a fresh folder.
    fn grid(objects: usize, side: usize) -> tempfile::TempDir {
        let dir = tempfile::TempDir::new().unwrap();
        for object in 1..=objects {
            for angle in ANGLES {
                let path = dir.path().join(file_name(object, angle));
                write_coil100_png(&path, side, &rgb(object, angle, side)).unwrap();
            }
        }
        dir
    }

    /// Writes a PNG of any colour type and depth.
    fn write_png(path: &Path, side: u32, colour: png::ColorType, depth: png::BitDepth) {
        let samples = match colour {
            png::ColorType::Grayscale | png::ColorType::Indexed => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
        };
        let bytes = if depth == png::BitDepth::Sixteen {
            2
        } else {
            1
        };
        let data = vec![7u8; (side * side) as usize * samples * bytes];
        let file = File::create(path).unwrap();
        let mut encoder = png::Encoder::new(file, side, side);
        encoder.set_color(colour);
        encoder.set_depth(depth);
        if colour == png::ColorType::Indexed {
            encoder.set_palette(vec![0u8; 3 * 256]);
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
    }

    /// Loads with the default options.
    fn load(dir: &Path) -> Result<(Split, Coil100Summary), DataError> {
        load_coil100(dir, &Coil100Options::default())
    }

    /// The error message of a load that must fail.
    fn message(dir: &Path, options: &Coil100Options) -> String {
        match load_coil100(dir, options) {
            Err(e) => e.to_string(),
            Ok((split, _)) => panic!("loaded {} from {}", split.name, dir.display()),
        }
    }

    /// Which `(object, angle)` each image of `part` is (source size `side`).
    fn identify(part: &Dataset, objects: usize, side: usize) -> Vec<(usize, u32)> {
        (0..part.len())
            .map(|i| {
                let image = part.image(i).to_vec();
                let found: Vec<(usize, u32)> = (1..=objects)
                    .flat_map(|o| ANGLES.iter().map(move |&a| (o, a)))
                    .filter(|&(o, a)| chw(o, a, side) == image)
                    .collect();
                assert_eq!(found.len(), 1, "image {i}");
                assert_eq!(usize::from(part.labels[i]), found[0].0 - 1);
                found[0]
            })
            .collect()
    }

    #[test]
    fn grid_is_found_and_split_per_object() {
        let dir = grid(3, 8);
        let (split, summary) = load(dir.path()).unwrap();
        assert_eq!(
            summary,
            Coil100Summary {
                objects: 3,
                views: 4,
                source_side: 8,
                image_side: 8
            }
        );
        assert_eq!(split.name, "coil100");
        assert_eq!(split.train.class_names, ["obj1", "obj2", "obj3"]);
        assert_eq!(split.train.shape.to_string(), "3x8x8");
        // round(4 × 0.25) = 1 test view per object.
        assert_eq!(split.train.class_counts(), [3, 3, 3]);
        assert_eq!(split.test.class_counts(), [1, 1, 1]);
        let train = identify(&split.train, 3, 8);
        let test = identify(&split.test, 3, 8);
        for part in [&train, &test] {
            assert!(part.windows(2).all(|w| w[0] < w[1]), "{part:?}");
        }
        let mut all: Vec<(usize, u32)> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        let expected: Vec<(usize, u32)> = (1..=3)
            .flat_map(|o| ANGLES.iter().map(move |&a| (o, a)))
            .collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn pixels_are_channel_row_column() {
        let dir = grid(2, 8);
        let (split, _) = load(dir.path()).unwrap();
        let (object, angle) = identify(&split.train, 2, 8)[0];
        // Channel 2, row 3, column 5 of the 8×8 image.
        let at = 2 * 64 + 3 * 8 + 5;
        let interleaved = rgb(object, angle, 8)[(3 * 8 + 5) * 3 + 2];
        assert_eq!(split.train.image(0)[at], f32::from(interleaved) / 255.0);
        assert_eq!(interleaved, value(object, angle, 3, 5, 2));
    }

    #[test]
    fn rgba_loses_its_alpha() {
        let dir = grid(2, 8);
        let (before, _) = load(dir.path()).unwrap();
        let path = dir.path().join("obj2__5.png");
        let rgba: Vec<u8> = rgb(2, 5, 8)
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 99])
            .collect();
        let mut encoder = png::Encoder::new(File::create(&path).unwrap(), 8, 8);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&rgba).unwrap();
        writer.finish().unwrap();
        let (after, _) = load(dir.path()).unwrap();
        assert_eq!(after, before);
    }

    #[test]
    fn downscaling_averages_blocks() {
        let dir = tempfile::TempDir::new().unwrap();
        // Zero except two 2×2 blocks: red at rows 0–1, columns 0–1 holds 0, 0, 1, 1; green at
        // rows 2–3, columns 6–7 holds 10, 11, 12, 14.
        let mut pixels = vec![0u8; 16 * 16 * 3];
        let mut set = |y: usize, x: usize, c: usize, v: u8| pixels[(y * 16 + x) * 3 + c] = v;
        set(1, 0, 0, 1);
        set(1, 1, 0, 1);
        set(2, 6, 1, 10);
        set(2, 7, 1, 11);
        set(3, 6, 1, 12);
        set(3, 7, 1, 14);
        for object in 1..=2 {
            for angle in ANGLES {
                let path = dir.path().join(file_name(object, angle));
                write_coil100_png(&path, 16, &pixels).unwrap();
            }
        }
        let options = Coil100Options {
            image_size: Some(8),
            ..Coil100Options::default()
        };
        let (split, summary) = load_coil100(dir.path(), &options).unwrap();
        assert_eq!(split.name, "coil100-8");
        assert_eq!((summary.source_side, summary.image_side), (16, 8));
        assert_eq!(split.test.shape.to_string(), "3x8x8");
        let image = split.train.image(0).to_vec();
        let mut expected = vec![0.0f32; 3 * 64];
        // (0 + 0 + 1 + 1 + 2) / 4 = 1 at red (0, 0); (47 + 2) / 4 = 12 at green (1, 3).
        expected[0] = 1.0 / 255.0;
        expected[64 + 8 + 3] = 12.0 / 255.0;
        assert_eq!(image, expected);

        // Factor 4: red (0, 0) sums 2 over 16 pixels, (2 + 8) / 16 = 0; green (0, 1) sums 47,
        // (47 + 8) / 16 = 3.
        let options = Coil100Options {
            image_size: Some(4),
            ..Coil100Options::default()
        };
        let (split, _) = load_coil100(dir.path(), &options).unwrap();
        assert_eq!(split.name, "coil100-4");
        let mut expected = vec![0.0f32; 3 * 16];
        expected[16 + 1] = 3.0 / 255.0;
        assert_eq!(split.train.image(0).to_vec(), expected);
    }

    #[test]
    fn names_round_trip() {
        let dir = grid(2, 16);
        let all = [
            (None, 0.25, 2019, "coil100"),
            (Some(16), 0.25, 2019, "coil100"),
            (Some(8), 0.25, 2019, "coil100-8"),
            (Some(4), 0.5, 7, "coil100-4-test0.5-seed7"),
            (None, 0.5, 7, "coil100-test0.5-seed7"),
            (None, 0.25, 1, "coil100-test0.25-seed1"),
            (Some(8), 0.3, 2019, "coil100-8-test0.3-seed2019"),
            (
                None,
                0.1,
                u64::MAX,
                "coil100-test0.1-seed18446744073709551615",
            ),
        ];
        for (image_size, test_fraction, seed, name) in all {
            let options = Coil100Options {
                image_size,
                test_fraction,
                seed,
            };
            let (split, _) = load_coil100(dir.path(), &options).unwrap();
            assert_eq!(split.name, name);
            let parsed = options_from_name(name).unwrap();
            let (again, _) = load_coil100(dir.path(), &parsed).unwrap();
            assert_eq!(again, split, "{name}");
        }
        assert_eq!(
            options_from_name("coil100-32-test0.5-seed7"),
            Some(Coil100Options {
                image_size: Some(32),
                test_fraction: 0.5,
                seed: 7
            })
        );
        assert_eq!(
            options_from_name("coil100"),
            Some(Coil100Options::default())
        );
        for junk in [
            "",
            "mnist",
            "coil100-",
            "coil1000",
            "coil100-7",
            "coil100-0",
            "coil100-08",
            "coil100-2048",
            "coil100-8-",
            "coil100-test0.25-seed2019",
            "coil100-test1-seed3",
            "coil100-test0-seed3",
            "coil100-testNaN-seed3",
            "coil100-test.5-seed3",
            "coil100-test0.50-seed3",
            "coil100-test0.5-seed+7",
            "coil100-test0.5-seed07",
            "coil100-test0.5",
            "coil100-seed7",
            "coil100-test0.5-seed7-x",
        ] {
            assert_eq!(options_from_name(junk), None, "{junk}");
        }
    }

    #[test]
    fn split_follows_the_seed() {
        let dir = grid(3, 8);
        let with_seed = |seed| {
            let options = Coil100Options {
                seed,
                test_fraction: 0.5,
                ..Coil100Options::default()
            };
            load_coil100(dir.path(), &options).unwrap().0
        };
        let split = with_seed(7);
        assert_eq!(split.train.len(), 6);
        assert_eq!(with_seed(7), split);
        let other = with_seed(8);
        assert_ne!(other.test.images, split.test.images);
        assert_ne!(other.name, split.name);
    }

    #[test]
    fn extreme_fractions_keep_a_view_on_each_side() {
        let dir = grid(2, 8);
        for (fraction, test) in [(0.01, 1), (0.99, 3), (0.5, 2), (0.6, 2), (0.7, 3)] {
            let options = Coil100Options {
                test_fraction: fraction,
                ..Coil100Options::default()
            };
            let (split, _) = load_coil100(dir.path(), &options).unwrap();
            assert_eq!(split.test.class_counts(), [test, test], "{fraction}");
        }
    }

    #[test]
    fn unrelated_files_are_ignored() {
        let dir = grid(2, 8);
        let (before, _) = load(dir.path()).unwrap();
        for name in [
            "convertGroupppm2png.pl",
            "objects.png",
            "obj.png",
            "obj1__0.png.bak",
            "README",
            "Obj1__0.png",
        ] {
            fs::write(dir.path().join(name), b"not an image").unwrap();
        }
        fs::create_dir(dir.path().join("obj")).unwrap();
        let (after, summary) = load(dir.path()).unwrap();
        assert_eq!(after, before);
        assert_eq!((summary.objects, summary.views), (2, 4));
    }

    #[test]
    fn missing_directory_says_where_coil100_comes_from() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = dir.path().join("coil-100");
        match load(&missing) {
            Err(DataError::MissingDirectory { path, hint }) => {
                assert_eq!(path, missing);
                assert!(hint.contains("coil-100.zip"), "{hint}");
                assert!(
                    hint.contains("https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php")
                );
            }
            other => panic!("expected MissingDirectory, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_view_is_named() {
        let dir = grid(3, 8);
        fs::remove_file(dir.path().join("obj2__10.png")).unwrap();
        let text = message(dir.path(), &Coil100Options::default());
        assert!(
            text.starts_with("object 2 has 3 views, object 1 has 4: "),
            "{text}"
        );
        assert!(text.ends_with("obj2__10.png is missing"), "{text}");
        // An object with a view object 1 lacks: object 1 is the one missing it.
        let dir = grid(3, 8);
        fs::remove_file(dir.path().join("obj1__15.png")).unwrap();
        let text = message(dir.path(), &Coil100Options::default());
        assert!(
            text.starts_with("object 1 has 3 views, object 2 has 4: "),
            "{text}"
        );
        assert!(text.ends_with("obj1__15.png is missing"), "{text}");
    }

    #[test]
    fn a_missing_object_is_named() {
        let dir = grid(3, 8);
        for angle in ANGLES {
            fs::remove_file(dir.path().join(file_name(2, angle))).unwrap();
        }
        let text = message(dir.path(), &Coil100Options::default());
        assert!(
            text.contains("objects up to 3 but none numbered 2"),
            "{text}"
        );
        assert!(text.ends_with("obj2__0.png is missing"), "{text}");

        let dir = grid(1, 8);
        let text = message(dir.path(), &Coil100Options::default());
        assert!(text.contains("a single COIL-100 object"), "{text}");

        let dir = tempfile::TempDir::new().unwrap();
        fs::write(
            dir.path().join("convertGroupppm2png.pl"),
            b"#!/usr/bin/perl",
        )
        .unwrap();
        let text = message(dir.path(), &Coil100Options::default());
        assert!(text.contains("holds no COIL-100 image"), "{text}");
    }

    #[test]
    fn too_few_views_cannot_be_split() {
        let dir = tempfile::TempDir::new().unwrap();
        for object in 1..=2 {
            let path = dir.path().join(file_name(object, 0));
            write_coil100_png(&path, 8, &rgb(object, 0, 8)).unwrap();
        }
        let text = message(dir.path(), &Coil100Options::default());
        assert!(text.contains("each object has 1 view"), "{text}");
    }

    #[test]
    fn malformed_coil_names_are_refused() {
        for (name, says) in [
            ("obj3__7.png", "angle 7 is not a multiple of 5"),
            ("obj3__360.png", "angle 360"),
            ("obj0__0.png", "object number 0 is not in 1..=100"),
            ("obj101__0.png", "object number 101"),
            ("obj01__0.png", "plain decimal"),
            ("obj1__05.png", "plain decimal"),
            ("obj1__+5.png", "plain decimal"),
            ("obj1__.png", "plain decimal"),
            ("obj1_0.png", "not obj<object>__<angle>.png"),
            ("obj99999999999__0.png", "plain decimal"),
        ] {
            let dir = grid(2, 8);
            fs::write(dir.path().join(name), b"").unwrap();
            let text = message(dir.path(), &Coil100Options::default());
            assert!(text.contains(name) && text.contains(says), "{name}: {text}");
        }
    }

    #[test]
    fn wrong_colour_types_are_refused() {
        for (colour, depth, says) in [
            (
                png::ColorType::Grayscale,
                png::BitDepth::Eight,
                "8-bit greyscale",
            ),
            (
                png::ColorType::GrayscaleAlpha,
                png::BitDepth::Eight,
                "greyscale with alpha",
            ),
            (png::ColorType::Rgb, png::BitDepth::Sixteen, "16-bit RGB"),
            (png::ColorType::Indexed, png::BitDepth::Eight, "palette"),
        ] {
            let dir = grid(2, 8);
            write_png(&dir.path().join("obj2__5.png"), 8, colour, depth);
            let text = message(dir.path(), &Coil100Options::default());
            assert!(
                text.contains("obj2__5.png")
                    && text.contains(says)
                    && text.ends_with("not 8-bit RGB"),
                "{text}"
            );
        }
    }

    #[test]
    fn sizes_must_agree_and_suit() {
        let dir = grid(3, 8);
        let path = dir.path().join("obj3__15.png");
        write_coil100_png(&path, 16, &rgb(3, 15, 16)).unwrap();
        let text = message(dir.path(), &Coil100Options::default());
        assert!(text.contains("obj3__15.png is 16x16 but "), "{text}");
        assert!(text.ends_with("obj1__0.png is 8x8"), "{text}");

        // The first image fixes the size, so its own must be usable.
        for side in [6, 1] {
            let dir = grid(2, 8);
            let path = dir.path().join("obj1__0.png");
            write_coil100_png(&path, side, &rgb(1, 0, side)).unwrap();
            let text = message(dir.path(), &Coil100Options::default());
            assert!(
                text.contains(&format!("obj1__0.png is {side}x{side}: ")),
                "{text}"
            );
        }
    }

    #[test]
    fn corrupt_pngs_are_errors_not_panics() {
        let dir = grid(2, 8);
        let path = dir.path().join("obj2__5.png");
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let text = message(dir.path(), &Coil100Options::default());
        assert!(text.ends_with("obj2__5.png is not a valid PNG"), "{text}");
        fs::write(&path, b"GIF89a").unwrap();
        let text = message(dir.path(), &Coil100Options::default());
        assert!(text.ends_with("obj2__5.png is not a valid PNG"), "{text}");

        // Every truncation and every flipped byte of the first image (read twice: its header
        // for the size, then in full) either loads or fails cleanly.
        let first = dir.path().join("obj1__0.png");
        fs::write(&path, &bytes).unwrap();
        let good = fs::read(&first).unwrap();
        for len in 0..good.len() {
            fs::write(&first, &good[..len]).unwrap();
            let _ = load(dir.path());
        }
        for at in 0..good.len() {
            let mut flipped = good.clone();
            flipped[at] ^= 0x5a;
            fs::write(&first, &flipped).unwrap();
            let _ = load(dir.path());
        }
        fs::write(&first, &good).unwrap();
        assert!(load(dir.path()).is_ok());
    }

    #[test]
    fn bad_image_sizes_are_refused_before_decoding() {
        let dir = grid(2, 8);
        // A corrupt image that must not be reached.
        fs::write(dir.path().join("obj2__5.png"), b"corrupt").unwrap();
        for (size, says) in [
            (12, "image size 12 does not divide the 8-pixel side of "),
            (16, "image size 16 does not divide"),
            (6, "image size 6 is not a positive multiple of 4"),
            (0, "image size 0 is not"),
            (2048, "image size 2048 is not"),
        ] {
            let options = Coil100Options {
                image_size: Some(size),
                ..Coil100Options::default()
            };
            let text = message(dir.path(), &options);
            assert!(text.starts_with(says), "{size}: {text}");
        }
    }

    #[test]
    fn test_fraction_is_checked_first() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = dir.path().join("nowhere");
        for fraction in [0.0, 1.0, f64::NAN, -0.5, 1.5, f64::INFINITY] {
            let options = Coil100Options {
                test_fraction: fraction,
                image_size: Some(3),
                ..Coil100Options::default()
            };
            let text = message(&missing, &options);
            assert!(
                text.starts_with(&format!(
                    "test fraction {fraction} is not strictly between 0 and 1"
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn written_pngs_are_deterministic_and_checked() {
        let dir = tempfile::TempDir::new().unwrap();
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        write_coil100_png(&a, 8, &rgb(1, 0, 8)).unwrap();
        write_coil100_png(&b, 8, &rgb(1, 0, 8)).unwrap();
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
        let short = write_coil100_png(&a, 8, &[0; 10]).unwrap_err().to_string();
        assert!(
            short.contains("a.png") && short.contains("10 bytes"),
            "{short}"
        );
        assert!(write_coil100_png(&a, 0, &[]).is_err());
        assert!(write_coil100_png(&dir.path().join("no/such/dir.png"), 1, &[0; 3]).is_err());
    }
}
