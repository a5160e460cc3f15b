//! Finding media files under paths: recursive, stable sorted, symlink-loop safe, fast.
//!
//! Explicit file arguments are always returned (so a broken file named on the command line is
//! reported, not silently skipped). Inside folders only files with a media extension
//! ([`MEDIA_EXTENSIONS`]) are kept, which skips everything else without opening it; hidden
//! entries (dot files) are skipped. Entries are sorted by name at every level, so the order is
//! stable. Symlinked folders are followed once: each folder's canonical path is remembered, so a
//! loop ends. Unreadable folders and missing paths are returned as errors; the walk continues.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::MediaError;

/// File extensions (lower case) treated as media inside folders.
pub const MEDIA_EXTENSIONS: &[&str] = &[
    "3g2", "3gp", "aac", "ac3", "aif", "aiff", "amr", "ape", "asf", "avi", "caf", "dv", "f4v",
    "flac", "flv", "h264", "hevc", "m2ts", "m2v", "m4a", "m4v", "mj2", "mka", "mkv", "mov", "mp2",
    "mp3", "mp4", "mpeg", "mpg", "mts", "mxf", "nut", "oga", "ogg", "ogv", "opus", "qt", "rm",
    "rmvb", "ts", "vob", "wav", "weba", "webm", "wma", "wmv", "wv", "y4m",
];

/// Whether `path` has one of [`MEDIA_EXTENSIONS`] (case-insensitive).
pub fn is_media_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXTENSIONS.iter().any(|m| m.eq_ignore_ascii_case(e)))
}

/// Media files under `paths` (files as given, folders recursively), and the paths that could
/// not be read, each with its error.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, MediaError)>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk_dir(path, &mut seen_dirs, &mut files, &mut errors),
            Ok(_) => files.push(path.clone()),
            Err(source) => {
                errors.push((path.clone(), MediaError::Io { path: path.clone(), source }))
            }
        }
    }
    (files, errors)
}

fn walk_dir(
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    files: &mut Vec<PathBuf>,
    errors: &mut Vec<(PathBuf, MediaError)>,
) {
    let io_err = |source| (dir.to_path_buf(), MediaError::Io { path: dir.to_path_buf(), source });
    match std::fs::canonicalize(dir) {
        Ok(canon) => {
            if !seen.insert(canon) {
                return; // Already walked: a symlink loop or a second route to the same folder.
            }
        }
        Err(e) => {
            errors.push(io_err(e));
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(io_err(e));
            return;
        }
    };
    let mut names: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                names.push(e.path());
            }
            Err(e) => errors.push(io_err(e)),
        }
    }
    names.sort();
    for path in names {
        // metadata() follows symlinks; a dangling link is reported.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk_dir(&path, seen, files, errors),
            Ok(m) if m.is_file() => {
                if is_media_extension(&path) {
                    files.push(path);
                }
            }
            Ok(_) => {}
            Err(source) => {
                if is_media_extension(&path) {
                    errors.push((path.clone(), MediaError::Io { path, source }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_skips_non_media_and_survives_loops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/inner")).unwrap();
        std::fs::create_dir_all(d.join("a")).unwrap();
        for f in ["b/inner/z.MP4", "b/y.wav", "a/x.mkv", "a/notes.txt", "c.mp3", ".hidden.mp4"] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        std::os::unix::fs::symlink(d, d.join("b/inner/loop")).unwrap();
        let (files, errors) = discover(&[d.to_path_buf(), d.join("a/notes.txt"), d.join("nope")]);
        let rel: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(rel, ["a/x.mkv", "b/inner/z.MP4", "b/y.wav", "c.mp3", "a/notes.txt"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].1.kind(), "io");
    }
}
