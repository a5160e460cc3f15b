//! Atomic file writes: data goes to `NAME.tmp-PID` beside the target, is synced, then renamed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::IoError;

/// A file being written atomically. Call [`AtomicFile::commit`] to publish it; dropping it
/// without committing removes the temporary file.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target` (the parent folder must exist).
    pub fn create(target: &Path) -> Result<Self, IoError> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        // Errors name the file the caller asked for, not the temporary name.
        let file = File::create(&tmp).map_err(|e| IoError::os(target, e))?;
        Ok(AtomicFile { target: target.to_path_buf(), tmp, writer: Some(BufWriter::new(file)) })
    }

    /// The writer for the content.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("writer is present until commit")
    }

    /// Flushes, syncs and renames onto the target.
    pub fn commit(mut self) -> Result<(), IoError> {
        let writer = self.writer.take().expect("writer is present until commit");
        let file = writer.into_inner().map_err(|e| IoError::os(&self.target, e.into_error()))?;
        file.sync_all().map_err(|e| IoError::os(&self.target, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| IoError::os(&self.target, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut file = AtomicFile::create(target)?;
    file.writer().write_all(bytes).map_err(|e| IoError::os(target, e))?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.bin");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.writer().write_all(b"partial").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, b"done").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
    }
}
