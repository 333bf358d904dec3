//! Transparent gzip on the way in (detected by magic bytes, not by name) and deterministic,
//! atomic gzip on the way out.

use super::DataError;
use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A file (or bytes) opened for reading, decompressing on the fly when it is gzip.
pub(crate) struct Source<'a> {
    reader: Box<dyn Read + 'a>,
    gzip: bool,
    path: PathBuf,
}

impl Source<'static> {
    /// Opens `path`, sniffing its first bytes for the gzip magic.
    pub(crate) fn open(path: &Path) -> Result<Self, DataError> {
        let io_err = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::new(File::open(path).map_err(io_err)?);
        let gzip = file.fill_buf().map_err(io_err)?.starts_with(&GZIP_MAGIC);
        Ok(Self::new(file, gzip, path))
    }
}

impl<'a> Source<'a> {
    /// Reads `bytes` as if they were the contents of the file `path` (which errors name),
    /// decompressing them when they start with the gzip magic.
    pub(crate) fn from_bytes(bytes: &'a [u8], path: &Path) -> Self {
        Self::new(bytes, bytes.starts_with(&GZIP_MAGIC), path)
    }

    fn new(reader: impl Read + 'a, gzip: bool, path: &Path) -> Self {
        let reader: Box<dyn Read + 'a> = if gzip {
            Box::new(MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        Self {
            reader,
            gzip,
            path: path.to_path_buf(),
        }
    }

    /// The file being read, as errors name it.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Turns a read error into [`DataError::Gzip`] or [`DataError::Io`] as appropriate.
    pub(crate) fn error(&self, source: io::Error) -> DataError {
        let path = self.path.clone();
        if self.gzip {
            DataError::Gzip { path, source }
        } else {
            DataError::Io { path, source }
        }
    }

    /// Reads up to `limit` bytes, stopping early only at the end of the stream.
    pub(crate) fn read_up_to(&mut self, limit: u64) -> Result<Vec<u8>, DataError> {
        let mut buf = Vec::new();
        match (&mut self.reader).take(limit).read_to_end(&mut buf) {
            Ok(_) => Ok(buf),
            Err(source) => Err(self.error(source)),
        }
    }

    /// Reads and discards the rest of the stream, returning how many bytes there were.
    pub(crate) fn count_rest(&mut self) -> Result<u64, DataError> {
        match io::copy(&mut self.reader, &mut io::sink()) {
            Ok(n) => Ok(n),
            Err(source) => Err(self.error(source)),
        }
    }
}

/// Gzip-compresses `raw` deterministically (maximum compression, mtime 0, no file name) and
/// writes it to `path` atomically, so equal input always gives byte-identical files.
pub fn write_gzip_atomic(path: &Path, raw: &[u8]) -> Result<(), DataError> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    let compressed = encoder
        .write_all(raw)
        .and_then(|()| encoder.finish())
        .map_err(|source| DataError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    crate::atomic::write(path, &compressed).map_err(|source| DataError::Write {
        path: path.to_path_buf(),
        source,
    })
}
