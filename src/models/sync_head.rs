//! Synchrony term: does *when* the picture changes match *when* the sound has onsets?
//!
//! Class-level heads compare what is seen with what is heard, so a window of the same clip's
//! sound shifted by a second (a hard negative) looks like a positive to them. This term reads the
//! K stacked frames' pooled vision features through a linear map to K time slots of D values, and
//! the audio tower's time-kept features (K steps, see [`super::TowerConfig::time_steps`]) through a
//! linear map shared by every step; both are centred over time, so only *changes over time* count,
//! and their dot product summed over slots (÷ √(K·D)) is added to the "correspond" logit. Aligned
//! pulses and onsets raise it, shifted ones do not. VarStore paths: `vis`, `aud`.

use tch::{nn, Kind, Tensor};

/// The K-slot synchrony score.
#[derive(Debug)]
pub struct SyncHead {
    vis: nn::Linear,
    aud: nn::Linear,
    steps: i64,
    dim: i64,
}

impl SyncHead {
    /// `vis_channels`: the vision trunk's pooled width; `aud_channels`: the audio trunk's
    /// channels (each of its `steps` time steps); `dim`: values per time slot.
    pub fn new(p: &nn::Path, vis_channels: i64, aud_channels: i64, steps: i64, dim: i64) -> Self {
        SyncHead {
            vis: nn::linear(p.sub("vis"), vis_channels, steps * dim, Default::default()),
            aud: nn::linear(p.sub("aud"), aud_channels, dim, Default::default()),
            steps,
            dim,
        }
    }

    /// Pooled vision `[B, Cv]` and time-kept audio `[B, Ca·K]` (channel-major) → `[B]` scores.
    pub fn forward(&self, vision: &Tensor, audio: &Tensor) -> Tensor {
        let b = vision.size()[0];
        let v = vision.apply(&self.vis).reshape([b, self.steps, self.dim]);
        let a = audio.reshape([b, -1, self.steps]).permute([0, 2, 1]).apply(&self.aud);
        let centre = |x: Tensor| &x - x.mean_dim([1i64].as_slice(), true, Kind::Float);
        let scale = ((self.steps * self.dim) as f64).sqrt();
        (centre(v) * centre(a)).sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float) / scale
    }
}
