//! The quarantine list: files that failed to probe or decode, one JSON object per line
//! (`{"path", "reason", "kind", "stage"}`). A quarantined file is never retried, in this run or
//! in a later run given the same list; the pipeline carries on without it.
//!
//! One [`Quarantine`] is shared by every stage behind a mutex; it is touched only on failures
//! and at the start of each decode job, so contention is negligible.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::PipelineError;

/// One quarantine line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuarantineEntry {
    /// The file.
    pub path: PathBuf,
    /// Why it failed (the error's message).
    pub reason: String,
    /// Stable error kind (see `MediaError::kind`).
    pub kind: String,
    /// Where it failed: "index" or "decode".
    pub stage: String,
}

#[derive(Default)]
struct State {
    paths: HashSet<PathBuf>,
    file: Option<File>,
    added: Vec<QuarantineEntry>,
}

/// The shared quarantine set, optionally persisted as JSON Lines.
pub struct Quarantine {
    path: Option<PathBuf>,
    state: Mutex<State>,
}

impl Quarantine {
    /// An in-memory quarantine (nothing persisted).
    pub fn in_memory() -> Self {
        Quarantine { path: None, state: Mutex::new(State::default()) }
    }

    /// Opens (or creates) the list at `path`, loading the files it already names.
    pub fn open(path: &Path) -> Result<Self, PipelineError> {
        let mut state = State::default();
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| PipelineError::file(path, "reading the quarantine list", e))?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let e: QuarantineEntry =
                    serde_json::from_str(line).map_err(|e| PipelineError::Malformed {
                        path: path.to_path_buf(),
                        what: "quarantine list",
                        reason: format!("line {}: {e}", i + 1),
                    })?;
                state.paths.insert(e.path);
            }
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| PipelineError::file(parent, "creating the quarantine folder", e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| PipelineError::file(path, "opening the quarantine list", e))?;
        state.file = Some(file);
        Ok(Quarantine { path: Some(path.to_path_buf()), state: Mutex::new(state) })
    }

    /// Whether `path` is quarantined.
    pub fn contains(&self, path: &Path) -> bool {
        self.lock().paths.contains(path)
    }

    /// Quarantines `path`. Returns `Ok(true)` when it was not yet listed.
    pub fn add(
        &self,
        path: &Path,
        reason: &str,
        kind: &str,
        stage: &str,
    ) -> Result<bool, PipelineError> {
        let mut st = self.lock();
        if !st.paths.insert(path.to_path_buf()) {
            return Ok(false);
        }
        let entry = QuarantineEntry {
            path: path.to_path_buf(),
            reason: reason.to_string(),
            kind: kind.to_string(),
            stage: stage.to_string(),
        };
        if let (Some(file), Some(list)) = (st.file.as_mut(), self.path.as_ref()) {
            let mut line = serde_json::to_string(&entry).unwrap_or_default();
            line.push('\n');
            file.write_all(line.as_bytes())
                .and_then(|_| file.flush())
                .map_err(|e| PipelineError::file(list, "appending to the quarantine list", e))?;
        }
        st.added.push(entry);
        Ok(true)
    }

    /// Entries added during this run, in the order they were added.
    pub fn added(&self) -> Vec<QuarantineEntry> {
        self.lock().added.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the set inconsistent: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_never_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("q").join("quarantine.jsonl");
        let q = Quarantine::open(&list).unwrap();
        assert!(q.add(Path::new("/x/a.mp4"), "bad", "corrupt", "decode").unwrap());
        assert!(!q.add(Path::new("/x/a.mp4"), "bad again", "corrupt", "decode").unwrap());
        assert!(q.contains(Path::new("/x/a.mp4")));
        drop(q);
        let text = std::fs::read_to_string(&list).unwrap();
        assert_eq!(text.lines().count(), 1);
        let q2 = Quarantine::open(&list).unwrap();
        assert!(q2.contains(Path::new("/x/a.mp4")));
        assert!(!q2.contains(Path::new("/x/b.mp4")));
        assert!(q2.added().is_empty());
    }

    #[test]
    fn malformed_list_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("q.jsonl");
        std::fs::write(&list, "not json\n").unwrap();
        assert!(matches!(Quarantine::open(&list), Err(PipelineError::Malformed { .. })));
    }
}
