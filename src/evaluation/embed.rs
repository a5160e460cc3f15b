//! Per-clip embeddings of video files: the first form of batch processing a folder. Each file
//! is cut into consecutive windows of the model's audio length (`hop` apart) inside its video
//! stream; the model's inputs for each window's centre come from
//! [`crate::pipeline::InputReader`] (the task's example of that moment, decoded and assembled
//! exactly as validation does), and the task model's `embed` turns them into vision (and audio)
//! embeddings.

use std::path::{Path, PathBuf};

use tch::{Device, Tensor};

use crate::evaluation::Result;
use crate::pipeline::{pack, Example, FieldSpec, IndexEntry, InputReader, TaskData};
use crate::training::{TaskModel, TensorBatch};

/// One embedded clip.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EmbeddedClip {
    /// The file.
    pub file: PathBuf,
    /// The clip's centre, seconds on the container clock.
    pub time: f64,
    /// Presentation times of the frames the model saw.
    pub frame_pts: Vec<f64>,
}

/// The embeddings of one file.
#[derive(Debug)]
pub struct FileEmbeddings {
    /// One record per row.
    pub clips: Vec<EmbeddedClip>,
    /// `[N, E]` vision embeddings (CPU).
    pub vision: Tensor,
    /// `[N, E]` audio embeddings (CPU), for audio-visual tasks.
    pub audio: Option<Tensor>,
}

/// Centres of consecutive windows of `window` seconds, `hop` apart, inside the video stream.
pub fn window_centres(entry: &IndexEntry, window: f64, hop: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut t0 = entry.video_start;
    while t0 + window <= entry.video_end + 1e-9 && hop > 0.0 {
        out.push(t0 + window / 2.0);
        t0 += hop;
    }
    out
}

/// Embeds every window of `path`, `batch` clips per forward pass.
pub fn embed_file(
    model: &dyn TaskModel,
    reader: &mut InputReader,
    task: &dyn TaskData,
    path: &Path,
    hop: f64,
    batch: usize,
    device: Device,
) -> Result<FileEmbeddings> {
    let entry = InputReader::entry(path)?;
    let times = window_centres(&entry, reader.input().clip_seconds, hop);
    let examples = reader.at_entry(&entry, &times)?;
    let _ = task;
    let mut clips = Vec::new();
    let (mut vision, mut audio) = (Vec::new(), Vec::new());
    let kept: Vec<(f64, Example)> =
        times.into_iter().zip(examples).filter_map(|(t, e)| Some((t, e?))).collect();
    let _guard = tch::no_grad_guard();
    for chunk in kept.chunks(batch.max(1)) {
        let mut ex: Vec<Example> = chunk.iter().map(|(_, e)| e.clone()).collect();
        // The fields these examples hold (all windows of one file alike; a file without sound
        // gives frames only).
        let fields: Vec<FieldSpec> = ex[0]
            .fields
            .iter()
            .map(|f| FieldSpec {
                name: f.name.clone(),
                dtype: f.values.dtype(),
                shape: f.shape.clone(),
            })
            .collect();
        let b = pack(&mut ex, &fields)?;
        let tb = TensorBatch::from_batch(&b, device)?;
        let e = model.embed(&tb)?;
        vision.push(e.vision.f_to(Device::Cpu)?);
        if let Some(a) = e.audio {
            audio.push(a.f_to(Device::Cpu)?);
        }
        for (t, ex) in chunk {
            clips.push(EmbeddedClip {
                file: path.to_path_buf(),
                time: *t,
                frame_pts: ex.meta.frame_pts.clone(),
            });
        }
    }
    if clips.is_empty() {
        return Err(crate::evaluation::EvaluationError::Other(format!(
            "{}: no window of {:.2} s fits the video stream [{:.3}, {:.3}] s",
            path.display(),
            reader.input().clip_seconds,
            entry.video_start,
            entry.video_end
        )));
    }
    Ok(FileEmbeddings {
        clips,
        vision: Tensor::f_cat(&vision, 0)?,
        audio: if audio.is_empty() { None } else { Some(Tensor::f_cat(&audio, 0)?) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_stay_inside_the_video_stream() {
        let e = IndexEntry {
            path: "a.mp4".into(),
            size: 1,
            mtime_ns: 1,
            video_start: 0.52,
            video_end: 3.52,
            fps: 25.0,
            audio: Some((0.0, 3.52)),
        };
        let c = window_centres(&e, 1.0, 1.0);
        assert_eq!(c.len(), 3);
        assert!((c[0] - 1.02).abs() < 1e-9 && (c[2] - 3.02).abs() < 1e-9);
        assert!(window_centres(&e, 4.0, 1.0).is_empty());
    }
}
