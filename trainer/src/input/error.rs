//! Why an input image cannot be used.

use crate::data::DataError;
use std::path::PathBuf;

/// Why an input image (a PNG file or an IDX entry) cannot be given to a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The operating system refused to open or read the file.
    #[error("cannot read input {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An IDX file was named without the index of one of its images.
    #[error("{} is an IDX file; name one of its images as {}:INDEX", path.display(), path.display())]
    WholeIdxFile {
        /// The file.
        path: PathBuf,
    },
    /// The IDX file itself is unreadable.
    #[error(transparent)]
    Idx(#[from] DataError),
    /// The index is past the IDX file's last image.
    #[error("{}:{index}: no such image ({} holds {count} images)", path.display(), path.display())]
    NoSuchImage {
        /// The file.
        path: PathBuf,
        /// The index asked for.
        index: usize,
        /// Images in the file.
        count: usize,
    },
    /// The bytes are not a PNG image this reader decodes.
    #[error("{name} is not a readable PNG")]
    NotPng {
        /// The input's name.
        name: String,
        /// The decoder's complaint.
        #[source]
        source: png::DecodingError,
    },
    /// An indexed PNG's palette is not 1 to 256 RGB entries with at most one transparency
    /// value each.
    #[error("{name} has a malformed palette ({bytes} bytes, {transparency} transparency values)")]
    Palette {
        /// The input's name.
        name: String,
        /// Bytes of the palette chunk.
        bytes: usize,
        /// Values of the transparency chunk.
        transparency: usize,
    },
    /// The image's size is not the model's (inputs are never resized).
    #[error("{name} is {width}×{height} pixels but the model expects {expected_width}×{expected_height} (inputs are not resized)")]
    Size {
        /// The input's name.
        name: String,
        /// Its width.
        width: usize,
        /// Its height.
        height: usize,
        /// The model's width.
        expected_width: usize,
        /// The model's height.
        expected_height: usize,
    },
    /// The decoded image holds fewer bytes than its header promises.
    #[error("{name}: truncated image data")]
    Truncated {
        /// The input's name.
        name: String,
    },
    /// The image's colour channels cannot be mapped to the model's.
    #[error("{name} has {found} colour channels; the model expects {expected}")]
    Channels {
        /// The input's name.
        name: String,
        /// The image's colour channels.
        found: usize,
        /// The model's input channels.
        expected: usize,
    },
}
