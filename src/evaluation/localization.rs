//! Sound-source localisation metrics, exactly as the literature computes them.
//!
//! The arithmetic is a named [`Protocol`] (issue #27), one per published test script, because the
//! scripts disagree on upsampling and on ties at the median and those choices move cIoU by
//! points ([`protocol`] lists the lines matched):
//!
//! - `ezvsl` (default; stoneMo/EZ-VSL `test.py`): PyTorch bilinear, `align_corners=True`,
//!   min-max, foreground `P >= sort(P)[N/2]`;
//! - `slavc` (stoneMo/SLAVC `test.py --relative_prediction`): bicubic, `align_corners=True`,
//!   otherwise as EZ-VSL; `slavc-absolute` (its defaults): bicubic, `align_corners=True`, no
//!   normalisation, foreground `map >= 0.5`;
//! - `lvs` (hche11/Localizing-Visual-Sounds-the-Hard-Way `test.py`): `cv2.resize` linear,
//!   `P = 1 − min-max(−map)`, foreground `P > sort(P)[N/2]`;
//! - `pretext-v1`: pretext before #27 (bilinear, `align_corners=False`, `>=`), which every
//!   localisation figure in docs/results.md dated before 2026-12-03 used.
//!
//! The pipeline:
//!
//! 1. A ground-truth map `G` on the evaluation grid (224×224 by default) is built from boxes
//!    ([`gt_map()`]): Flickr-SoundNet sums three annotators' boxes, halves and clips to 1; VGG-SS
//!    and the synthetic world take the binary union (EZ-VSL/SLAVC `bbox2gtmap`, LVS
//!    `testset_gt`: the same in all three).
//! 2. Optionally smoothed first ([`MapSmoothing`]: a post-processing choice made on a
//!    validation split and then kept with the checkpoint, see [`StoredSmoothing`]), the model's coarse score map is upsampled to the grid as the
//!    protocol says ([`upsample()`]: PyTorch's `F.interpolate` bilinear, bit for bit on the
//!    224 grid, or bicubic, or OpenCV's `INTER_LINEAR`) and cut into foreground `B`
//!    ([`Binarization`]).
//! 3. Per sample, `cIoU = Σ(B·G) / (ΣG + Σ B·[G=0])` ([`score_sample`]).
//! 4. Over samples with a visible source ([`summarize`]), the same in every protocol: the
//!    headline "cIoU" (share of samples with cIoU ≥ 0.5), the mean cIoU, the AUC of the success
//!    rate over t = 0, 0.05, …, 1 (trapezoid), and the pointing game ([`pointing`]: TorchRay's
//!    arg-max within 15 px of the GT by default, `pointing_tolerance_px` in reports; 0 = the
//!    strict inside-the-box rule). No AV script has a pointing game; only EZ-VSL reports the
//!    mean cIoU.
//! 5. With silent or off-screen samples mixed in ([`extended`]): SLAVC's TP/FP/FN counting
//!    against a confidence, AP with the precision envelope, max-F1 and precision.
//!
//! Annotation readers for the three formats live next to these ([`flickr_xml`],
//! [`vggss_json`], [`synth_target`]), and [`centre_prior`] is the baseline every report shows.

mod binarization;
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
pub mod protocol;
mod sample;
mod smoothing;
mod stored_smoothing;
mod summary;
pub mod synth_target;
pub mod upsample;
pub mod vggss_json;

pub use binarization::{Binarization, ABSOLUTE_THRESHOLD};
pub use error::LocalizationError;
pub use frame_localization::{localize_frame, FrameLocalization, BOX_THRESHOLD};
pub use gt_map::{gt_map, Consensus, LocalizationTarget, PixelBox};
pub use localizer::{Localizer, ScoreMap};
pub use pointing::PointingRule;
pub use protocol::{Protocol, ProtocolParameters};
pub use sample::{
    binarize_at_median, ciou, min_max_normalize, score_sample, top_quartile_mean, SampleScore,
    ScoringRules,
};
pub use smoothing::MapSmoothing;
pub use stored_smoothing::{SmoothingChoice, StoredSmoothing, KEY as SMOOTHING_KEY};
pub use summary::{summarize, LocalizationSummary};
pub use upsample::{upsample, Interpolation};

/// Side of the square evaluation grid used by every published protocol.
pub const EVAL_SIZE: usize = 224;
