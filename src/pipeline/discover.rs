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
/// recursively (sorted, hidden entries skipped, symlink loops cut: `media::discover`) and only
/// their video files kept. A missing input or unreadable folder is an error naming it.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, PipelineError> {
    let (files, errors) = crate::media::discover(inputs);
    if let Some((path, err)) = errors.into_iter().next() {
        return Err(PipelineError::Walk { path, source: std::io::Error::other(err.to_string()) });
    }
    let mut out: Vec<PathBuf> =
        files.into_iter().filter(|f| inputs.contains(f) || is_video(f)).collect();
    out.sort();
    out.dedup();
    Ok(out)
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
        assert!(matches!(discover(&[d.join("missing")]), Err(PipelineError::Walk { .. })));
    }
}
