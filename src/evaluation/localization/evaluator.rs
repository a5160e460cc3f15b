//! Scores a model (or the centre prior) on evaluation samples: each coarse score map is
//! upsampled to the evaluation grid with the configured interpolation, its confidence is the
//! top-quarter mean of the upsampled map (SLAVC), and [`score_sample`] applies the published
//! median-threshold cIoU and the pointing game.

use crate::Result;

use super::centre_prior::centre_prior;
use super::eval_set::EvalSample;
use super::{
    gt_map, score_sample, summarize, top_quartile_mean, upsample, Interpolation,
    LocalizationSummary, Localizer, SampleScore, ScoreMap,
};

/// How maps are turned into scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalConfig {
    /// Side of the evaluation grid (224 in every published protocol).
    pub size: usize,
    /// Upsampling of the coarse map.
    pub interpolation: Interpolation,
    /// PyTorch's `align_corners` (false in EZ-VSL/LVS; SLAVC's test uses true).
    pub align_corners: bool,
    /// Samples per model call.
    pub batch: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            size: super::EVAL_SIZE,
            interpolation: Interpolation::Bilinear,
            align_corners: false,
            batch: 16,
        }
    }
}

/// Scores one coarse map against its sample.
pub fn score_map(sample: &EvalSample, map: &ScoreMap, cfg: &EvalConfig) -> Result<SampleScore> {
    let s = cfg.size;
    let up = upsample(
        &map.values,
        (map.height, map.width),
        (s, s),
        cfg.interpolation,
        cfg.align_corners,
    )?;
    let gt = gt_map(&sample.target, s);
    Ok(score_sample(
        &sample.target.name,
        &up,
        &gt,
        s,
        sample.target.boxes.len(),
        top_quartile_mean(&up),
    )?)
}

/// Runs `localizer` over `samples` in batches; `on_batch` sees the number of samples done and
/// the batch's coarse maps (in sample order), e.g. to save them.
pub fn evaluate_localizer(
    localizer: &mut Localizer,
    samples: &[EvalSample],
    cfg: &EvalConfig,
    on_batch: &mut dyn FnMut(usize, &[ScoreMap]),
) -> Result<(Vec<SampleScore>, LocalizationSummary)> {
    let mut scores = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(cfg.batch.max(1)) {
        let frames: Vec<_> = chunk.iter().map(|s| &s.frame).collect();
        let audio: Vec<&[f32]> = chunk.iter().map(|s| s.audio.as_slice()).collect();
        let maps = localizer.score_maps(&frames, &audio)?;
        for (sample, map) in chunk.iter().zip(&maps) {
            scores.push(score_map(sample, map, cfg)?);
        }
        on_batch(scores.len(), &maps);
    }
    let summary = summarize(&scores);
    Ok((scores, summary))
}

/// The centre-prior baseline on `samples`.
pub fn evaluate_centre_prior(
    samples: &[EvalSample],
    cfg: &EvalConfig,
) -> Result<(Vec<SampleScore>, LocalizationSummary)> {
    let map = ScoreMap { height: cfg.size, width: cfg.size, values: centre_prior(cfg.size) };
    let scores = samples.iter().map(|s| score_map(s, &map, cfg)).collect::<Result<Vec<_>>>()?;
    let summary = summarize(&scores);
    Ok((scores, summary))
}
