//! Splitting files (never clips) into train / validation / test, so validation only ever sees
//! files the model has not trained on. Three sources, in order of precedence:
//!
//! 1. a split file the user gives: lines `PATH SPLIT` (whitespace-separated) or JSON Lines
//!    `{"file": PATH, "split": SPLIT}`; relative paths are relative to the split file;
//! 2. a synthetic world's `annotations.jsonl` in a data folder (its recorded `split`);
//! 3. a stable hash of the path relative to its data folder (SHA-256; 80/10/10), which does not
//!    depend on the machine, the folder's location or the order files are listed in.
//!
//! The result is written into the run (`RUN/split.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TrainingError;

/// Files per split, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSplit {
    /// Training files.
    pub train: Vec<PathBuf>,
    /// Validation files.
    pub val: Vec<PathBuf>,
    /// Test files.
    pub test: Vec<PathBuf>,
    /// Where the assignment came from, per data folder.
    pub sources: BTreeMap<String, String>,
}

impl FileSplit {
    /// The files of split `name` (`train`, `val`, `test`).
    pub fn get(&self, name: &str) -> Option<&[PathBuf]> {
        match name {
            "train" => Some(&self.train),
            "val" => Some(&self.val),
            "test" => Some(&self.test),
            _ => None,
        }
    }

    fn push(&mut self, split: &str, path: PathBuf, origin: &Path) -> Result<(), TrainingError> {
        match split {
            "train" => self.train.push(path),
            "val" | "valid" | "validation" => self.val.push(path),
            "test" => self.test.push(path),
            other => {
                return Err(TrainingError::Config(format!(
                    "{}: unknown split '{other}' for {} (expected train, val or test)",
                    origin.display(),
                    path.display()
                )))
            }
        }
        Ok(())
    }

    fn sort(&mut self) {
        self.train.sort();
        self.val.sort();
        self.test.sort();
    }
}

/// The split a path falls in by hash: 80% train, 10% val, 10% test.
pub fn hash_split(relative: &str) -> &'static str {
    let digest = Sha256::digest(relative.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    let u = u64::from_be_bytes(b) as f64 / u64::MAX as f64;
    if u < 0.8 {
        "train"
    } else if u < 0.9 {
        "val"
    } else {
        "test"
    }
}

fn read_split_file(path: &Path) -> Result<Vec<(PathBuf, String)>, TrainingError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::file(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (file, split) = if line.starts_with('{') {
            #[derive(Deserialize)]
            struct Row {
                file: String,
                split: String,
            }
            let r: Row = serde_json::from_str(line).map_err(|e| {
                TrainingError::Config(format!("{} line {}: {e}", path.display(), i + 1))
            })?;
            (r.file, r.split)
        } else {
            let mut parts = line.rsplitn(2, char::is_whitespace);
            match (parts.next(), parts.next()) {
                (Some(s), Some(f)) => (f.trim().to_string(), s.to_string()),
                _ => {
                    return Err(TrainingError::Config(format!(
                        "{} line {}: expected 'PATH SPLIT'",
                        path.display(),
                        i + 1
                    )))
                }
            }
        };
        let p = PathBuf::from(&file);
        out.push((if p.is_absolute() { p } else { base.join(p) }, split));
    }
    Ok(out)
}

/// Splits the video files of `dirs` (see the module docs for the precedence).
pub fn split_files(
    dirs: &[PathBuf],
    split_file: Option<&Path>,
) -> Result<FileSplit, TrainingError> {
    let mut split = FileSplit::default();
    if let Some(sf) = split_file {
        for (path, name) in read_split_file(sf)? {
            split.push(&name, path, sf)?;
        }
        split.sources.insert(sf.display().to_string(), "split file".into());
        split.sort();
        return Ok(split);
    }
    for dir in dirs {
        let ann = dir.join("annotations.jsonl");
        if ann.is_file() {
            for clip in crate::synth::read_annotations(&ann)? {
                split.push(&clip.split, dir.join(&clip.file), &ann)?;
            }
            split.sources.insert(dir.display().to_string(), "annotations.jsonl".into());
        } else {
            let files = crate::pipeline::discover(std::slice::from_ref(dir))
                .map_err(|e| TrainingError::Data(e.to_string()))?;
            for file in files {
                let rel =
                    file.strip_prefix(dir).unwrap_or(&file).to_string_lossy().replace('\\', "/");
                split.push(hash_split(&rel), file, dir)?;
            }
            split
                .sources
                .insert(dir.display().to_string(), "sha256(relative path): 80/10/10".into());
        }
    }
    split.sort();
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_split_is_stable_and_roughly_proportional() {
        assert_eq!(hash_split("a/b.mp4"), hash_split("a/b.mp4"));
        let n = 2000;
        let train = (0..n).filter(|i| hash_split(&format!("clip{i}.mp4")) == "train").count();
        assert!((1500..1700).contains(&train), "{train}");
    }

    #[test]
    fn split_file_and_hash_folders() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.mp4", "b.mkv", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let s = split_files(&[dir.path().to_path_buf()], None).unwrap();
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 2);
        let sf = dir.path().join("split.txt");
        std::fs::write(&sf, "a.mp4 val\n{\"file\": \"b.mkv\", \"split\": \"train\"}\n").unwrap();
        let s = split_files(&[dir.path().to_path_buf()], Some(&sf)).unwrap();
        assert_eq!(s.val, vec![dir.path().join("a.mp4")]);
        assert_eq!(s.train, vec![dir.path().join("b.mkv")]);
        std::fs::write(&sf, "a.mp4 holdout\n").unwrap();
        assert!(split_files(&[dir.path().to_path_buf()], Some(&sf)).is_err());
    }
}
