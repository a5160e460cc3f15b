//! `pretext embed`: per-clip embeddings of a trained checkpoint, for any task — the first form
//! of batch processing a video folder.
//!
//! Each video is cut into consecutive clips of the model's audio window (`--hop` apart) inside
//! its video stream; a clip is the task's example of the clip's centre, made as validation makes
//! it (no augmentation). Output: `visual.npy` `[N, E]`, `audio.npy` `[N, E]` (audio-visual
//! tasks; NaN rows for files without sound), and `index.jsonl` (row, file, clip time, frame
//! pts, whether the row has audio). With `--frames-npy` (and
//! `--specs-npy`) the model runs on given arrays instead and also writes `logits.npy` (what
//! `docs/python_reference.py check` compares against PyTorch).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use pretext::evaluation::embed_file;
use pretext::pipeline::{discover, InputReader};
use pretext::tasks::{Restored, Role};
use pretext::training::TensorBatch;
use tch::{Device, Kind, Tensor};

/// Per-clip embeddings of videos (or of given arrays) with a trained checkpoint.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (.safetensors written by pretext train).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Video files or folders.
    #[arg(required_unless_present = "frames_npy")]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Seconds between clip starts (default: the model's audio window, i.e. no overlap).
    #[arg(long)]
    pub hop: Option<f64>,
    /// Clips per forward pass.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub batch: u64,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Run on this array as the `frames` field (normalised, `[B, ...]` as the task declares it,
    /// or folded onto channels) instead of videos.
    #[arg(long, conflicts_with = "inputs")]
    pub frames_npy: Option<PathBuf>,
    /// The matching `spec` field (`[B, 1, F, T]`), for audio-visual tasks.
    #[arg(long, requires = "frames_npy")]
    pub specs_npy: Option<PathBuf>,
}

fn npy_tensor(path: &Path, device: Device) -> anyhow::Result<Tensor> {
    let a = pretext::io::read_npy_f32(path)?;
    let dims: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
    Ok(Tensor::from_slice(&a.data).f_view(dims.as_slice())?.f_to(device)?)
}

fn save(path: &Path, t: &Tensor) -> anyhow::Result<()> {
    let t = t.f_to(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let data = Vec::<f32>::try_from(t.f_flatten(0, -1)?)?;
    pretext::io::write_npy_f32(path, &shape, &data)?;
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(super::data::cores());
    let r = Restored::load(&args.checkpoint, device, &[], false)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let _guard = tch::no_grad_guard();
    if let Some(fpath) = &args.frames_npy {
        let mut fields = vec![("frames".to_string(), npy_tensor(fpath, device)?)];
        if let Some(sp) = &args.specs_npy {
            fields.push(("spec".to_string(), npy_tensor(sp, device)?));
        }
        let n = fields[0].1.size()[0] as usize;
        let batch = TensorBatch::from_tensors(fields, vec![Default::default(); n]);
        let e = r.model.embed(&batch)?;
        save(&args.out.join("visual.npy"), &e.vision)?;
        if let Some(a) = &e.audio {
            save(&args.out.join("audio.npy"), a)?;
        }
        save(&args.out.join("logits.npy"), &r.model.logits(&batch)?)?;
        println!("wrote {}", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let input = r.meta.run.model.input.clone();
    let hop = args.hop.unwrap_or(input.clip_seconds);
    anyhow::ensure!(hop.is_finite() && hop > 0.0, "--hop must be a positive number of seconds");
    let files = discover(&args.inputs)?;
    anyhow::ensure!(!files.is_empty(), "no video file in the inputs");
    let task = r.task.data(Role::Eval);
    let mut reader = InputReader::new(task.clone(), input, Duration::from_secs(300));
    let (mut visual, mut index) = (Vec::new(), Vec::new());
    // Audio rows stay aligned with the visual ones: a file without sound gets NaN rows (and
    // "audio": false in the index).
    let mut audio: Vec<Option<Tensor>> = Vec::new();
    let mut failed = 0usize;
    for file in &files {
        let e = match embed_file(
            r.model.as_ref(),
            &mut reader,
            task.as_ref(),
            file,
            hop,
            args.batch as usize,
            device,
        ) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("skipping {}: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        let has_audio = e.audio.is_some();
        for c in &e.clips {
            index.push(serde_json::json!({
                "row": index.len(), "file": c.file, "time": c.time, "frame_pts": c.frame_pts,
                "audio": has_audio,
            }));
        }
        if !has_audio {
            eprintln!("{}: no audio stream; visual embeddings only", file.display());
        }
        audio.push(e.audio);
        visual.push(e.vision);
    }
    anyhow::ensure!(!index.is_empty(), "no clip could be embedded ({failed} files failed)");
    save(&args.out.join("visual.npy"), &Tensor::f_cat(&visual, 0)?)?;
    if let Some(width) = audio.iter().flatten().next().map(|a| a.size()[1]) {
        let rows: Vec<Tensor> = audio
            .into_iter()
            .zip(&visual)
            .map(|(a, v)| {
                a.unwrap_or_else(|| {
                    Tensor::full([v.size()[0], width], f64::NAN, (Kind::Float, Device::Cpu))
                })
            })
            .collect();
        save(&args.out.join("audio.npy"), &Tensor::f_cat(&rows, 0)?)?;
    }
    let ipath = args.out.join("index.jsonl");
    let mut f = pretext::io::AtomicFile::create(&ipath)?;
    for rec in &index {
        writeln!(f.writer(), "{rec}").with_context(|| format!("writing {}", ipath.display()))?;
    }
    f.commit()?;
    println!(
        "{} clips from {} files ({failed} failed) -> {}",
        index.len(),
        files.len() - failed,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
