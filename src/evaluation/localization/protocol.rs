//! Evaluation protocols named after the test script whose arithmetic they reproduce (issue #27).
//!
//! The published numbers differ in how the coarse map reaches the 224×224 grid and how it is cut
//! into foreground, and those choices move cIoU by several points (ties at the median alone can
//! turn half the grid into foreground). A [`Protocol`] fixes them all, by name:
//!
//! | protocol | source | upsampling | normalise | foreground |
//! |---|---|---|---|---|
//! | `ezvsl` (default) | stoneMo/EZ-VSL `test.py` | PyTorch bilinear, `align_corners=True` | min-max | `P >= sort(P)[N/2]` |
//! | `slavc` | stoneMo/SLAVC `test.py --relative_prediction` (the README's command) | PyTorch bicubic, `align_corners=True` | min-max | `P >= sort(P)[N/2]` |
//! | `slavc-absolute` | stoneMo/SLAVC `test.py` with its argparse defaults | PyTorch bicubic, `align_corners=True` | none | `map >= 0.5` |
//! | `lvs` | hche11/Localizing-Visual-Sounds-the-Hard-Way `test.py` | `cv2.resize` `INTER_LINEAR` | `1 − min-max(−map)` | `P > sort(P)[N/2]` (and `P ≥ 1`) |
//! | `pretext-v1` | pretext before issue #27 | PyTorch bilinear, `align_corners=False` | min-max | `P >= sort(P)[N/2]` |
//!
//! The lines matched, per script:
//! - EZ-VSL `test.py`: `F.interpolate(heatmap_av, size=(224, 224), mode='bilinear',
//!   align_corners=True)`, `pred_av = utils.normalize_img(heatmap_av[i, 0])`,
//!   `thr_av = np.sort(pred_av.flatten())[int(pred_av.shape[0] * pred_av.shape[1] * 0.5)]`,
//!   `utils.py` `cal_CIOU`: `infer_map[infer >= thres] = 1`.
//! - SLAVC `test.py`: `F.interpolate(heatmap_av, size=(224, 224), mode='bicubic',
//!   align_corners=True)`; `scores_av = min_max_norm(heatmap_av[i, 0], av_min, av_max)` with
//!   `av_min, av_max = -1/tau, 1/tau` (i.e. `(cos + 1)/2`, what pretext's cosine map holds);
//!   with `--relative_prediction`: `pred_av = utils.normalize_img(scores_av)`,
//!   `thr_av = np.sort(pred_av.flatten())[int(n * args.pred_size)]` (`pred_size` 0.5); without:
//!   `pred_av = scores_av`, `thr_av = args.pred_thr` (0.5); `EvaluatorFull.update`:
//!   `infer[pred >= pred_thr] = 1`. The README's test command passes `--relative_prediction`,
//!   the `scripts/test_extended_*.sh` do not, hence two protocols.
//! - LVS `test.py`: `cv2.resize(heatmap_arr[i,0], dsize=(224, 224),
//!   interpolation=cv2.INTER_LINEAR)`, `heatmap_now = normalize_img(-heatmap_now)`,
//!   `pred = 1 - heatmap_now`, `threshold = np.sort(pred.flatten())[int(pred.shape[0] *
//!   pred.shape[1] / 2)]`, `pred[pred>threshold] = 1`, `pred[pred<1] = 0`,
//!   `evaluator.cal_CIOU(pred,gt_map,0.5)` (see [`Binarization::MedianExclusive`]).
//!
//! What the three scripts share, and pretext does in every protocol: `cIoU = Σ(B·G)/(ΣG +
//! Σ B·[G=0])`; the headline "cIoU" is the share of samples with `cIoU >= 0.5` (EZ-VSL
//! `np.mean(np.array(self.ciou) >= 0.5)`, LVS `np.sum(np.array(iou) >= 0.5)/len(iou)`, SLAVC
//! `calc_precision_recall`'s `ciou >= ciou_thr` on the visible subset; only SLAVC's progress
//! line, `precision_at_50`, uses `> 0.5`); AUC is `sklearn.metrics.auc` over
//! `[0.05*i for i in range(21)]` of the share with `cIoU >= 0.05*i`; ground-truth maps are built
//! the same way (`bbox2gtmap` / `testset_gt`, see [`super::gt_map()`]). SLAVC's confidence is the
//! mean of the top quarter of `scores` (`np.sort(...)[-n//4:]`, identical to pretext's `N/4` at
//! 224²), its AP/max-F1/precision are [`super::extended`]; pretext reports those, the mean cIoU
//! and the pointing game under every protocol, though only SLAVC has the former and no script
//! the latter.
//!
//! `pretext eval localize --upsample`/`--align-corners` can still override a protocol's
//! upsampling (e.g. EZ-VSL's `train.py` validation is `ezvsl` with bicubic and
//! `align_corners=False`); the report then lists what was overridden.

use super::{Binarization, Interpolation};

/// A published test script whose arithmetic the evaluator reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// stoneMo/EZ-VSL `test.py`: bilinear, `align_corners=True`, `>=` at the median.
    #[default]
    Ezvsl,
    /// stoneMo/SLAVC `test.py --relative_prediction`: bicubic, `align_corners=True`, `>=` at
    /// the median.
    Slavc,
    /// stoneMo/SLAVC `test.py` with its defaults: bicubic, `align_corners=True`, `map >= 0.5`.
    SlavcAbsolute,
    /// hche11/Localizing-Visual-Sounds-the-Hard-Way `test.py`: `cv2.resize` linear, `>` at the
    /// median.
    Lvs,
    /// pretext before issue #27 (figures in docs/results.md before 2026-12-03): bilinear,
    /// `align_corners=False`, `>=` at the median.
    PretextV1,
}

/// The aggregation every protocol shares: the headline cIoU's success test.
pub const CIOU_AT_50: &str = "share of visible samples with cIoU >= 0.5";
/// The aggregation every protocol shares: the AUC.
pub const AUC: &str =
    "trapezoid (sklearn.metrics.auc) of the share with cIoU >= 0.05*i over i = 0..=20";

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 5] = [
        Protocol::Ezvsl,
        Protocol::Slavc,
        Protocol::SlavcAbsolute,
        Protocol::Lvs,
        Protocol::PretextV1,
    ];

    /// The name reports and `--protocol` use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ezvsl => "ezvsl",
            Protocol::Slavc => "slavc",
            Protocol::SlavcAbsolute => "slavc-absolute",
            Protocol::Lvs => "lvs",
            Protocol::PretextV1 => "pretext-v1",
        }
    }

    /// The script it reproduces.
    pub fn source(self) -> &'static str {
        match self {
            Protocol::Ezvsl => "stoneMo/EZ-VSL test.py",
            Protocol::Slavc => "stoneMo/SLAVC test.py --relative_prediction",
            Protocol::SlavcAbsolute => "stoneMo/SLAVC test.py (default pred_thr 0.5)",
            Protocol::Lvs => "hche11/Localizing-Visual-Sounds-the-Hard-Way test.py",
            Protocol::PretextV1 => "pretext before issue #27",
        }
    }

    /// How the coarse map is upsampled.
    pub fn interpolation(self) -> Interpolation {
        match self {
            Protocol::Ezvsl | Protocol::PretextV1 => Interpolation::Bilinear,
            Protocol::Slavc | Protocol::SlavcAbsolute => Interpolation::Bicubic,
            Protocol::Lvs => Interpolation::Cv2Linear,
        }
    }

    /// PyTorch's `align_corners` (false for `cv2.resize`, which has none).
    pub fn align_corners(self) -> bool {
        matches!(self, Protocol::Ezvsl | Protocol::Slavc | Protocol::SlavcAbsolute)
    }

    /// How the upsampled map becomes foreground.
    pub fn binarization(self) -> Binarization {
        match self {
            Protocol::Ezvsl | Protocol::Slavc | Protocol::PretextV1 => {
                Binarization::MedianInclusive
            }
            Protocol::SlavcAbsolute => Binarization::Absolute,
            Protocol::Lvs => Binarization::MedianExclusive,
        }
    }

    /// Everything the protocol sets, with the upsampling actually used (`interpolation`,
    /// `align_corners`) and the settings that differ from the protocol's own listed in
    /// `overridden`.
    pub fn parameters(
        self,
        interpolation: Interpolation,
        align_corners: bool,
    ) -> ProtocolParameters {
        let mut overridden = Vec::new();
        if interpolation != self.interpolation() {
            overridden.push("upsample");
        }
        if align_corners != self.align_corners() {
            overridden.push("align_corners");
        }
        let b = self.binarization();
        ProtocolParameters {
            name: self.name(),
            source: self.source(),
            upsample: interpolation,
            align_corners,
            normalize: b.normalization(),
            threshold: b.threshold(),
            foreground: b.comparison(),
            ciou_at_50: CIOU_AT_50,
            auc: AUC,
            overridden,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a report says about the protocol it used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProtocolParameters {
    /// `ezvsl`, `slavc`, `slavc-absolute`, `lvs` or `pretext-v1`.
    pub name: &'static str,
    /// The script reproduced.
    pub source: &'static str,
    /// Upsampling used.
    pub upsample: Interpolation,
    /// PyTorch's `align_corners` used.
    pub align_corners: bool,
    /// Normalisation before the threshold.
    pub normalize: &'static str,
    /// The threshold.
    pub threshold: &'static str,
    /// The comparison that makes a pixel foreground.
    pub foreground: &'static str,
    /// The headline cIoU's success test.
    pub ciou_at_50: &'static str,
    /// The AUC.
    pub auc: &'static str,
    /// Settings given on the command line that differ from the protocol's ("upsample",
    /// "align_corners").
    pub overridden: Vec<&'static str>,
}

impl ProtocolParameters {
    /// One line for people: "ezvsl (stoneMo/EZ-VSL test.py): PyTorch bilinear,
    /// align_corners=True, min-max, >= median".
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} ({}): {}{}, normalise {}, foreground {} {}",
            self.name,
            self.source,
            self.upsample.describe(),
            if self.upsample == Interpolation::Cv2Linear {
                String::new()
            } else {
                format!(" align_corners={}", if self.align_corners { "True" } else { "False" })
            },
            self.normalize,
            self.foreground,
            self.threshold,
        );
        if !self.overridden.is_empty() {
            s.push_str(&format!(" [overridden: {}]", self.overridden.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::localization::{
        gt_map, score_sample, upsample, Consensus, LocalizationTarget, PixelBox, PointingRule,
        ScoringRules,
    };

    /// cIoU and foreground count of `coarse` (3×3) against a union box on the 224 grid, with
    /// `protocol`'s upsampling and binarisation.
    fn score(protocol: Protocol, coarse: &[f32; 9], b: PixelBox) -> (f64, usize) {
        let target = LocalizationTarget {
            name: "t".into(),
            boxes: vec![b],
            consensus: Consensus::Union,
            time: None,
        };
        let gt = gt_map(&target, 224);
        let up = upsample(
            coarse,
            (3, 3),
            (224, 224),
            protocol.interpolation(),
            protocol.align_corners(),
        )
        .unwrap();
        let rules = ScoringRules {
            binarization: protocol.binarization(),
            pointing: PointingRule::TORCHRAY,
        };
        let s = score_sample("t", &up, &gt, 224, 1, 0.0, &rules).unwrap();
        let fg = protocol.binarization().apply(&up).iter().filter(|&&x| x).count();
        (s.ciou, fg)
    }

    // Reference values: `scripts/protocol_reference.py`, which runs each script's own lines
    // (PyTorch 2.11 F.interpolate, OpenCV 5.1 cv2.resize, numpy) on the same maps.

    #[test]
    fn a_lone_peak_separates_every_protocol() {
        // 3×3 map with a single 1 in the middle; GT box x 40..150, y 60..180. With
        // align_corners=False the map is exactly 0 outside pixels 37..186 on each axis, 27,676
        // pixels > N/2: the median is 0, `>=` makes the whole grid foreground (pretext-v1),
        // `>` only the 150×150 block (LVS). align_corners=True leaves no such plateau.
        let peak = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let b = PixelBox { x0: 40, y0: 60, x1: 150, y1: 180 };
        let expect = [
            (Protocol::Ezvsl, 0.520_994_716_561_395_2, 25_088),
            (Protocol::Slavc, 0.523_354_818_174_584_2, 25_088),
            (Protocol::SlavcAbsolute, 0.662_932_790_224_032_6, 12_928),
            (Protocol::Lvs, 0.586_666_666_666_666_7, 22_500),
            (Protocol::PretextV1, 0.263_073_979_591_836_76, 50_176),
        ];
        for (p, ciou, fg) in expect {
            let (got, got_fg) = score(p, &peak, b);
            assert_eq!(got_fg, fg, "{p}: foreground pixels");
            assert!((got - ciou).abs() < 1e-12, "{p}: cIoU {got} vs the script's {ciou}");
        }
    }

    #[test]
    fn align_corners_and_the_comparison_move_a_tie_free_map() {
        // 3×3 ramp without plateaus; GT box x 100..224, y 90..224. align_corners alone moves
        // cIoU from 0.539 (pretext-v1) to 0.495 (ezvsl): across the 0.5 the headline counts.
        // `>` drops exactly the median pixel (LVS: 25,087 foreground pixels, not 25,088).
        let ramp = [0.1, 0.5, 0.2, 0.4, 0.9, 0.3, 0.0, 0.6, 0.7];
        let b = PixelBox { x0: 100, y0: 90, x1: 224, y1: 224 };
        let expect = [
            (Protocol::Ezvsl, 0.495_410_212_277_682_17, 25_088),
            (Protocol::Slavc, 0.471_196_246_516_386_2, 25_088),
            (Protocol::SlavcAbsolute, 0.445_123_628_472_752_83, 30_667),
            (Protocol::Lvs, 0.539_424_141_749_723_2, 25_087),
            (Protocol::PretextV1, 0.539_404_230_187_147, 25_088),
        ];
        for (p, ciou, fg) in expect {
            let (got, got_fg) = score(p, &ramp, b);
            assert_eq!(got_fg, fg, "{p}: foreground pixels");
            assert!((got - ciou).abs() < 1e-12, "{p}: cIoU {got} vs the script's {ciou}");
        }
        assert!(
            score(Protocol::Ezvsl, &ramp, b).0 < 0.5
                && score(Protocol::PretextV1, &ramp, b).0 >= 0.5
        );
    }

    #[test]
    fn names_round_trip_and_parameters_name_overrides() {
        for p in Protocol::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<Protocol>(&json).unwrap(), p);
            assert!(p.parameters(p.interpolation(), p.align_corners()).overridden.is_empty());
        }
        assert_eq!(Protocol::default(), Protocol::Ezvsl);
        let ez = Protocol::Ezvsl.parameters(Interpolation::Bilinear, true);
        assert_eq!(
            ez.describe(),
            "ezvsl (stoneMo/EZ-VSL test.py): PyTorch bilinear align_corners=True, normalise \
             min-max (normalize_img), foreground >= median: sort(P)[N/2]"
        );
        let v = serde_json::to_value(&ez).unwrap();
        assert_eq!(
            (v["upsample"].as_str(), v["align_corners"].as_bool()),
            (Some("bilinear"), Some(true))
        );
        let val = Protocol::Ezvsl.parameters(Interpolation::Bicubic, false);
        assert_eq!(val.overridden, ["upsample", "align_corners"]);
        assert!(val.describe().ends_with("[overridden: upsample, align_corners]"));
        assert!(!Protocol::Lvs.align_corners());
        assert_eq!(Protocol::Lvs.interpolation(), Interpolation::Cv2Linear);
    }
}
