//! Scores a model (or the centre prior) on evaluation samples: each coarse score map is
//! upsampled to the evaluation grid as the [`Protocol`] says (or as overridden), its confidence
//! is the top-quarter mean of the upsampled map (SLAVC), and [`score_sample`] applies the
//! protocol's binarisation, cIoU and the pointing game under [`EvalConfig::pointing`].
//!
//! With [`EvalConfig::smoothing`] on, cIoU and the pointing game read the smoothed map, while
//! the confidence still reads the map as the model gave it: smoothing is a choice about *where*
//! (spreading a cell's evidence over the object), and averaging peaks into the background would
//! only blur *whether* a visible object sounds (the AP of the extended protocol).

use crate::evaluation::Result;

use super::centre_prior::centre_prior;
use super::eval_set::EvalSample;
use super::{
    gt_map, score_sample, summarize, top_quartile_mean, upsample, Interpolation, LocalizationError,
    LocalizationSummary, Localizer, MapSmoothing, PointingRule, Protocol, ProtocolParameters,
    SampleScore, ScoreMap, ScoringRules,
};

/// How maps are turned into scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalConfig {
    /// Side of the evaluation grid (224 in every published protocol).
    pub size: usize,
    /// The script whose arithmetic is reproduced (upsampling, threshold, comparison).
    pub protocol: Protocol,
    /// Upsampling of the coarse map: the protocol's unless overridden.
    pub interpolation: Interpolation,
    /// PyTorch's `align_corners`: the protocol's unless overridden.
    pub align_corners: bool,
    /// The pointing game's rule (TorchRay's 15 px by default).
    pub pointing: PointingRule,
    /// Gaussian smoothing of the coarse map before cIoU and pointing (off by default).
    pub smoothing: MapSmoothing,
    /// Samples per model call.
    pub batch: usize,
}

impl EvalConfig {
    /// `protocol`'s settings, TorchRay's pointing game, no smoothing.
    pub fn for_protocol(protocol: Protocol) -> Self {
        EvalConfig {
            size: super::EVAL_SIZE,
            protocol,
            interpolation: protocol.interpolation(),
            align_corners: protocol.align_corners(),
            pointing: PointingRule::TORCHRAY,
            smoothing: MapSmoothing::OFF,
            batch: 16,
        }
    }

    /// What reports say about the protocol, overrides included.
    pub fn protocol_parameters(&self) -> ProtocolParameters {
        self.protocol.parameters(self.interpolation, self.align_corners)
    }

    /// The per-sample rules.
    pub fn scoring_rules(&self) -> ScoringRules {
        ScoringRules { binarization: self.protocol.binarization(), pointing: self.pointing }
    }
}

impl Default for EvalConfig {
    /// The EZ-VSL `test.py` protocol.
    fn default() -> Self {
        EvalConfig::for_protocol(Protocol::default())
    }
}

/// Scores one coarse map against its sample.
pub fn score_map(sample: &EvalSample, map: &ScoreMap, cfg: &EvalConfig) -> Result<SampleScore> {
    let s = cfg.size;
    let up = |values: &[f32]| {
        upsample(values, (map.height, map.width), (s, s), cfg.interpolation, cfg.align_corners)
    };
    let raw = up(&map.values)?;
    let confidence = top_quartile_mean(&raw);
    let located =
        if cfg.smoothing.is_off() { raw } else { up(&cfg.smoothing.smoothed(map).values)? };
    let gt = gt_map(&sample.target, s);
    let n_boxes = sample.target.boxes.len();
    let rules = cfg.scoring_rules();
    Ok(score_sample(&sample.target.name, &located, &gt, s, n_boxes, confidence, &rules)?)
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
        let examples: Vec<_> = chunk.iter().map(|s| &s.example).collect();
        let maps = localizer.score_maps(&examples)?;
        for (sample, map) in chunk.iter().zip(&maps) {
            scores.push(score_map(sample, map, cfg)?);
        }
        on_batch(scores.len(), &maps);
    }
    let summary = summarize(&scores);
    Ok((scores, summary))
}

/// The σ values [`choose_smoothing`] tries by default (fractions of the map side).
pub const SMOOTHING_GRID: [f64; 8] = [0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4];

/// Picks the map smoothing from `grid` that gives `localizer` the highest headline cIoU (share
/// of visible samples with cIoU ≥ 0.5) on `samples`, ties going to the higher AUC and then the
/// smaller σ. The model runs once; each σ only re-scores its maps. Meant for a validation
/// split: the test split is then read with the returned value. Also returns every σ's summary.
pub fn choose_smoothing(
    localizer: &mut Localizer,
    samples: &[EvalSample],
    cfg: &EvalConfig,
    grid: &[f64],
) -> Result<(MapSmoothing, Vec<(MapSmoothing, LocalizationSummary)>)> {
    let mut maps = Vec::with_capacity(samples.len());
    let raw = EvalConfig { smoothing: MapSmoothing::OFF, ..*cfg };
    evaluate_localizer(localizer, samples, &raw, &mut |_, batch| maps.extend_from_slice(batch))?;
    let mut tried = Vec::with_capacity(grid.len());
    for &sigma in grid {
        let smoothing = MapSmoothing::new(sigma)?;
        let cfg = EvalConfig { smoothing, ..*cfg };
        let scores = samples
            .iter()
            .zip(&maps)
            .map(|(s, m)| score_map(s, m, &cfg))
            .collect::<Result<Vec<_>>>()?;
        tried.push((smoothing, summarize(&scores)));
    }
    let key = |r: &LocalizationSummary| (r.ciou_at_50, r.auc);
    let best = tried
        .iter()
        .filter(|(_, r)| !r.ciou_at_50.is_nan())
        .fold(None::<&(MapSmoothing, LocalizationSummary)>, |best, c| match best {
            Some(b) if key(&b.1) >= key(&c.1) => Some(b),
            _ => Some(c),
        })
        .map(|(s, _)| *s)
        .ok_or_else(|| {
            LocalizationError::Invalid(
                "choosing the smoothing needs samples with a visible source".into(),
            )
        })?;
    Ok((best, tried))
}

/// The centre-prior baseline on `samples` (never smoothed).
pub fn evaluate_centre_prior(
    samples: &[EvalSample],
    cfg: &EvalConfig,
) -> Result<(Vec<SampleScore>, LocalizationSummary)> {
    let map = ScoreMap { height: cfg.size, width: cfg.size, values: centre_prior(cfg.size) };
    // A fixed blob already: smoothing would not move its median disk, only cost time.
    let cfg = EvalConfig { smoothing: MapSmoothing::OFF, ..*cfg };
    let scores = samples.iter().map(|s| score_map(s, &map, &cfg)).collect::<Result<Vec<_>>>()?;
    let summary = summarize(&scores);
    Ok((scores, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::localization::{Consensus, LocalizationTarget, PixelBox};

    fn sample(boxes: Vec<PixelBox>) -> EvalSample {
        EvalSample {
            target: LocalizationTarget {
                name: "s".into(),
                boxes,
                consensus: Consensus::Union,
                time: None,
            },
            file: "s.mp4".into(),
            example: crate::pipeline::Example { meta: Default::default(), fields: Vec::new() },
        }
    }

    #[test]
    fn smoothing_moves_the_map_and_leaves_the_confidence() {
        // A 12×12 map whose evidence sits on a ring of texture around a box covering the
        // centre quarter of the grid; the box's own middle is as low as the background.
        let (h, w) = (12usize, 12usize);
        let mut values = vec![0.2f32; h * w];
        for r in 3..9 {
            for c in 3..9 {
                let ring = r == 3 || r == 8 || c == 3 || c == 8;
                values[r * w + c] = if ring { 0.9 } else { 0.2 };
            }
        }
        let map = ScoreMap { height: h, width: w, values };
        // Box over cells 3..9 on a 224 grid: 56..168 px (25 % of the grid).
        let s = sample(vec![PixelBox { x0: 56, y0: 56, x1: 168, y1: 168 }]);
        let raw = score_map(&s, &map, &EvalConfig::default()).unwrap();
        let smooth =
            EvalConfig { smoothing: MapSmoothing::new(0.2).unwrap(), ..Default::default() };
        let smoothed = score_map(&s, &map, &smooth).unwrap();
        assert!(
            smoothed.ciou > raw.ciou + 0.05,
            "smoothing fills the ring's middle: {} vs {}",
            smoothed.ciou,
            raw.ciou
        );
        assert_eq!(smoothed.confidence, raw.confidence, "confidence reads the unsmoothed map");
    }
}
