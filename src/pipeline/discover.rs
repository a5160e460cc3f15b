//! Discovery: expand the inputs (files and folders) into a sorted, de-duplicated list of video
//! files. Folders are walked recursively; only names with a video extension are kept, so a
//! folder may also hold annotations, previews or logs. The order is stable (byte order of the
//! path), which makes every later stage reproducible.

use std::path::{Path, PathBuf};

use super::PipelineError;

/// File extensions treated as video (lower case).
pub const VIDEO_EXTENSIONS: &[&str] =
    &["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "flv", "ogv", "3gp"];

/// Whether `path` has a video extension.
pub fn is_video(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expands `inputs`: files are kept as given (whatever their extension), folders are walked
/// recursively for video files. Returns the sorted, de-duplicated list.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, PipelineError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut out)?;
        } else {
            out.push(input.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PipelineError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::Walk { path: dir.to_path_buf(), source: e })?;
    let mut entries = Vec::new();
    for entry in rd {
        let entry =
            entry.map_err(|e| PipelineError::Walk { path: dir.to_path_buf(), source: e })?;
        entries.push(entry.path());
    }
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_video(&p) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        for n in ["b.mp4", "a.MKV", "notes.txt", "sub/c.webm"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        let got = discover(&[d.to_path_buf(), d.join("b.mp4")]).unwrap();
        let names: Vec<_> =
            got.iter().map(|p| p.strip_prefix(d).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.MKV", "b.mp4", "sub/c.webm"]);
        assert!(discover(&[d.join("missing-dir/")]).unwrap().len() == 1);
    }
}
