//! `pretext bench spectrogram`: spectrograms per second on one thread, pretext against librosa
//! and torchaudio measured in the same run.
//!
//! pretext computes a batch of clips with [`Spectrogram::compute_batch_into`] (one thread, one
//! extractor, no allocation per call), warmed up once and timed `--repeats` times; the median
//! gives spectrograms per second. With `--python PY`, the reference script
//! `benches/python/spectrogram_ref.py` is run with the same preset, batch and repeat count under
//! one BLAS/OpenMP/torch thread, its JSON lines are parsed, and the ratios are printed.
//!
//! Both sides are timed by the CPU time of the computing thread (`clock_gettime` on the thread
//! CPU clock, which is what Python's `time.thread_time` reads) as well as by the wall clock:
//! on a shared machine wall time mostly measures the neighbours, CPU time much less so. pretext
//! is measured before and after the references and the median is taken over both runs, so a
//! change of machine load during the run does not favour either side.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use rand::{Rng, SeedableRng};

use pretext::features::{Preset, Spectrogram};

use super::spectrogram::PresetArg;

/// Spectrograms per second on one thread, against librosa and torchaudio.
///
/// Times pretext on a batch of clips and, when --python is given, runs
/// benches/python/spectrogram_ref.py with the same preset, batch and repeats (one thread each:
/// OMP/MKL/OpenBLAS/torch threads = 1), then prints specs/s and pretext's speed-up.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spectrogram recipe.
    #[arg(long, value_enum, default_value_t = PresetArg::Vggish)]
    preset: PresetArg,
    /// Clips per batch.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clips: u32,
    /// Seconds per clip.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Timed repetitions of the whole batch (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeats: u32,
    /// Python interpreter with numpy, scipy, librosa, torch and torchaudio; runs the references.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The reference script.
    #[arg(long, default_value = "benches/python/spectrogram_ref.py")]
    script: PathBuf,
}

/// One measured implementation.
struct Row {
    name: String,
    /// Spectrograms per second of thread CPU time.
    cpu_rate: f64,
    /// Spectrograms per second of wall time.
    wall_rate: f64,
    shape: String,
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 60.0) {
        bail!("--seconds must be in (0, 60], got {}", args.seconds);
    }
    let preset = Preset::from(args.preset);
    let mut spec = Spectrogram::new(preset.config())?;
    let n = (args.seconds * f64::from(spec.sample_rate())).round() as usize;
    let clips = args.clips as usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let data: Vec<Vec<f32>> =
        (0..clips).map(|_| (0..n).map(|_| rng.gen_range(-0.3f32..0.3)).collect()).collect();
    let waves: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
    let (f, t) = spec.shape(n);
    if t == 0 {
        bail!("{} s clips are too short for preset {preset}", args.seconds);
    }
    let mut out = vec![0.0f32; clips * f * t];
    spec.compute_batch_into(&waves, &mut out)?; // warm-up
    let mut cpu = Vec::with_capacity(2 * args.repeats as usize);
    let mut wall = Vec::with_capacity(2 * args.repeats as usize);
    let mut measure = |cpu: &mut Vec<f64>, wall: &mut Vec<f64>| -> anyhow::Result<()> {
        for _ in 0..args.repeats {
            let (c0, w0) = (super::cpu_clock::thread_seconds(), Instant::now());
            spec.compute_batch_into(&waves, &mut out)?;
            wall.push(w0.elapsed().as_secs_f64());
            cpu.push(
                super::cpu_clock::thread_seconds().zip(c0).map_or(f64::NAN, |(c1, c0)| c1 - c0),
            );
        }
        Ok(())
    };
    measure(&mut cpu, &mut wall)?;
    let references = match &args.python {
        Some(python) => run_references(&args, python, preset)?,
        None => Vec::new(),
    };
    if !references.is_empty() {
        measure(&mut cpu, &mut wall)?;
    }
    let pretext = Row {
        name: "pretext".into(),
        cpu_rate: clips as f64 / median(&mut cpu),
        wall_rate: clips as f64 / median(&mut wall),
        shape: format!("{f}x{t}"),
    };
    println!(
        "preset {preset}: {clips} clips x {} s at {} Hz, one thread, median of {} runs",
        args.seconds,
        spec.sample_rate(),
        cpu.len()
    );
    println!(
        "{:<38} {:>11} {:>8} {:>11} {:>8} {:>9}",
        "implementation", "specs/s cpu", "ratio", "specs/s wall", "ratio", "shape"
    );
    for row in std::iter::once(&pretext).chain(&references) {
        println!(
            "{:<38} {:>11.1} {:>7.2}x {:>11.1} {:>7.2}x {:>9}",
            row.name,
            row.cpu_rate,
            pretext.cpu_rate / row.cpu_rate,
            row.wall_rate,
            pretext.wall_rate / row.wall_rate,
            row.shape
        );
    }
    println!("(ratio = pretext's speed-up over that implementation)");
    Ok(ExitCode::SUCCESS)
}

/// The median (NaN when any value is NaN, i.e. CPU time was unavailable).
fn median(times: &mut [f64]) -> f64 {
    if times.iter().any(|t| t.is_nan()) {
        return f64::NAN;
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Runs the Python references with one thread each and parses their JSON lines.
fn run_references(
    args: &Args,
    python: &std::path::Path,
    preset: Preset,
) -> anyhow::Result<Vec<Row>> {
    if !args.script.is_file() {
        bail!(
            "reference script {} not found (run from the repository root or pass --script)",
            args.script.display()
        );
    }
    let output = Command::new(python)
        .arg(&args.script)
        .args(["--preset", preset.name()])
        .args(["--clips", &args.clips.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--repeats", &args.repeats.to_string()])
        .envs(
            ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"]
                .map(|k| (k, "1")),
        )
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!(
            "{} {} failed:\n{}",
            python.display(),
            args.script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(name), Some(cpu_rate), Some(wall_rate)) =
            (v["name"].as_str(), v["cpu_specs_per_s"].as_f64(), v["wall_specs_per_s"].as_f64())
        else {
            continue;
        };
        let shape = v["shape"]
            .as_array()
            .map(|s| s.iter().skip(1).map(|d| d.to_string()).collect::<Vec<_>>().join("x"))
            .unwrap_or_default();
        rows.push(Row { name: name.to_string(), cpu_rate, wall_rate, shape });
    }
    if rows.is_empty() {
        bail!("the reference script printed no results");
    }
    Ok(rows)
}
