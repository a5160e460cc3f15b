//! `pretext bench pipeline`: the pair pipeline's throughput, with 1 worker and with all cores,
//! side by side with the Python reference (`benches/python/pairs_ref.py`: PyAV seek + decode,
//! PyAV resample, librosa VGGish log-mel; AVC pairs only) run in the same invocation on the same
//! files. For vision-only tasks it also times the `ffmpeg` CLI decoding the same files (decode
//! only).
//!
//! Per-core figures divide by the CPU time the process used (`clock_gettime` on the process CPU
//! clock, as Python's `time.process_time`; `getrusage` for the ffmpeg child), so they
//! stay meaningful on a machine shared with other jobs.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context;
use pretext::pipeline::discover;

use super::pairs::{drive, write_stats, PipelineArgs};

/// Measure the pair pipeline (1 worker and all cores) against the Python reference.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Worker counts to measure (decode workers; feature workers = half, at least 1).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers_list: Vec<usize>,
    /// Python interpreter with PyAV, numpy and librosa, to run the reference in the same run.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The reference script.
    #[arg(long, default_value = "benches/python/pairs_ref.py")]
    script: PathBuf,
}

fn cpu_seconds_of(children: bool) -> Option<f64> {
    if children {
        super::cpu_clock::children_seconds()
    } else {
        super::cpu_clock::process_seconds()
    }
}

fn cpu_seconds() -> Option<f64> {
    cpu_seconds_of(false)
}

struct Row {
    label: String,
    samples: u64,
    wall: f64,
    cpu: f64,
}

impl Row {
    fn sps(&self) -> f64 {
        self.samples as f64 / self.wall.max(1e-9)
    }
    fn per_cpu(&self) -> f64 {
        self.samples as f64 / self.cpu.max(1e-9)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    let mut decode_per_file = None;
    for &w in &args.workers_list {
        let mut p = args.pipeline.clone();
        if p.feature_workers.is_none() {
            p.feature_workers = Some(w.div_ceil(2).max(1) as u16);
        }
        let config = p.config(Some(w))?;
        let (c0, t0) = (cpu_seconds().unwrap_or(0.0), Instant::now());
        let (stats, _) = drive(config, p.count, |_| Ok(()))?;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds().unwrap_or(0.0) - c0;
        println!("== pretext, {w} decode worker(s)");
        print!("{}", stats.table());
        if w == 1 {
            decode_per_file = Some(cpu / stats.files_done.max(1) as f64);
        }
        write_stats(p.stats.as_ref(), &stats)?;
        rows.push(Row {
            label: format!("pretext {w} worker(s)"),
            samples: stats.samples,
            wall,
            cpu,
        });
    }
    if let Some(py) = &args.python {
        let row = python_reference(py, &args)?;
        rows.push(row);
    }
    println!(
        "\n{:<26} {:>8} {:>8} {:>8} {:>10} {:>12}",
        "run", "samples", "wall s", "cpu s", "samples/s", "samples/cpu-s"
    );
    for r in &rows {
        println!(
            "{:<26} {:>8} {:>8.2} {:>8.2} {:>10.1} {:>12.1}",
            r.label,
            r.samples,
            r.wall,
            r.cpu,
            r.sps(),
            r.per_cpu()
        );
    }
    let one = rows.iter().find(|r| r.label == "pretext 1 worker(s)");
    let two = rows.iter().find(|r| r.label == "pretext 2 worker(s)");
    let py = rows.iter().find(|r| r.label.starts_with("python"));
    if let (Some(a), Some(b)) = (one, two) {
        println!("scaling 1 -> 2 workers: {:.2}x samples/s", b.sps() / a.sps());
    }
    if let (Some(a), Some(p)) = (one, py) {
        println!(
            "pretext (1 worker) vs python: {:.2}x samples/s, {:.2}x samples per CPU-second",
            a.sps() / p.sps(),
            a.per_cpu() / p.per_cpu()
        );
    }
    // A vision-only task's visit is decoding frames: compare it with the ffmpeg CLI's.
    let vision_only = !args.pipeline.recipe()?.task.data(pretext::tasks::Role::Train).needs_audio();
    if vision_only {
        if let Some(per_file) = decode_per_file {
            let ff = ffmpeg_decode_per_file(&args.pipeline.inputs)?;
            println!(
                "{}, CPU per file visit: pretext {:.1} ms (whole pipeline: decoding, assembly, \
                 features), ffmpeg CLI decode-only {:.1} ms: ratio {:.2}",
                args.pipeline.recipe.task_name(),
                per_file * 1e3,
                ff * 1e3,
                per_file / ff
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn python_reference(py: &PathBuf, args: &Args) -> anyhow::Result<Row> {
    let p = &args.pipeline;
    let mut cmd = Command::new(py);
    cmd.arg(&args.script)
        .args(&p.inputs)
        .args(["--count", &p.count.to_string(), "--seed", &p.seed.to_string()])
        .args(["--size", &p.frame_size.to_string()])
        .args(["--audio-seconds", &p.audio_seconds.to_string()])
        .args(["--task", p.recipe.task_name()]);
    let out = cmd.output().with_context(|| format!("running {}", py.display()))?;
    if !out.status.success() {
        anyhow::bail!("python reference failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("no JSON from python")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let get = |k: &str| v[k].as_f64().with_context(|| format!("python JSON lacks {k}"));
    Ok(Row {
        label: "python (PyAV+librosa)".into(),
        samples: get("samples")? as u64,
        wall: get("wall_s")?,
        cpu: get("cpu_s")?,
    })
}

/// Mean CPU time of `ffmpeg -threads 1 -i FILE -an -f null -` over the input files.
fn ffmpeg_decode_per_file(inputs: &[PathBuf]) -> anyhow::Result<f64> {
    let files = discover(inputs)?;
    let c0 = cpu_seconds_of(true).unwrap_or(0.0);
    let mut n = 0;
    for f in &files {
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-threads", "1", "-i"])
            .arg(f)
            .args(["-an", "-f", "null", "-"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            n += 1;
        }
    }
    if n == 0 {
        anyhow::bail!("ffmpeg could not decode any input file");
    }
    Ok((cpu_seconds_of(true).unwrap_or(0.0) - c0) / n as f64)
}
