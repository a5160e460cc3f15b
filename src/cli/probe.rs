//! `pretext probe`: what each media file under some paths holds, as a table or JSON Lines.
//!
//! The walk (`media::discover`) never stops on a broken file: each one is reported with its
//! error kind and reason, and the summary counts it. Exit code 0 means the walk completed;
//! `--strict` turns any failure into exit code 1.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use pretext::media::{self, MediaError, MediaInfo};

/// Report container, duration and streams of media files (folders are walked recursively).
///
/// For each file: container, duration, start time, the video stream (codec, size, average and
/// real frame rate, frame count when the header gives one, rotation) and the audio stream
/// (codec, sample rate, channels, layout, start time). Inside folders, files are taken by media
/// extension in sorted order, hidden files are skipped and symlink loops are not followed; files
/// named explicitly are always probed. Broken files are reported and never stop the walk.
///
/// Exit code: 0 when the walk completed (even with failures), 1 with --strict if any file
/// failed, 2 on usage errors.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files and folders to probe.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print JSON Lines: one object per file with "status": "ok" or "error" (plus "error" and
    /// "error_kind").
    #[arg(long)]
    json: bool,
    /// Exit with code 1 if any file failed.
    #[arg(long)]
    strict: bool,
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

fn json_line(path: &std::path::Path, result: &Result<MediaInfo, MediaError>) -> String {
    let value = match result {
        Ok(info) => {
            let mut v = serde_json::to_value(info).unwrap_or(serde_json::Value::Null);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("status".into(), "ok".into());
            }
            v
        }
        Err(e) => serde_json::json!({
            "path": path,
            "status": "error",
            "error": e.to_string(),
            "error_kind": e.kind(),
        }),
    };
    value.to_string()
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
    let (mut ok, mut failed) = (0usize, 0usize);
    let mut report = |out: &mut dyn Write,
                      path: &std::path::Path,
                      result: Result<MediaInfo, MediaError>|
     -> std::io::Result<()> {
        if result.is_ok() {
            ok += 1;
        } else {
            failed += 1;
        }
        if args.json {
            writeln!(out, "{}", json_line(path, &result))
        } else {
            match &result {
                Ok(info) => writeln!(out, "{}  {}", path.display(), describe(info)),
                Err(e) => writeln!(out, "{}  ERROR [{}] {}", path.display(), e.kind(), e),
            }
        }
    };
    for (path, err) in walk_errors {
        report(&mut out, &path, Err(err))?;
    }
    for path in &files {
        if let Some(bar) = &bar {
            bar.set_message(path.display().to_string());
        }
        let result = media::probe(path);
        report(&mut out, path, result)?;
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        out.flush()?;
        eprintln!("{ok} ok, {failed} failed");
    } else {
        writeln!(out, "{ok} ok, {failed} failed")?;
        out.flush()?;
    }
    Ok(if args.strict && failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
