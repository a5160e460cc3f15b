//! Sound-source localisation metrics, exactly as the literature computes them.
//!
//! The protocol (EZ-VSL `test.py`/`utils.py`, LVS `utils.py`, SLAVC `EvaluatorFull`):
//!
//! 1. A ground-truth map `G` on the evaluation grid (224×224 by default) is built from boxes
//!    ([`gt_map()`]): Flickr-SoundNet sums three annotators' boxes, halves and clips to 1; VGG-SS
//!    and the synthetic world take the binary union.
//! 2. Optionally smoothed first ([`MapSmoothing`]: a post-processing choice made on a
//!    validation split and then kept with the checkpoint, see [`StoredSmoothing`]), the model's coarse score map is upsampled to the grid
//!    exactly like PyTorch's `F.interpolate` ([`upsample()`]; bilinear by default, bicubic
//!    selectable), min-max normalised and binarised at the median (`thr = sort(P)[N/2]`,
//!    `B = P >= thr`).
//! 3. Per sample, `cIoU = Σ(B·G) / (ΣG + Σ B·[G=0])` ([`score_sample`]).
//! 4. Over samples with a visible source ([`summarize`]): the headline "cIoU" (share of samples
//!    with cIoU ≥ 0.5), the mean cIoU, the AUC of the success rate over t = 0, 0.05, …, 1
//!    (trapezoid), and the pointing game (arg-max within 15 px of the GT, see [`pointing`]).
//! 5. With silent or off-screen samples mixed in ([`extended`]): SLAVC's TP/FP/FN counting
//!    against a confidence, AP with the precision envelope, max-F1 and precision.
//!
//! Annotation readers for the three formats live next to these ([`flickr_xml`],
//! [`vggss_json`], [`synth_target`]), and [`centre_prior`] is the baseline every report shows.

pub mod centre_prior;
pub mod clip;
mod error;
pub mod eval_set;
pub mod evaluator;
pub mod extended;
pub mod flickr_xml;
mod frame_localization;
pub mod gt_map;
mod localizer;
pub mod pointing;
mod sample;
mod smoothing;
mod stored_smoothing;
mod summary;
pub mod synth_target;
pub mod upsample;
pub mod vggss_json;

pub use error::LocalizationError;
pub use frame_localization::{localize_frame, FrameLocalization, BOX_THRESHOLD};
pub use gt_map::{gt_map, Consensus, LocalizationTarget, PixelBox};
pub use localizer::{Localizer, ScoreMap};
pub use sample::{
    binarize_at_median, ciou, min_max_normalize, score_sample, top_quartile_mean, SampleScore,
};
pub use smoothing::MapSmoothing;
pub use stored_smoothing::{SmoothingChoice, StoredSmoothing, KEY as SMOOTHING_KEY};
pub use summary::{summarize, LocalizationSummary};
pub use upsample::{upsample, Interpolation};

/// Side of the square evaluation grid used by every published protocol.
pub const EVAL_SIZE: usize = 224;
