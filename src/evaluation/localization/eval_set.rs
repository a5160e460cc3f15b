//! Evaluation samples: a frame at the model's input size, the audio window centred on it, and
//! the ground truth on the evaluation grid, read from the three supported layouts.
//!
//! - **synth**: clips listed in `annotations.jsonl` (by default the `test` split), `K` frames per
//!   clip on the frame grid, spread over the span where a centred audio window fits (as the AVC
//!   sampler does). The model's inputs come from [`InputReader`], the one path that makes them as
//!   training's validation stream does, and the boxes are mapped through the same view: the
//!   shorter side scaled to the input spec's decode side, then the centred `frame_size` square.
//! - **flickr** / **vggss**: the LVS/EZ-VSL layout `DATA/frames/NAME.jpg` (or `.png`) and
//!   `DATA/audio/NAME.wav`; the image is resized to the model's square input without cropping
//!   (as `transforms.Resize((224, 224))` does), so the boxes keep their published grid, and the
//!   audio window is centred in the file and resampled to the model's rate.

use std::path::{Path, PathBuf};

use crate::evaluation::{EvaluationError as Error, Result};
use crate::features::Spectrogram;
use crate::media::RgbFrame;
use crate::pipeline::{
    augment_into, AugmentParams, Example, Field, InputReader, InputSpec, SampleMeta, Values,
};
use crate::synth::ClipAnnotation;

use super::synth_target::{synth_target_in_view, View};
use super::LocalizationTarget;

/// One sample ready for a model.
#[derive(Debug, Clone)]
pub struct EvalSample {
    /// Ground truth on the evaluation grid.
    pub target: LocalizationTarget,
    /// Source file of the frame.
    pub file: PathBuf,
    /// The model's inputs: `frames` `[3, S, S]` and `spec` `[1, F, T]`.
    pub example: Example,
}

/// The centred `side × side` crop of a frame (the frame itself when it is not larger).
pub fn centre_crop(frame: &RgbFrame, side: u32) -> RgbFrame {
    if frame.width <= side && frame.height <= side {
        return frame.clone();
    }
    let (w, s) = (frame.width as usize, side.min(frame.width).min(frame.height) as usize);
    let x0 = (frame.width as usize - s) / 2;
    let y0 = (frame.height as usize - s) / 2;
    let mut data = Vec::with_capacity(s * s * 3);
    for y in y0..y0 + s {
        data.extend_from_slice(&frame.data[(y * w + x0) * 3..(y * w + x0 + s) * 3]);
    }
    RgbFrame { width: s as u32, height: s as u32, pts: frame.pts, data }
}

/// The part of a `width × height` frame the model sees: the centred square of the shorter side,
/// shrunk by `frame_size / decode_side`.
pub fn model_view(width: u32, height: u32, input: &InputSpec) -> View {
    let (w, h) = (width as f64, height as f64);
    let side = w.min(h) * f64::from(input.frame_size) / f64::from(input.decode_side());
    View { x0: (w - side) / 2.0, y0: (h - side) / 2.0, width: side, height: side }
}

/// Frame times of a clip: `k` frames on the frame grid, spread over the span where a centred
/// window of `clip_seconds` fits (the middle frame when it never fits).
pub fn clip_times(duration: f64, fps: f64, clip_seconds: f64, k: usize) -> Vec<f64> {
    let fps = fps.max(1e-6);
    let n_frames = (duration * fps).floor().max(1.0) as i64;
    let (lo, hi) = (clip_seconds / 2.0, duration - clip_seconds / 2.0);
    let mut idx: Vec<i64> = (0..k.max(1))
        .map(|j| {
            let t = if hi > lo {
                lo + (j as f64 + 0.5) / k.max(1) as f64 * (hi - lo)
            } else {
                duration / 2.0
            };
            ((t * fps).round() as i64).clamp(0, n_frames - 1)
        })
        .collect();
    idx.dedup();
    idx.into_iter().map(|i| i as f64 / fps).collect()
}

/// Samples of the synthetic world: `frames_per_clip` frames of every clip of `split` (all
/// clips when `None`). `data` is the folder holding the clips; `reader` makes the model's
/// inputs exactly as training's validation stream does.
pub fn synth_samples(
    data: &Path,
    clips: &[ClipAnnotation],
    split: Option<&str>,
    frames_per_clip: usize,
    reader: &mut InputReader,
    size: usize,
) -> Result<Vec<EvalSample>> {
    let mut out = Vec::new();
    for clip in clips.iter().filter(|c| split.is_none_or(|s| c.split == s)) {
        out.extend(clip_samples(data, clip, frames_per_clip, reader, size)?);
    }
    Ok(out)
}

/// The samples of one synthetic clip (times where the task has no example are skipped).
pub fn clip_samples(
    data: &Path,
    clip: &ClipAnnotation,
    frames_per_clip: usize,
    reader: &mut InputReader,
    size: usize,
) -> Result<Vec<EvalSample>> {
    let path = data.join(&clip.file);
    let input = reader.input().clone();
    let times = clip_times(clip.duration, clip.fps, input.clip_seconds, frames_per_clip);
    let examples = reader.at(&path, &times)?;
    let view = model_view(clip.width, clip.height, &input);
    Ok(times
        .into_iter()
        .zip(examples)
        .filter_map(|(t, e)| {
            Some(EvalSample {
                target: synth_target_in_view(clip, t, size, view),
                file: path.clone(),
                example: e?,
            })
        })
        .collect())
}

/// The control of a sound-driven map: every sample keeps its frame and ground truth but gets
/// the audio window of a sample from another file (a fixed rotation of the sample list by the
/// largest number of samples per file, moved on past any sample of the same file). A map that
/// follows the sound should lose its hold on the frame's own source; one that only looks at
/// the picture should not notice.
///
/// # Errors
/// If every sample comes from the same file (there is no other sound to give).
pub fn mismatch_audio(samples: &mut [EvalSample]) -> Result<()> {
    let n = samples.len();
    let mut per_file = std::collections::HashMap::<&Path, usize>::new();
    for s in samples.iter() {
        *per_file.entry(s.file.as_path()).or_default() += 1;
    }
    let shift = per_file.values().copied().max().unwrap_or(0);
    let mut donors = Vec::with_capacity(n);
    for i in 0..n {
        let donor = (0..n)
            .map(|k| (i + shift + k) % n)
            .find(|&j| samples[j].file != samples[i].file)
            .ok_or_else(|| {
                Error::Config("mismatched audio needs samples from at least two files".into())
            })?;
        donors.push(donor);
    }
    let spec = |s: &EvalSample| s.example.fields.iter().position(|f| f.name == "spec");
    let audio: Vec<Option<Field>> = donors
        .iter()
        .map(|&j| spec(&samples[j]).map(|k| samples[j].example.fields[k].clone()))
        .collect();
    for (s, a) in samples.iter_mut().zip(audio) {
        match (spec(s), a) {
            (Some(k), Some(a)) => s.example.fields[k] = a,
            _ => return Err(Error::Config("mismatched audio needs samples with a 'spec'".into())),
        }
    }
    Ok(())
}

fn find_with_ext(dir: &Path, name: &str, exts: &[&str]) -> Option<PathBuf> {
    exts.iter().map(|e| dir.join(format!("{name}.{e}"))).find(|p| p.is_file())
}

/// Samples of an image+sound set (Flickr-SoundNet, VGG-SS) for `targets`; targets whose image
/// or sound is missing are skipped and returned by name as the second value. These are images,
/// not video: the image is resized to the model's square (no crop, as the published test
/// scripts), normalised as `input` says, and the sound's centred window becomes the spectrogram.
pub fn image_samples(
    data: &Path,
    targets: &[LocalizationTarget],
    input: &InputSpec,
) -> Result<(Vec<EvalSample>, Vec<String>)> {
    let (mut out, mut missing) = (Vec::new(), Vec::new());
    let fs = input.frame_size;
    let rate = input.sample_rate();
    let mut spectrogram = Spectrogram::new(input.spectrogram_config())?;
    for t in targets {
        let image = find_with_ext(&data.join("frames"), &t.name, &["jpg", "jpeg", "png"]);
        let sound = find_with_ext(&data.join("audio"), &t.name, &["wav"]);
        let (Some(image), Some(sound)) = (image, sound) else {
            missing.push(t.name.clone());
            continue;
        };
        let img = image::open(&image)
            .map_err(|e| Error::Other(format!("{}: {e}", image.display())))?
            .to_rgb8();
        let img = image::imageops::resize(&img, fs, fs, image::imageops::FilterType::Triangle);
        let frame = RgbFrame { width: fs, height: fs, pts: 0.0, data: img.into_raw() };
        let (file_rate, channels, samples) = crate::io::read_wav_f32(&sound)?;
        let ch = usize::from(channels.max(1));
        let mono: Vec<f32> =
            samples.chunks_exact(ch).map(|c| c.iter().sum::<f32>() / ch as f32).collect();
        let duration = mono.len() as f64 / file_rate.max(1) as f64;
        let start = duration / 2.0 - input.clip_seconds / 2.0;
        let n = input.clip_samples();
        let mut window = Vec::with_capacity(n);
        crate::media::resampler::Resampler::new(file_rate, rate).resample(
            &mono,
            0.0,
            start,
            n,
            &mut window,
        );
        window.resize(n, 0.0);
        let s = fs as usize;
        let mut pixels = vec![0.0f32; 3 * s * s];
        augment_into(&frame, &AugmentParams::default(), s, &input.normalize(), &mut pixels);
        let (nf, nt) = spectrogram.shape(n);
        let spec = spectrogram.compute(&window)?;
        let example = Example {
            meta: SampleMeta { file: image.to_string_lossy().into_owned(), ..Default::default() },
            fields: vec![
                Field::f32("frames", &[3, s, s], pixels),
                Field { name: "spec".into(), shape: vec![1, nf, nt], values: Values::F32(spec) },
            ],
        };
        out.push(EvalSample { target: t.clone(), file: image, example });
    }
    Ok((out, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_crop_and_view_agree() {
        let data: Vec<u8> = (0..6 * 4).flat_map(|i| [i as u8, 0, 0]).collect();
        let f = RgbFrame { width: 6, height: 4, pts: 0.0, data };
        let c = centre_crop(&f, 2);
        // Rows 1..3, columns 2..4 of the 6-wide frame: pixels 8, 9, 14, 15.
        assert_eq!((c.width, c.height), (2, 2));
        assert_eq!(c.data.iter().step_by(3).copied().collect::<Vec<_>>(), vec![8, 9, 14, 15]);
        let v = model_view(160, 160, &InputSpec::default());
        assert!((v.width - 160.0 * 96.0 / 108.0).abs() < 1e-9 && (v.x0 - v.y0).abs() < 1e-12);
    }

    #[test]
    fn mismatched_audio_always_comes_from_another_file() {
        let sample = |file: &str, tag: f32| EvalSample {
            target: LocalizationTarget {
                name: file.into(),
                boxes: Vec::new(),
                consensus: crate::evaluation::localization::Consensus::Union,
                time: None,
            },
            file: file.into(),
            example: Example {
                meta: SampleMeta::default(),
                fields: vec![
                    Field::f32("frames", &[1], vec![0.0]),
                    Field::f32("spec", &[1], vec![tag]),
                ],
            },
        };
        // Uneven groups: a has 3 samples, b 1, c 2.
        let files = ["a", "a", "a", "b", "c", "c"];
        let mut s: Vec<_> = files.iter().enumerate().map(|(i, f)| sample(f, i as f32)).collect();
        mismatch_audio(&mut s).unwrap();
        let mut used = Vec::new();
        for (i, x) in s.iter().enumerate() {
            let donor = match &x.example.fields[1].values {
                Values::F32(v) => v[0] as usize,
                _ => unreachable!(),
            };
            assert_ne!(files[donor], files[i], "sample {i} kept audio of its own file");
            used.push(donor);
        }
        // Frames and targets stay; only audio moves.
        assert!(s.iter().zip(files).all(|(x, f)| x.target.name == f));
        let mut one = vec![sample("a", 0.0), sample("a", 1.0)];
        assert!(mismatch_audio(&mut one).is_err());
        assert!(mismatch_audio(&mut []).is_ok());
    }

    #[test]
    fn times_sit_on_the_grid_inside_the_window_span() {
        let t = clip_times(4.0, 25.0, 0.96, 4);
        assert_eq!(t.len(), 4);
        for &x in &t {
            assert!((x * 25.0 - (x * 25.0).round()).abs() < 1e-9);
            assert!((0.44..=3.56).contains(&x), "{x}");
        }
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        // Too short for the window: the middle frame only.
        assert_eq!(clip_times(0.5, 10.0, 0.96, 3), vec![0.3]); // round(2.5) = 3
    }
}
