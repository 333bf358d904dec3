//! Crash-safe file writes: write a temporary file beside the target, fsync it, then rename it
//! over the target, so readers see either the old file or the complete new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file or directory that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}", path.display())]
pub struct WriteError {
    /// The file, or the directory that could not be created.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: io::Error,
}

impl WriteError {
    /// `source` while writing `path`.
    pub fn new(path: &Path, source: io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A result file that could not be rendered or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The results could not be rendered as JSON.
    #[error("cannot render {name} as JSON")]
    Json {
        /// The file being rendered.
        name: String,
        /// The serializer's complaint.
        #[source]
        source: serde_json::Error,
    },
}

/// `value` as pretty-printed JSON for the file `name`.
pub fn pretty_json(name: &str, value: &impl serde::Serialize) -> Result<String, OutputError> {
    serde_json::to_string_pretty(value).map_err(|source| OutputError::Json {
        name: name.to_owned(),
        source,
    })
}

/// Writes `bytes` to `path` atomically, creating parent directories as needed; errors name
/// the file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| WriteError::new(dir, e))?;
    }
    write(path, bytes).map_err(|e| WriteError::new(path, e))
}

/// Writes `bytes` to `path` atomically: a temporary file `.NAME.tmp-PID` in the same
/// directory, synced, then renamed over `path` (removed again if anything fails).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the temporary file may not exist if creation failed.
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_files_whole_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("file.bin");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let err = write_atomically(&dir.path().join("missing").join(".."), b"x").unwrap_err();
        assert!(err.to_string().starts_with("cannot write"), "{err}");
    }
}
