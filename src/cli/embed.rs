//! `pretext embed`: per-clip visual and audio embeddings of a trained checkpoint — the first form
//! of batch processing a video folder.
//!
//! Each video is cut into consecutive clips of the model's audio window (`--hop` apart); a clip
//! is the frame at its centre (decoded and centre-cropped exactly as the pipeline does for
//! validation, no augmentation) and the audio window around it. Output: `visual.npy` `[N, E]`,
//! `audio.npy` `[N, E]` (AVC checkpoints), and `index.jsonl` (row, file, clip time, frame pts).
//! With `--frames-npy`/`--specs-npy` the model runs on given arrays instead and also writes
//! `logits.npy` (what `docs/python_reference.py check` compares against PyTorch).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pretext::features::{Preset, Spectrogram};
use pretext::media::{AudioDecoder, AudioOptions, ResizeMode, VideoDecoder, VideoOptions};
use pretext::models::{AvcNet, FrameOrderNet, ModelConfig};
use pretext::pipeline::{augment_into, discover, Normalize, PipelineConfig};
use pretext::tasks::AugmentParams;
use pretext::training::{checkpoint, TaskKind};
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
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Run on this frames array (`[B, 3, H, W]`, normalised) instead of videos.
    #[arg(long, conflicts_with = "inputs")]
    pub frames_npy: Option<PathBuf>,
    /// The matching spectrogram array (`[B, 1, F, T]`).
    #[arg(long, requires = "frames_npy")]
    pub specs_npy: Option<PathBuf>,
}

enum Net {
    Avc(Box<AvcNet>),
    Order(Box<FrameOrderNet>),
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

struct Clip {
    file: PathBuf,
    time: f64,
    frame_pts: f64,
    frame: Vec<f32>,
    spec: Vec<f32>,
}

fn clips_of(
    path: &Path,
    model: &ModelConfig,
    preset: Preset,
    hop: f64,
    spectrogram: &mut Spectrogram,
) -> anyhow::Result<(Vec<Clip>, (usize, usize))> {
    let side = model.input.frame_size;
    let defaults = PipelineConfig::default();
    let norm = Normalize { mean: defaults.mean, std: defaults.std };
    let opts = VideoOptions {
        size: Some((side + side / 8, side + side / 8)),
        resize: ResizeMode::ShorterSideCrop,
        ..Default::default()
    };
    let mut video = VideoDecoder::open(path, &opts)?;
    let aopts = AudioOptions { sample_rate: preset.config().sample_rate, ..Default::default() };
    let mut audio = AudioDecoder::open(path, &aopts)?;
    let window = model.input.clip_seconds;
    let start = video.info().start_time;
    let end = video.duration().context("the video's duration is unknown")?;
    let centre = AugmentParams {
        crop_x: 0.5,
        crop_y: 0.5,
        flip: false,
        brightness: 1.0,
        contrast: 1.0,
        saturation: 1.0,
    };
    let s = side as usize;
    let mut clips = Vec::new();
    let mut shape = (0, 0);
    let mut t0 = start;
    while t0 + window <= end + 1e-9 {
        let mid = t0 + window / 2.0;
        let frame = video.frame_at(mid)?;
        let mut buf = vec![0f32; 3 * s * s];
        augment_into(&frame, &centre, s, &norm, &mut buf);
        let wave = audio.read(t0, window)?.samples;
        shape = spectrogram.shape(wave.len());
        let spec = spectrogram.compute(&wave)?;
        clips.push(Clip {
            file: path.to_path_buf(),
            time: mid,
            frame_pts: frame.pts,
            frame: buf,
            spec,
        });
        t0 += hop;
    }
    Ok((clips, shape))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(super::data::cores());
    let (meta, tensors) = checkpoint::read_checkpoint(&args.checkpoint)?;
    let vs = tch::nn::VarStore::new(device);
    let net = match meta.run.task {
        TaskKind::Avc | TaskKind::AvcInBatch | TaskKind::LocalizeContrastive => {
            Net::Avc(Box::new(AvcNet::new(&vs.root(), &meta.run.model)?))
        }
        TaskKind::FrameOrder => {
            Net::Order(Box::new(FrameOrderNet::new(&vs.root(), &meta.run.model)?))
        }
    };
    checkpoint::load_variables(&args.checkpoint, &vs, &tensors)?;
    drop(tensors);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let _guard = tch::no_grad_guard();

    if let Some(fpath) = &args.frames_npy {
        let frames = npy_tensor(fpath, device)?;
        match &net {
            Net::Avc(m) => {
                let sp = args.specs_npy.as_ref().context("an AVC checkpoint needs --specs-npy")?;
                let specs = npy_tensor(sp, device)?;
                let (v, a) = m.embed(&frames, &specs)?;
                save(&args.out.join("visual.npy"), &v)?;
                save(&args.out.join("audio.npy"), &a)?;
                save(&args.out.join("logits.npy"), &m.forward_t(&frames, &specs, false)?)?;
            }
            Net::Order(m) => {
                save(&args.out.join("logits.npy"), &m.forward_t(&frames, false)?)?;
            }
        }
        println!("wrote {}", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }

    let preset = Preset::from_name(&meta.run.model.input.spectrogram)?;
    let hop = args.hop.unwrap_or(meta.run.model.input.clip_seconds);
    anyhow::ensure!(hop > 0.0, "--hop must be positive");
    let files = discover(&args.inputs)?;
    anyhow::ensure!(!files.is_empty(), "no video file in the inputs");
    let mut spectrogram = Spectrogram::new(preset.config())?;
    let (mut visual, mut audio) = (Vec::new(), Vec::new());
    let mut index = Vec::new();
    let mut failed = 0usize;
    let s = meta.run.model.input.frame_size as i64;
    for file in &files {
        let (clips, (f, t)) = match clips_of(file, &meta.run.model, preset, hop, &mut spectrogram) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipping {}: {e:#}", file.display());
                failed += 1;
                continue;
            }
        };
        for chunk in clips.chunks(args.batch.max(1)) {
            let b = chunk.len() as i64;
            let fr: Vec<f32> = chunk.iter().flat_map(|c| c.frame.iter().copied()).collect();
            let frames = Tensor::from_slice(&fr).f_view([b, 3, s, s])?.f_to(device)?;
            match &net {
                Net::Avc(m) => {
                    let sp: Vec<f32> = chunk.iter().flat_map(|c| c.spec.iter().copied()).collect();
                    let specs =
                        Tensor::from_slice(&sp).f_view([b, 1, f as i64, t as i64])?.f_to(device)?;
                    let (v, a) = m.embed(&frames, &specs)?;
                    visual.push(v.f_to(Device::Cpu)?);
                    audio.push(a.f_to(Device::Cpu)?);
                }
                Net::Order(m) => visual.push(m.embed_frames(&frames).f_to(Device::Cpu)?),
            }
            for c in chunk {
                index.push(serde_json::json!({
                    "row": index.len(), "file": c.file, "time": c.time, "frame_pts": c.frame_pts,
                }));
            }
        }
    }
    anyhow::ensure!(!index.is_empty(), "no clip could be embedded ({failed} files failed)");
    save(&args.out.join("visual.npy"), &Tensor::f_cat(&visual, 0)?)?;
    if !audio.is_empty() {
        save(&args.out.join("audio.npy"), &Tensor::f_cat(&audio, 0)?)?;
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
