//! The index and its manifest cache. Each input file is probed once; the result is cached in a
//! JSON file keyed by path + size + modification time, so a re-run over the same folders starts
//! without touching a single container. A changed file (size or mtime) is probed again.
//!
//! An [`IndexEntry`] holds only what samplers need (stream extents, frame rate, audio presence):
//! the index is the one structure whose size grows with the number of files. When the index
//! stage verifies files (decodes them whole, issue #26), each [`Verdict`] is cached the same
//! way, keyed by path + size + mtime, whether the file passed or not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::PipelineError;
use crate::media::MediaInfo;

/// Manifest file format version.
const VERSION: u32 = 1;

/// What the samplers know about one usable file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexEntry {
    /// The file.
    pub path: PathBuf,
    /// Size in bytes when probed.
    pub size: u64,
    /// Modification time (ns since the Unix epoch) when probed.
    pub mtime_ns: u128,
    /// First video time in seconds (container clock).
    pub video_start: f64,
    /// End of the video stream in seconds.
    pub video_end: f64,
    /// Frame rate used for the sampling grid.
    pub fps: f64,
    /// Audio stream extent `[start, end)` in seconds, when the file has audio.
    pub audio: Option<(f64, f64)>,
}

impl IndexEntry {
    /// Builds an entry from a probe result; `None` when the file has no usable video stream
    /// or no known duration.
    pub fn from_probe(info: &MediaInfo, size: u64, mtime_ns: u128) -> Option<IndexEntry> {
        let v = info.video.as_ref()?;
        let fps = v.avg_fps.or(v.real_fps).filter(|f| f.is_finite() && *f > 0.0 && *f < 1000.0)?;
        let vdur = v.duration.or(info.duration).filter(|d| d.is_finite() && *d > 0.0)?;
        let audio = info.audio.as_ref().and_then(|a| {
            let d = a.duration.or(info.duration).filter(|d| d.is_finite() && *d > 0.0)?;
            Some((a.start_time, a.start_time + d))
        });
        Some(IndexEntry {
            path: info.path.clone(),
            size,
            mtime_ns,
            video_start: v.start_time,
            video_end: v.start_time + vdur,
            fps,
            audio,
        })
    }

    /// The time of frame `i` on the nominal frame grid.
    pub fn frame_time(&self, i: u64) -> f64 {
        self.video_start + i as f64 / self.fps
    }

    /// The grid frame nearest `t`, if it lies inside the stream: how a task plans the example
    /// of a chosen moment (`TaskData::plan_at`).
    pub fn frame_at(&self, t: f64) -> Option<u64> {
        let i = ((t - self.video_start) * self.fps).round();
        (i >= 0.0 && (i as u64) < self.frame_count()).then_some(i as u64)
    }

    /// Number of whole frames on the grid.
    pub fn frame_count(&self) -> u64 {
        (((self.video_end - self.video_start) * self.fps) + 1e-6).floor().max(0.0) as u64
    }

    /// `k` frame indices on the grid, evenly spread over an audio window of `a` seconds centred
    /// on frame `i` (spacing `a × fps / k` frames, at least 1), clamped to the file; `[i]` for
    /// `k = 1`. How an audio-visual example stacks its frames (the AVC sampler, the probes).
    pub fn window_frames(&self, i: u64, k: usize, a: f64) -> Vec<u64> {
        let last = self.frame_count().saturating_sub(1) as f64;
        let step = (a * self.fps / k as f64).round().max(1.0);
        let mid = (k as f64 - 1.0) / 2.0;
        (0..k)
            .map(|j| {
                let off = ((j as f64 - mid) * step).round();
                (i as f64 + off).clamp(0.0, last) as u64
            })
            .collect()
    }
}

/// Size and modification time of `path`, the manifest key besides the path.
pub fn file_stamp(path: &Path) -> std::io::Result<(u64, u128)> {
    let md = std::fs::metadata(path)?;
    let mtime = md.modified()?.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    Ok((md.len(), mtime))
}

/// The cached result of verifying one file (`media::verify`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    /// The file.
    pub path: PathBuf,
    /// Size in bytes when verified.
    pub size: u64,
    /// Modification time (ns since the Unix epoch) when verified.
    pub mtime_ns: u128,
    /// Whether it decoded whole and without damage.
    pub ok: bool,
    /// What was wrong ("ok" when nothing).
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct ManifestFile {
    version: u32,
    entries: Vec<IndexEntry>,
    /// Absent in manifests written before verification existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    verdicts: Vec<Verdict>,
}

/// The probe cache. Lookups succeed only when size and mtime still match.
#[derive(Debug, Default)]
pub struct Manifest {
    path: Option<PathBuf>,
    entries: BTreeMap<PathBuf, IndexEntry>,
    verdicts: BTreeMap<PathBuf, Verdict>,
    dirty: bool,
}

impl Manifest {
    /// Loads the manifest at `path` (an absent file is an empty manifest). A file of another
    /// version is ignored and rewritten.
    pub fn load(path: Option<&Path>) -> Result<Self, PipelineError> {
        let mut m = Manifest { path: path.map(Path::to_path_buf), ..Default::default() };
        let Some(path) = path else { return Ok(m) };
        if !path.exists() {
            return Ok(m);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::file(path, "reading the manifest", e))?;
        let file: ManifestFile =
            serde_json::from_str(&text).map_err(|e| PipelineError::Malformed {
                path: path.to_path_buf(),
                what: "manifest",
                reason: e.to_string(),
            })?;
        if file.version == VERSION {
            m.entries = file.entries.into_iter().map(|e| (e.path.clone(), e)).collect();
            m.verdicts = file.verdicts.into_iter().map(|v| (v.path.clone(), v)).collect();
        } else {
            m.dirty = true;
        }
        Ok(m)
    }

    /// The cached entry for `path` if it was probed at this size and mtime.
    pub fn get(&self, path: &Path, size: u64, mtime_ns: u128) -> Option<&IndexEntry> {
        self.entries.get(path).filter(|e| e.size == size && e.mtime_ns == mtime_ns)
    }

    /// Records a fresh probe result.
    pub fn insert(&mut self, entry: IndexEntry) {
        self.entries.insert(entry.path.clone(), entry);
        self.dirty = true;
    }

    /// The cached verification verdict for `path` if it was verified at this size and mtime.
    pub fn verdict(&self, path: &Path, size: u64, mtime_ns: u128) -> Option<&Verdict> {
        self.verdicts.get(path).filter(|v| v.size == size && v.mtime_ns == mtime_ns)
    }

    /// Records a fresh verification verdict.
    pub fn insert_verdict(&mut self, verdict: Verdict) {
        self.verdicts.insert(verdict.path.clone(), verdict);
        self.dirty = true;
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the manifest is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the manifest atomically if anything changed.
    pub fn save(&mut self) -> Result<(), PipelineError> {
        let Some(path) = self.path.clone() else { return Ok(()) };
        if !self.dirty {
            return Ok(());
        }
        let file = ManifestFile {
            version: VERSION,
            entries: self.entries.values().cloned().collect(),
            verdicts: self.verdicts.values().cloned().collect(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| PipelineError::Malformed {
            path: path.clone(),
            what: "manifest",
            reason: e.to_string(),
        })?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| PipelineError::file(parent, "creating the manifest folder", e))?;
        }
        crate::io::write_atomic(&path, &text).map_err(|e| PipelineError::File {
            path: path.clone(),
            what: "writing the manifest",
            source: std::io::Error::other(e.to_string()),
        })?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, size: u64, mtime: u128) -> IndexEntry {
        IndexEntry {
            path: path.into(),
            size,
            mtime_ns: mtime,
            video_start: 0.0,
            video_end: 2.0,
            fps: 25.0,
            audio: Some((0.0, 2.0)),
        }
    }

    #[test]
    fn frame_at_snaps_to_the_grid_inside_the_stream() {
        let e = IndexEntry { video_start: 0.5, ..entry("/v/a.mp4", 1, 1) }; // frames 0..37
        assert_eq!(e.frame_count(), 37);
        assert_eq!(e.frame_at(0.5), Some(0));
        assert_eq!(e.frame_at(0.5 + 3.0 / 25.0 + 0.015), Some(3), "nearest, not floor");
        assert_eq!(e.frame_at(0.5 + 36.0 / 25.0), Some(36));
        assert_eq!(e.frame_at(0.5 + 37.0 / 25.0), None, "past the last frame");
        assert_eq!(e.frame_at(0.4), None, "before the stream");
    }

    #[test]
    fn cache_round_trip_and_invalidation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/manifest.json");
        let mut m = Manifest::load(Some(&path)).unwrap();
        assert!(m.is_empty());
        m.insert(entry("/v/a.mp4", 10, 5));
        m.save().unwrap();
        let m2 = Manifest::load(Some(&path)).unwrap();
        assert_eq!(m2.len(), 1);
        assert!(m2.get(Path::new("/v/a.mp4"), 10, 5).is_some());
        assert!(m2.get(Path::new("/v/a.mp4"), 11, 5).is_none(), "size change invalidates");
        assert!(m2.get(Path::new("/v/a.mp4"), 10, 6).is_none(), "mtime change invalidates");
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(Manifest::load(Some(&path)), Err(PipelineError::Malformed { .. })));
    }

    #[test]
    fn verdicts_are_cached_like_probe_results() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        // A manifest written before verdicts existed still loads.
        std::fs::write(&path, r#"{"version":1,"entries":[]}"#).unwrap();
        let mut m = Manifest::load(Some(&path)).unwrap();
        m.insert_verdict(Verdict {
            path: "/v/bad.webm".into(),
            size: 10,
            mtime_ns: 5,
            ok: false,
            reason: "truncated".into(),
        });
        m.save().unwrap();
        let m2 = Manifest::load(Some(&path)).unwrap();
        let v = m2.verdict(Path::new("/v/bad.webm"), 10, 5).unwrap();
        assert!(!v.ok && v.reason == "truncated");
        assert!(m2.verdict(Path::new("/v/bad.webm"), 11, 5).is_none(), "size change invalidates");
    }

    #[test]
    fn frame_grid() {
        let e = entry("/v/a.mp4", 1, 1);
        assert_eq!(e.frame_count(), 50);
        assert!((e.frame_time(25) - 1.0).abs() < 1e-12);
    }
}
