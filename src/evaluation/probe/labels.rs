//! Class labels of video files (or of spans of them) for probing frozen features, from three
//! sources:
//!
//! - a synthetic world's `annotations.jsonl`: the sounding on-screen object's class
//!   ([`SynthLabel::Sounding`]; clips with no or several sounding objects are left out), the class
//!   of what is heard, on screen or off ([`SynthLabel::Audio`]), or every visible class as a
//!   multi-label set ([`SynthLabel::Visible`]), or the class of the largest object on screen
//!   ([`SynthLabel::Largest`], a label the frames alone determine);
//! - a CSV of `path,label` or `path,start,end,label` lines (a header line naming the columns is
//!   skipped; paths relative to the CSV's folder); a span's example is taken at its centre;
//! - folder names: `DATA/CLASS/…/file.mp4` is of class `CLASS`.
//!
//! A bad label file is a [`LabelError`] naming the file and the line. Classes are numbered in the
//! order of their names (the world's own numbering for a synthetic world).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A label file or annotation could not be used; each variant names the file and, for a line
/// of it, the line number (1-based).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line of the file is malformed.
    #[error("{path} line {line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The source gave no usable label at all.
    #[error("{0}: no labelled file")]
    Empty(String),
    /// The label source's name is not known.
    #[error("unknown label source '{0}' (expected synth:sounding, synth:audio, synth:largest, synth:visible, csv:PATH or folders)")]
    UnknownSource(String),
}

/// Which annotation of a synthetic world is the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthLabel {
    /// The class of the one sounding on-screen object.
    Sounding,
    /// The class of the one sound heard (on screen or off).
    Audio,
    /// Every visible class (multi-label).
    Visible,
    /// The class of the largest object on screen (mean box area over the clip): a label the
    /// frames alone determine, unlike which object sounds.
    Largest,
}

/// Where labels come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSource {
    /// A synthetic world's annotations.
    Synth(SynthLabel),
    /// A CSV file.
    Csv(PathBuf),
    /// Folder names under the data folder.
    Folders,
}

impl std::str::FromStr for LabelSource {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, LabelError> {
        match s {
            "synth" | "synth:sounding" => Ok(LabelSource::Synth(SynthLabel::Sounding)),
            "synth:audio" => Ok(LabelSource::Synth(SynthLabel::Audio)),
            "synth:visible" => Ok(LabelSource::Synth(SynthLabel::Visible)),
            "synth:largest" => Ok(LabelSource::Synth(SynthLabel::Largest)),
            "folders" => Ok(LabelSource::Folders),
            _ => match s.strip_prefix("csv:") {
                Some(p) if !p.is_empty() => Ok(LabelSource::Csv(PathBuf::from(p))),
                _ => Err(LabelError::UnknownSource(s.to_string())),
            },
        }
    }
}

impl LabelSource {
    /// A short name for reports (`synth:sounding`, `csv:labels.csv`, `folders`).
    pub fn name(&self) -> String {
        match self {
            LabelSource::Synth(SynthLabel::Sounding) => "synth:sounding".into(),
            LabelSource::Synth(SynthLabel::Audio) => "synth:audio".into(),
            LabelSource::Synth(SynthLabel::Visible) => "synth:visible".into(),
            LabelSource::Synth(SynthLabel::Largest) => "synth:largest".into(),
            LabelSource::Csv(p) => format!("csv:{}", p.display()),
            LabelSource::Folders => "folders".into(),
        }
    }
}

/// One labelled file, or a span of one.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledClip {
    /// The video file.
    pub file: PathBuf,
    /// `(start, end)` seconds when the label holds for a span only.
    pub span: Option<(f64, f64)>,
    /// Class indices (one for single-label sources).
    pub classes: Vec<usize>,
}

/// Labels of a data folder.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSet {
    /// Class names, indexed by class number.
    pub names: Vec<String>,
    /// The labelled clips, in file order.
    pub clips: Vec<LabelledClip>,
    /// Whether a clip may have several classes.
    pub multi_label: bool,
    /// Clips the source left out, with why (e.g. no sounding object).
    pub skipped: usize,
}

impl LabelSet {
    /// Reads the labels of `data` from `source`.
    pub fn read(source: &LabelSource, data: &Path) -> Result<Self, LabelError> {
        let set = match source {
            LabelSource::Synth(kind) => synth(&data.join("annotations.jsonl"), data, *kind)?,
            LabelSource::Csv(path) => csv(path)?,
            LabelSource::Folders => folders(data)?,
        };
        if set.clips.is_empty() {
            return Err(LabelError::Empty(source.name()));
        }
        Ok(set)
    }

    /// The single class of each clip (the first of multi-label ones).
    pub fn class_of(&self, clip: usize) -> Option<usize> {
        self.clips.get(clip).and_then(|c| c.classes.first().copied())
    }
}

fn synth(path: &Path, data: &Path, kind: SynthLabel) -> Result<LabelSet, LabelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LabelError::Read { path: path.into(), source: e })?;
    let names: Vec<String> = crate::synth::CLASSES.iter().map(|c| c.name.to_string()).collect();
    let (mut clips, mut skipped) = (Vec::new(), 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let a: crate::synth::ClipAnnotation = serde_json::from_str(line).map_err(|e| {
            LabelError::Line { path: path.into(), line: i + 1, reason: e.to_string() }
        })?;
        let sounding: Vec<usize> =
            a.objects.iter().filter(|o| o.sounding).map(|o| o.class).collect();
        let mut classes = match kind {
            SynthLabel::Sounding => sounding,
            SynthLabel::Audio => sounding.into_iter().chain(a.offscreen_class).collect(),
            SynthLabel::Visible => a.objects.iter().map(|o| o.class).collect(),
            SynthLabel::Largest => {
                let area = |o: &crate::synth::ObjectAnnotation| {
                    let n = o.boxes.len().max(1) as f64;
                    o.boxes.iter().map(|b| f64::from((b[2] - b[0]) * (b[3] - b[1]))).sum::<f64>()
                        / n
                };
                a.objects
                    .iter()
                    .max_by(|x, y| area(x).total_cmp(&area(y)))
                    .map(|o| o.class)
                    .into_iter()
                    .collect()
            }
        };
        classes.sort_unstable();
        classes.dedup();
        if let Some(&c) = classes.iter().find(|&&c| c >= names.len()) {
            return Err(LabelError::Line {
                path: path.into(),
                line: i + 1,
                reason: format!("class {c} is not one of the world's {} classes", names.len()),
            });
        }
        let usable = match kind {
            SynthLabel::Visible => !classes.is_empty(),
            _ => classes.len() == 1,
        };
        if !usable {
            skipped += 1;
            continue;
        }
        clips.push(LabelledClip { file: data.join(&a.file), span: None, classes });
    }
    Ok(LabelSet { names, clips, multi_label: kind == SynthLabel::Visible, skipped })
}

fn number(path: &Path, line: usize, what: &str, s: &str) -> Result<f64, LabelError> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(LabelError::Line {
            path: path.into(),
            line,
            reason: format!("{what} '{s}' is not a non-negative number of seconds"),
        }),
    }
}

/// A named row: the file, its span, the class name.
type NamedRow = (PathBuf, Option<(f64, f64)>, String);

fn csv(path: &Path) -> Result<LabelSet, LabelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LabelError::Read { path: path.into(), source: e })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut rows: Vec<NamedRow> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if rows.is_empty() && cols.first().is_some_and(|c| c.eq_ignore_ascii_case("path")) {
            continue;
        }
        let bad = |reason: String| LabelError::Line { path: path.into(), line: i + 1, reason };
        let (file, span, label) = match cols.as_slice() {
            [f, l] => (*f, None, *l),
            [f, s, e, l] => {
                let (s, e) = (number(path, i + 1, "start", s)?, number(path, i + 1, "end", e)?);
                if e <= s {
                    return Err(bad(format!("end {e} is not after start {s}")));
                }
                (*f, Some((s, e)), *l)
            }
            _ => {
                return Err(bad(format!(
                    "expected 'path,label' or 'path,start,end,label', found {} columns",
                    cols.len()
                )))
            }
        };
        if file.is_empty() || label.is_empty() {
            return Err(bad("empty path or label".into()));
        }
        let p = PathBuf::from(file);
        rows.push((if p.is_absolute() { p } else { base.join(p) }, span, label.to_string()));
    }
    Ok(named(rows))
}

fn named(rows: Vec<NamedRow>) -> LabelSet {
    let index: BTreeMap<String, usize> = rows
        .iter()
        .map(|r| r.2.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, i))
        .collect();
    let names = index.keys().cloned().collect();
    let clips = rows
        .into_iter()
        .map(|(file, span, l)| LabelledClip { file, span, classes: vec![index[&l]] })
        .collect();
    LabelSet { names, clips, multi_label: false, skipped: 0 }
}

fn folders(data: &Path) -> Result<LabelSet, LabelError> {
    let files = crate::pipeline::discover(&[data.to_path_buf()]).map_err(|e| LabelError::Read {
        path: data.into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for f in files {
        let class = f
            .strip_prefix(data)
            .ok()
            .and_then(|r| r.components().next())
            .filter(|_| f.parent() != Some(data))
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        match class {
            Some(c) => rows.push((f, None, c)),
            None => skipped += 1,
        }
    }
    let mut set = named(rows);
    set.skipped = skipped;
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_spans_and_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, "path,label\na.mp4,dog\n\n# note\nsub/b.mp4,1.0,2.5,cat\n").unwrap();
        let s = LabelSet::read(&LabelSource::Csv(p), dir.path()).unwrap();
        assert_eq!(s.names, vec!["cat", "dog"]);
        assert_eq!(s.clips[0].file, dir.path().join("a.mp4"));
        assert_eq!(s.clips[0].classes, vec![1]);
        assert_eq!(s.clips[1].span, Some((1.0, 2.5)));
        assert_eq!(s.clips[1].classes, vec![0]);
    }

    #[test]
    fn bad_csv_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        for (body, line, says) in [
            ("a.mp4,dog\nb.mp4\n", 2, "found 1 columns"),
            ("a.mp4,dog\n\nb.mp4,x,2,cat\n", 3, "start 'x'"),
            ("a.mp4,3,2,cat\n", 1, "not after start"),
            ("a.mp4,\n", 1, "empty"),
        ] {
            std::fs::write(&p, body).unwrap();
            let e = LabelSet::read(&LabelSource::Csv(p.clone()), dir.path()).unwrap_err();
            match &e {
                LabelError::Line { line: l, reason, .. } => {
                    assert_eq!(*l, line, "{body:?}: {e}");
                    assert!(reason.contains(says), "{body:?}: {e}");
                }
                other => panic!("{body:?}: {other}"),
            }
            assert!(e.to_string().contains(&format!("l.csv line {line}")), "{e}");
        }
        std::fs::write(&p, "").unwrap();
        assert!(matches!(
            LabelSet::read(&LabelSource::Csv(p), dir.path()),
            Err(LabelError::Empty(_))
        ));
    }

    #[test]
    fn synthetic_world_labels() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let sounding = LabelSet::read(&LabelSource::Synth(SynthLabel::Sounding), &data).unwrap();
        let visible = LabelSet::read(&LabelSource::Synth(SynthLabel::Visible), &data).unwrap();
        assert_eq!(sounding.names.len(), 9);
        assert!(visible.multi_label && !sounding.multi_label);
        assert_eq!(sounding.clips.len() + sounding.skipped, visible.clips.len() + visible.skipped);
        let ann = crate::synth::read_annotations(&data.join("annotations.jsonl")).unwrap();
        for c in &sounding.clips {
            let a = ann.iter().find(|a| data.join(&a.file) == c.file).unwrap();
            let s: Vec<usize> = a.objects.iter().filter(|o| o.sounding).map(|o| o.class).collect();
            assert_eq!(c.classes, s);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("annotations.jsonl"), "{\"file\": 3}\n").unwrap();
        let e = LabelSet::read(&LabelSource::Synth(SynthLabel::Audio), dir.path()).unwrap_err();
        assert!(e.to_string().contains("annotations.jsonl line 1"), "{e}");
        assert!("csv:".parse::<LabelSource>().is_err());
        assert_eq!("synth:audio".parse::<LabelSource>().unwrap().name(), "synth:audio");
        let largest = LabelSet::read(&"synth:largest".parse().unwrap(), &data).unwrap();
        assert_eq!(largest.clips.len(), ann.len(), "every clip has a largest object");
        for (c, a) in largest.clips.iter().zip(&ann) {
            assert_eq!(c.classes.len(), 1);
            assert!(a.objects.iter().any(|o| o.class == c.classes[0]));
        }
    }

    #[test]
    fn folder_names_are_classes() {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/clip_0000.mp4");
        for (d, n) in [("dog", "a.mp4"), ("cat", "b.mp4"), ("dog", "c.mp4")] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
            std::fs::copy(&src, dir.path().join(d).join(n)).unwrap();
        }
        std::fs::copy(&src, dir.path().join("loose.mp4")).unwrap();
        let s = LabelSet::read(&LabelSource::Folders, dir.path()).unwrap();
        assert_eq!(s.names, vec!["cat", "dog"]);
        assert_eq!(s.clips.len(), 3);
        assert_eq!(s.skipped, 1);
        let dogs = s.clips.iter().filter(|c| c.classes == vec![1]).count();
        assert_eq!(dogs, 2);
    }
}
