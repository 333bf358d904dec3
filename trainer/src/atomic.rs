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
    } else {
        remove_stale_temporaries(path, name);
    }
    result
}

/// Removes `.NAME.tmp-PID` files beside `path` that a process killed mid-write left behind:
/// those of processes that no longer run (known on Linux through `/proc`; elsewhere nothing is
/// removed, since a live writer's file must not be). Best effort: failures are ignored.
fn remove_stale_temporaries(path: &Path, name: &std::ffi::OsStr) {
    let proc = Path::new("/proc/self");
    if !proc.exists() {
        return;
    }
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Some(dir) = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    }) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let pid = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn temporaries_of_killed_writers_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.gmvae");
        // PID 4194304 is above Linux's largest (2^22), so no process has it.
        let dead = dir.path().join(".model.gmvae.tmp-4194304");
        // PID 1 always runs: a write in progress, not to be touched.
        let live = dir.path().join(".model.gmvae.tmp-1");
        let other = dir.path().join(".other.gmvae.tmp-4194304");
        for f in [&dead, &other, &live] {
            fs::write(f, b"partial").unwrap();
        }
        write_atomically(&path, b"whole").unwrap();
        assert!(!dead.exists(), "a killed writer's temporary is removed");
        assert!(live.exists(), "a running writer's temporary is kept");
        assert!(
            other.exists(),
            "another file's temporary is not ours to remove"
        );
        assert_eq!(fs::read(&path).unwrap(), b"whole");
    }

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
