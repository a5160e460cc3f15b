//! An in-memory [`DataSource`] with learnable structure, for tests, smoke runs (`--data toy`) and
//! `pretext bench train` (where it measures the trainer alone, with no decoding).
//!
//! AVC: each example has a visual class (a colour/stripe pattern) and an audio class (a band of
//! energy at a class-specific frequency); positives share the class. Frame order: a bright square
//! moves across five frames a..e; positives are (b,c,d) or (d,c,b), negatives (b,a,d) or (b,e,d),
//! 25% positives as in Shuffle & Learn. Contrastive localisation: AVC positives only. Every example is drawn from a ChaCha stream seeded by
//! (seed, index), so any example can be regenerated on its own: skipping is exact.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{BatchIter, DataSource, TaskKind, TrainingError};
use crate::pipeline::{Batch, SampleMeta};

/// Generated data of a given geometry.
#[derive(Debug, Clone)]
pub struct ToySource {
    /// The task the batches are for.
    pub task: TaskKind,
    /// Frame side in pixels.
    pub frame_size: usize,
    /// Spectrogram mel bins.
    pub spec_bins: usize,
    /// Spectrogram frames.
    pub spec_frames: usize,
    /// Number of classes.
    pub classes: usize,
    /// Seed of the stream.
    pub seed: u64,
    /// Validation examples.
    pub val_examples: usize,
    /// Noise amplitude (higher = harder).
    pub noise: f32,
}

impl ToySource {
    /// A source for `task` with VGGish-sized spectrograms (64 × 96).
    pub fn new(task: TaskKind, frame_size: usize, seed: u64) -> Self {
        ToySource {
            task,
            frame_size,
            spec_bins: 64,
            spec_frames: 96,
            classes: 8,
            seed,
            val_examples: 256,
            noise: 0.5,
        }
    }

    fn rng(&self, stream: u64, index: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(
            self.seed
                ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03),
        )
    }

    fn avc_example(
        &self,
        rng: &mut ChaCha8Rng,
        frames: &mut Vec<f32>,
        specs: &mut Vec<f32>,
        matching_only: bool,
    ) -> (i64, &'static str) {
        let (s, k) = (self.frame_size, self.classes);
        let cv = rng.gen_range(0..k);
        // In-batch objectives take positives only (their negatives are the batch's other audio).
        let positive = rng.gen_bool(0.5) || matching_only;
        let ca = if positive { cv } else { (cv + rng.gen_range(1..k)) % k };
        for c in 0..3 {
            let level = if (cv >> c) & 1 == 1 { 1.0 } else { -1.0 };
            for y in 0..s {
                for x in 0..s {
                    let stripe = if ((x + y * (cv % 3)) / 8) % 2 == 0 { 0.5 } else { -0.5 };
                    frames.push(
                        level + stripe * (cv / 4) as f32 + self.noise * rng.gen_range(-1.0f32..1.0),
                    );
                }
            }
        }
        let band = (ca * self.spec_bins) / k + self.spec_bins / (2 * k);
        for f in 0..self.spec_bins {
            let on = f.abs_diff(band) <= 2;
            for _ in 0..self.spec_frames {
                specs.push(if on { 2.0 } else { 0.0 } + self.noise * rng.gen_range(-1.0f32..1.0));
            }
        }
        (i64::from(positive), if positive { "positive" } else { "easy" })
    }

    fn order_example(&self, rng: &mut ChaCha8Rng, frames: &mut Vec<f32>) -> (i64, &'static str) {
        let s = self.frame_size;
        let y0 = rng.gen_range(0..s / 2);
        let x0 = rng.gen_range(0..s / 4);
        let step = (s / 8).max(1);
        // Frame positions a..e = 0..4; choose the tuple.
        let r: f64 = rng.gen();
        let (order, label, kind): ([usize; 3], i64, &str) = if r < 0.125 {
            ([1, 2, 3], 1, "order")
        } else if r < 0.25 {
            ([3, 2, 1], 1, "order")
        } else if r < 0.625 {
            ([1, 0, 3], 0, "shuffled")
        } else {
            ([1, 4, 3], 0, "shuffled")
        };
        for &t in &order {
            let x = x0 + t * step;
            for c in 0..3 {
                for yy in 0..s {
                    for xx in 0..s {
                        let inside = yy >= y0 && yy < y0 + s / 4 && xx >= x && xx < x + s / 4;
                        let v = if inside { 1.5 - 0.5 * c as f32 } else { -0.5 };
                        frames.push(v + self.noise * 0.5 * rng.gen_range(-1.0f32..1.0));
                    }
                }
            }
        }
        (label, kind)
    }

    /// Builds the batch of examples `start..start + n` of stream `stream` (0 train, 1 val).
    pub fn batch(&self, stream: u64, start: u64, n: usize) -> Batch {
        let s = self.frame_size;
        let mut b = Batch::default();
        for i in 0..n as u64 {
            let mut rng = self.rng(stream, start + i);
            let (label, kind) = match self.task {
                TaskKind::Avc | TaskKind::LocalizeContrastive | TaskKind::AvcInBatch => {
                    // In-batch AVC trains on matching pairs and validates on labelled ones.
                    let matching_only = self.task == TaskKind::LocalizeContrastive
                        || (self.task == TaskKind::AvcInBatch && stream == 0);
                    self.avc_example(&mut rng, &mut b.frames, &mut b.specs, matching_only)
                }
                TaskKind::FrameOrder => self.order_example(&mut rng, &mut b.frames),
            };
            b.labels.push(label);
            b.meta.push(SampleMeta {
                seq: start + i,
                file: format!("toy://{stream}/{}", start + i),
                video_times: vec![0.0],
                audio_file: None,
                audio_time: None,
                label,
                kind: kind.to_string(),
                augment: None,
                frame_pts: Vec::new(),
            });
        }
        match self.task {
            TaskKind::Avc | TaskKind::LocalizeContrastive | TaskKind::AvcInBatch => {
                b.frame_shape = vec![n, 3, s, s];
                b.spec_shape = vec![n, 1, self.spec_bins, self.spec_frames];
            }
            TaskKind::FrameOrder => b.frame_shape = vec![n, 3, 3, s, s],
        }
        b
    }
}

impl DataSource for ToySource {
    fn train(&self, skip: u64, batch: usize) -> Result<BatchIter, TrainingError> {
        let me = self.clone();
        let mut next = skip;
        Ok(Box::new(std::iter::from_fn(move || {
            let b = me.batch(0, next, batch);
            next += batch as u64;
            Some(Ok(b))
        })))
    }

    fn val(&self, batch: usize) -> Result<BatchIter, TrainingError> {
        let me = self.clone();
        let total = self.val_examples as u64;
        let mut next = 0u64;
        Ok(Box::new(std::iter::from_fn(move || {
            if next >= total {
                return None;
            }
            let n = (total - next).min(batch as u64) as usize;
            let b = me.batch(1, next, n);
            next += n as u64;
            Some(Ok(b))
        })))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "source": "toy",
            "task": self.task.name(),
            "frame_size": self.frame_size,
            "spec": [self.spec_bins, self.spec_frames],
            "classes": self.classes,
            "seed": self.seed,
            "val_examples": self.val_examples,
        })
    }

    fn negative_policy(&self) -> String {
        match self.task {
            TaskKind::Avc | TaskKind::AvcInBatch => {
                "toy: easy negatives (audio of another class), 50% positives".into()
            }
            TaskKind::FrameOrder => "toy: (b,a,d)/(b,e,d) negatives, 25% positives".into(),
            TaskKind::LocalizeContrastive => {
                "toy: matching pairs; negatives are the batch's other audio".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_is_exact_and_shapes_match() {
        let toy = ToySource::new(TaskKind::Avc, 16, 3);
        let mut it = toy.train(0, 4).unwrap();
        let _ = it.next();
        let second = it.next().unwrap().unwrap();
        let skipped = toy.train(4, 4).unwrap().next().unwrap().unwrap();
        assert_eq!(second.frames, skipped.frames);
        assert_eq!(second.labels, skipped.labels);
        assert_eq!(second.frames.len(), second.frame_shape.iter().product::<usize>());
        assert_eq!(second.specs.len(), second.spec_shape.iter().product::<usize>());
        let order = ToySource::new(TaskKind::FrameOrder, 16, 3).batch(0, 0, 2);
        assert_eq!(order.frames.len(), order.frame_shape.iter().product::<usize>());
    }
}
