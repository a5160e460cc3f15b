//! `pretext probe`: what each media file under some paths holds, as a table or JSON Lines.
//!
//! The walk (`media::discover`) never stops on a broken file: each one is reported with its
//! error kind and reason, and the summary counts it. A file that opens but is damaged (cut short
//! according to its container's structure; with `--verify`, anything a full decode finds, see
//! `media::verify`) is reported as "damaged", with where and how. Exit code 0 means the walk
//! completed; `--strict` turns any failure or damage into exit code 1. JSON lines carry the path
//! as text (lossily for names that are not UTF-8) plus `path_bytes` (hex) when it is not UTF-8.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use pretext::media::{self, MediaError, MediaInfo, Verification};

/// Report container, duration and streams of media files (folders are walked recursively).
///
/// For each file: container, duration, start time, the video stream (codec, size, average and
/// real frame rate, frame count when the header gives one, rotation) and the audio stream
/// (codec, sample rate, channels, layout, start time). Inside folders, files are taken by media
/// extension in sorted order, hidden files are skipped and symlink loops are not followed; files
/// named explicitly are always probed. Broken files are reported and never stop the walk.
///
/// A file whose container says it is longer than it is, is reported as damaged (truncated).
/// With --verify every packet of the video and audio streams is decoded and each damaged
/// stretch (decode errors, concealed frames, missing samples, truncation) is listed by time.
///
/// Exit code: 0 when the walk completed (even with failures), 1 with --strict if any file
/// failed or is damaged, 2 on usage errors.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files and folders to probe.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print JSON Lines: one object per file with "status": "ok" or "error" (plus "error" and
    /// "error_kind").
    #[arg(long)]
    json: bool,
    /// Exit with code 1 if any file failed or is damaged.
    #[arg(long)]
    strict: bool,
    /// Decode all of each file and report where it is damaged (slow: one full decode).
    #[arg(long)]
    verify: bool,
    /// Per-file time budget for --verify, in seconds.
    #[arg(long, default_value = "600", value_parser = super::frames::parse_seconds)]
    deadline: std::time::Duration,
}

/// What one file came to.
enum Outcome {
    /// Opened, and (as far as checked) whole.
    Ok(MediaInfo),
    /// Opened, but damaged: the probe, and the full verification when one ran.
    Damaged(MediaInfo, Option<Verification>),
    /// Could not be read.
    Failed(MediaError),
}

fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "?".to_string(), |v| format!("{v:.3}{unit}"))
}

fn describe(info: &MediaInfo) -> String {
    let video = info.video.as_ref().map_or_else(
        || "no video".to_string(),
        |v| {
            let mut s = format!(
                "{} {}x{} {}fps",
                v.codec,
                v.width,
                v.height,
                v.avg_fps.map_or_else(|| "?".into(), |f| format!("{f:.3}"))
            );
            if v.real_fps.is_some() && v.real_fps != v.avg_fps {
                s += &format!(" (r {})", fmt_opt(v.real_fps, ""));
            }
            if let Some(n) = v.frames {
                s += &format!(" {n}f");
            }
            if v.rotation != 0 {
                s += &format!(" rot{}", v.rotation);
            }
            if v.start_time != 0.0 {
                s += &format!(" @{:.3}s", v.start_time);
            }
            s
        },
    );
    let audio = info.audio.as_ref().map_or_else(
        || "no audio".to_string(),
        |a| {
            let mut s = format!("{} {}Hz {}", a.codec, a.sample_rate, a.layout);
            if a.start_time != 0.0 {
                s += &format!(" @{:.3}s", a.start_time);
            }
            s
        },
    );
    format!(
        "{:<12} {:>9} {:<44} {}",
        info.container.split(',').next().unwrap_or(""),
        fmt_opt(info.duration, "s"),
        video,
        audio
    )
}

/// `path` as JSON: text (lossy when not UTF-8), and the raw bytes in hex when not UTF-8.
fn path_fields(path: &std::path::Path) -> serde_json::Map<String, serde_json::Value> {
    use std::os::unix::ffi::OsStrExt;
    let mut m = serde_json::Map::new();
    m.insert("path".into(), path.to_string_lossy().into_owned().into());
    if path.to_str().is_none() {
        let hex: String = path.as_os_str().as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        m.insert("path_bytes".into(), hex.into());
    }
    m
}

/// A serialisable value as a JSON object with its `path` replaced by [`path_fields`] (serde
/// refuses paths that are not UTF-8).
fn object_with_path<T: serde::Serialize + Clone>(
    value: &T,
    path: &std::path::Path,
    set_path: impl FnOnce(&mut T, std::path::PathBuf),
) -> serde_json::Map<String, serde_json::Value> {
    let mut safe = value.clone();
    set_path(&mut safe, std::path::PathBuf::from(path.to_string_lossy().into_owned()));
    let mut m = match serde_json::to_value(&safe) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    m.extend(path_fields(path));
    m
}

fn json_line(path: &std::path::Path, outcome: &Outcome) -> String {
    let value = match outcome {
        Outcome::Ok(info) => {
            let mut m = object_with_path(info, path, |i, p| i.path = p);
            m.insert("status".into(), "ok".into());
            m
        }
        Outcome::Damaged(info, verification) => {
            let mut m = object_with_path(info, path, |i, p| i.path = p);
            m.insert("status".into(), "damaged".into());
            if let Some(v) = verification {
                let vm = object_with_path(v, path, |v, p| v.path = p);
                for key in ["damage", "truncation", "video", "audio"] {
                    if let Some(x) = vm.get(key) {
                        let name =
                            if key == "damage" { key.to_string() } else { format!("verify_{key}") };
                        m.insert(name, x.clone());
                    }
                }
            }
            let summary = verification.as_ref().map(Verification::summary).unwrap_or_else(|| {
                info.integrity.as_ref().map(ToString::to_string).unwrap_or_default()
            });
            m.insert("damage_summary".into(), summary.into());
            m
        }
        Outcome::Failed(e) => {
            let mut m = path_fields(path);
            m.insert("status".into(), "error".into());
            m.insert("error".into(), e.to_string().into());
            m.insert("error_kind".into(), e.kind().into());
            m
        }
    };
    serde_json::Value::Object(value).to_string()
}

/// Probes (and with `verify`, decodes) one file.
fn examine(path: &std::path::Path, verify: bool, deadline: std::time::Duration) -> Outcome {
    let info = match media::probe(path) {
        Ok(info) => info,
        Err(e) => return Outcome::Failed(e),
    };
    if !verify {
        return if info.integrity.is_some() {
            Outcome::Damaged(info, None)
        } else {
            Outcome::Ok(info)
        };
    }
    match media::verify(path, Some(deadline)) {
        Ok(v) if v.is_ok() => Outcome::Ok(info),
        Ok(v) => Outcome::Damaged(info, Some(v)),
        Err(e) => Outcome::Failed(e),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (files, walk_errors) = media::discover(&args.paths);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let bar = if std::io::stderr().is_terminal() && files.len() > 1 {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("probe {bar:40} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let (mut ok, mut damaged, mut failed) = (0usize, 0usize, 0usize);
    let mut report = |out: &mut dyn Write,
                      path: &std::path::Path,
                      outcome: Outcome|
     -> std::io::Result<()> {
        match &outcome {
            Outcome::Ok(_) => ok += 1,
            Outcome::Damaged(..) => damaged += 1,
            Outcome::Failed(_) => failed += 1,
        }
        if args.json {
            return writeln!(out, "{}", json_line(path, &outcome));
        }
        match &outcome {
            Outcome::Ok(info) => writeln!(out, "{}  {}", path.display(), describe(info)),
            Outcome::Damaged(info, v) => {
                let what = match v {
                    Some(v) => v.summary(),
                    None => info.integrity.as_ref().map(ToString::to_string).unwrap_or_default(),
                };
                writeln!(out, "{}  DAMAGED {}\n    {what}", path.display(), describe(info))
            }
            Outcome::Failed(e) => writeln!(out, "{}  ERROR [{}] {}", path.display(), e.kind(), e),
        }
    };
    for (path, err) in walk_errors {
        report(&mut out, &path, Outcome::Failed(err))?;
    }
    for path in &files {
        if let Some(bar) = &bar {
            bar.set_message(path.display().to_string());
        }
        let outcome = examine(path, args.verify, args.deadline);
        report(&mut out, path, outcome)?;
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = if damaged > 0 || args.verify {
        format!("{ok} ok, {damaged} damaged, {failed} failed")
    } else {
        format!("{ok} ok, {failed} failed")
    };
    if args.json {
        out.flush()?;
        eprintln!("{summary}");
    } else {
        writeln!(out, "{summary}")?;
        out.flush()?;
    }
    let bad = failed + damaged > 0;
    Ok(if args.strict && bad { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/v/a\xffb.mp4"));
        let err = MediaError::Empty { path: p.to_path_buf() };
        let v: serde_json::Value =
            serde_json::from_str(&json_line(p, &Outcome::Failed(err))).unwrap();
        assert_eq!(v["path"], "/v/a\u{fffd}b.mp4");
        assert_eq!(v["path_bytes"], "2f762f61ff622e6d7034");
        assert_eq!(v["status"], "error");
        let plain = path_fields(std::path::Path::new("/v/a.mp4"));
        assert!(!plain.contains_key("path_bytes"));
    }
}
