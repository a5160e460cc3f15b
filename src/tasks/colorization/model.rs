//! The colourisation model: the shared vision trunk on the grey input, and a head that predicts
//! 313-way logits at every cell of the output grid (1/`output_stride` of the frame). The head
//! reads the trunk's last stage, bilinearly upsampled to the output grid when it is coarser, and
//! (when the trunk has one that is not the last) the deepest stage already at the output grid's
//! resolution, concatenated: context from deep, place from shallow. Then a 3×3 convolution
//! (`head.hidden` channels, batch norm, ReLU) and a 1×1 convolution to the 313 bins; Zhang et al.
//! likewise predict from their deepest layer upsampled to 1/4 of the input.
//!
//! Loss: soft-encoded targets (the `neighbours` nearest bins, Gaussian of `sigma`), multinomial
//! cross-entropy per output cell, weighted by the rebalancing weight of the cell's nearest bin
//! (see `prior.rs`). The prior is counted by the model itself from its first `prior_batches`
//! training batches into non-trainable int64 variables (`heads.colorization.prior.{counts,
//! ab_sum, batches}`), so it is in every checkpoint, survives a resume, and is copied (not
//! averaged) by weight averaging; until it is complete the loss is unweighted.
//!
//! Decoding: the annealed mean, `softmax(logits / T)` averaged over the bin centres. Metrics (all
//! larger-is-better, per example, averaged): `auc`, the area under the curve of per-pixel ab
//! accuracy against the threshold t ∈ [0, 150] normalised to [0, 1] (a pixel at ab distance d
//! contributes max(0, 1 − d/150): the exact integral of the step 1[d ≤ t]), as Zhang et al.
//! report; `auc_mean_colour`, the same for the training prior's mean ab everywhere (present once
//! a prior is counted); `auc_grey`, for ab = 0 everywhere.
//! VarStore paths: `trunk.vision.*` and `heads.colorization.{conv,bn,out,prior.*}`.

use tch::{nn, nn::ModuleT, Device, Kind, Tensor};

use super::bins::{self, BINS};
use super::lab;
use super::prior::Prior;
use super::ColorizationOptions;
use crate::models::{ModelConfig, ModelError, Trunk, TrunkNeeds};
use crate::training::{
    Embeddings, MeanValue, MetricSet, PictureRow, Scored, StepOutput, TaskModel, TensorBatch,
    TrainingError,
};
use crate::viz::RgbImage;

/// Units of the stored ab sum: 1/256 of an ab unit (int64, so weight averaging copies it).
const AB_SUM_SCALE: f64 = 256.0;

/// Largest ab distance the AuC counts (Zhang et al.: thresholds 0 to 150).
pub const AUC_MAX: f64 = 150.0;

/// Colourisation on the shared trunk.
#[derive(Debug)]
pub struct ColorizationNet {
    trunk: Trunk,
    skip: Option<usize>,
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    out: nn::Conv2D,
    centres: Tensor,
    counts: Tensor,
    ab_sum: Tensor,
    batches: Tensor,
    options: ColorizationOptions,
    grid: i64,
    mean: [f32; 3],
    std: [f32; 3],
}

impl ColorizationNet {
    /// Builds the model under `p` (the VarStore root).
    pub fn new(
        p: &nn::Path,
        cfg: &ModelConfig,
        options: &ColorizationOptions,
    ) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let trunk = Trunk::new(p, cfg, TrunkNeeds { vision_channels: Some(3), audio: false });
        let s = i64::from(cfg.input.frame_size);
        let grid = s / options.output_stride as i64;
        // Which stages are at the output grid's resolution: one dry pass in eval mode.
        let sides: Vec<i64> = {
            let _g = tch::no_grad_guard();
            let x = Tensor::zeros([1, 3, s, s], (Kind::Float, p.device()));
            trunk.vision()?.backbone().stages(&x, false).iter().map(|t| t.size()[2]).collect()
        };
        let channels = trunk.vision()?.backbone().stage_channels();
        let last = sides.len().saturating_sub(1);
        let skip = (0..last).rev().find(|&i| sides[i] == grid);
        let c_in = channels[last] + skip.map_or(0, |i| channels[i]);
        let hp = p.sub("heads").sub("colorization");
        let conv3 = nn::ConvConfig { padding: 1, bias: false, ..Default::default() };
        let conv = nn::conv2d(hp.sub("conv"), c_in, cfg.head.hidden, 3, conv3);
        let bn = nn::batch_norm2d(hp.sub("bn"), cfg.head.hidden, Default::default());
        let out = nn::conv2d(hp.sub("out"), cfg.head.hidden, BINS as i64, 1, Default::default());
        let pp = hp.sub("prior");
        let int = |dims: &[i64]| Tensor::zeros(dims, (Kind::Int64, p.device()));
        let counts = pp.add("counts", int(&[BINS as i64]), false);
        let ab_sum = pp.add("ab_sum", int(&[2]), false);
        let batches = pp.add("batches", int(&[1]), false);
        let flat: Vec<f32> = (0..BINS).flat_map(|q| bins::centre(q).map(|v| v as f32)).collect();
        let centres = Tensor::from_slice(&flat).view([BINS as i64, 2]).to(p.device());
        Ok(ColorizationNet {
            trunk,
            skip,
            conv,
            bn,
            out,
            centres,
            counts,
            ab_sum,
            batches,
            options: options.clone(),
            grid,
            mean: cfg.input.mean,
            std: cfg.input.std,
        })
    }

    /// `[B, 313, g, g]` logits of grey inputs `[B, 3, S, S]`.
    pub fn forward_t(&self, gray: &Tensor, train: bool) -> Result<Tensor, TrainingError> {
        let stages = self.trunk.vision()?.backbone().stages(gray, train);
        let last = stages.last().ok_or_else(|| TrainingError::Batch("no trunk stage".into()))?;
        let g = self.grid;
        let up = if last.size()[2] == g {
            last.shallow_clone()
        } else {
            last.f_upsample_bilinear2d([g, g], false, None, None)?
        };
        let x = match self.skip {
            Some(i) => Tensor::f_cat(&[&up, &stages[i]], 1)?,
            None => up,
        };
        Ok(x.apply(&self.conv).apply_t(&self.bn, train).relu().apply(&self.out))
    }

    fn fields(b: &TensorBatch) -> Result<(&Tensor, &Tensor), TrainingError> {
        let (gray, ab) = (b.get("gray")?, b.get("ab")?);
        match (gray.size().as_slice(), ab.size().as_slice()) {
            ([_, 3, _, _], [_, 2, _, _]) => Ok((gray, ab)),
            (g, a) => Err(TrainingError::Batch(format!(
                "colorization: expected gray [B, 3, S, S] and ab [B, 2, g, g], got {g:?} and {a:?}"
            ))),
        }
    }

    /// The prior counted so far, if the counting is complete (or if `partial`, anything counted).
    fn prior(&self, partial: bool) -> Result<Option<(Prior, [f64; 2])>, TrainingError> {
        let seen = self.batches.f_int64_value(&[0])?;
        let want = self.options.prior_batches as i64;
        if want == 0 || seen == 0 || (!partial && seen < want) {
            return Ok(None);
        }
        let counts = Vec::<i64>::try_from(self.counts.f_to(Device::Cpu)?)?;
        let sum = Vec::<i64>::try_from(self.ab_sum.f_to(Device::Cpu)?)?;
        let total: i64 = counts.iter().sum();
        let Some(prior) = Prior::estimate(&counts, self.options.prior_sigma, self.options.lambda)
        else {
            return Ok(None);
        };
        let mean = [0, 1].map(|i| sum[i] as f64 / AB_SUM_SCALE / total as f64);
        Ok(Some((prior, mean)))
    }

    /// The rebalancing weights `[313]` on the device, or none before the prior is complete.
    fn weights(&self) -> Result<Option<Tensor>, TrainingError> {
        Ok(match self.prior(false)? {
            Some((p, _)) => {
                let w: Vec<f32> = p.weights.iter().map(|&w| w as f32).collect();
                Some(Tensor::from_slice(&w).f_to(self.centres.device())?)
            }
            None => None,
        })
    }

    /// Counts a training batch's targets into the prior while it is incomplete.
    fn count(&self, pixels: &Tensor, nearest: &Tensor) -> Result<(), TrainingError> {
        let _g = tch::no_grad_guard();
        if self.batches.f_int64_value(&[0])? >= self.options.prior_batches as i64 {
            return Ok(());
        }
        let mut counts = self.counts.shallow_clone();
        let _ = counts.f_add_(&nearest.f_bincount::<Tensor>(None, BINS as i64)?)?;
        let sum = pixels.f_to_kind(Kind::Double)?.f_sum_dim_intlist(0, false, Kind::Double)?;
        let mut ab_sum = self.ab_sum.shallow_clone();
        let _ = ab_sum.f_add_(&(sum * AB_SUM_SCALE).f_round()?.f_to_kind(Kind::Int64)?)?;
        let mut batches = self.batches.shallow_clone();
        let _ = batches.f_add_scalar_(1)?;
        Ok(())
    }

    /// Loss, per-example AuC of the annealed mean, and the decoded ab `[B, 2, g, g]`.
    fn scores(
        &self,
        logits: &Tensor,
        ab: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor, Tensor), TrainingError> {
        let (pixels, z) = (cells(ab)?, cells(logits)?);
        let (target, nearest) = soft_encode(
            &pixels,
            &self.centres,
            self.options.neighbours as i64,
            self.options.sigma,
        )?;
        if train {
            self.count(&pixels, &nearest)?;
        }
        let ce = target
            .f_mul(&z.f_to_kind(Kind::Float)?.f_log_softmax(-1, Kind::Float)?)?
            .f_sum_dim_intlist(-1, false, Kind::Float)?
            .f_neg()?;
        let loss = match self.weights()? {
            Some(w) => ce.f_mul(&w.f_index_select(0, &nearest)?)?.f_mean(Kind::Float)?,
            None => ce.f_mean(Kind::Float)?,
        };
        let decoded =
            uncells(&annealed_mean(&z.f_detach()?, &self.centres, self.options.temperature)?, ab)?;
        let auc = auc_per_example(&decoded, ab)?;
        Ok((loss, auc, decoded))
    }
}

/// `[B, C, g, g]` → `[B·g·g, C]` (one row per output cell).
fn cells(x: &Tensor) -> Result<Tensor, TrainingError> {
    let c = x.size()[1];
    Ok(x.f_permute([0, 2, 3, 1])?.f_reshape([-1, c])?)
}

/// `[B·g·g, C]` → `[B, C, g, g]` shaped like `like`.
fn uncells(x: &Tensor, like: &Tensor) -> Result<Tensor, TrainingError> {
    let s = like.size();
    let c = x.size()[1];
    Ok(x.f_reshape([s[0], s[2], s[3], c])?.f_permute([0, 3, 1, 2])?)
}

/// Soft encoding of `[N, 2]` ab values over the `[313, 2]` centres: `[N, 313]` targets with mass
/// on the `k` nearest bins (`exp(-d²/2σ²)`, normalised), and each value's nearest bin `[N]`.
pub fn soft_encode(
    ab: &Tensor,
    centres: &Tensor,
    k: i64,
    sigma: f64,
) -> Result<(Tensor, Tensor), TrainingError> {
    let ab = ab.f_to_kind(Kind::Float)?;
    let d2 = ab.f_unsqueeze(1)?.f_sub(&centres.f_unsqueeze(0)?)?.f_square()?.f_sum_dim_intlist(
        -1,
        false,
        Kind::Float,
    )?;
    let (near, idx) = d2.f_topk(k, -1, false, true)?;
    let w = near.f_div_scalar(-2.0 * sigma * sigma)?.f_softmax(-1, Kind::Float)?;
    let target = d2.f_zeros_like()?.f_scatter(1, &idx, &w)?;
    Ok((target, idx.f_select(1, 0)?))
}

/// The annealed mean of `[N, 313]` logits: `softmax(logits / T)` · centres, `[N, 2]`.
pub fn annealed_mean(logits: &Tensor, centres: &Tensor, t: f64) -> Result<Tensor, TrainingError> {
    let p = logits.f_to_kind(Kind::Float)?.f_div_scalar(t)?.f_softmax(-1, Kind::Float)?;
    Ok(p.f_matmul(centres)?)
}

/// Per-example AuC `[B]` of predicted against true ab, both `[B, 2, h, w]`: the mean over
/// pixels of `max(0, 1 − d/150)` (the area under the accuracy-vs-threshold curve on [0, 150],
/// normalised).
pub fn auc_per_example(pred: &Tensor, truth: &Tensor) -> Result<Tensor, TrainingError> {
    let d = pred
        .f_to_kind(Kind::Float)?
        .f_sub(&truth.f_to_kind(Kind::Float)?)?
        .f_square()?
        .f_sum_dim_intlist(1, false, Kind::Float)?
        .f_sqrt()?;
    let per_pixel = d.f_div_scalar(-AUC_MAX)?.f_add_scalar(1.0)?.f_clamp(0.0, 1.0)?;
    Ok(per_pixel.f_mean_dim([1i64, 2].as_slice(), false, Kind::Float)?)
}

/// The colourisation metrics: the annealed mean's AuC first, then the baselines'.
pub fn metrics() -> MetricSet {
    MetricSet::new(
        Box::new(MeanValue::new("auc", "auc")),
        vec![
            Box::new(MeanValue::new("auc_mean_colour", "auc_mean_colour")),
            Box::new(MeanValue::new("auc_grey", "auc_grey")),
        ],
    )
}

fn to_f64s(t: &Tensor) -> Result<Vec<f64>, TrainingError> {
    Ok(Vec::<f64>::try_from(t.f_to_kind(Kind::Double)?.f_to(Device::Cpu)?.f_flatten(0, -1)?)?)
}

/// An `s × s` picture from L `[s·s]` and a, b `[2·s·s]` (plane-major).
fn picture(s: usize, l: &[f64], ab: Option<&[f64]>) -> RgbImage {
    let plane = s * s;
    let mut rgb = Vec::with_capacity(3 * plane);
    for i in 0..plane {
        let (a, b) = ab.map_or((0.0, 0.0), |v| (v[i], v[plane + i]));
        rgb.extend_from_slice(&lab::lab_to_rgb8([l[i], a, b]));
    }
    RgbImage { width: s as u32, height: s as u32, rgb }
}

impl TaskModel for ColorizationNet {
    fn train_step(&self, b: &TensorBatch) -> Result<StepOutput, TrainingError> {
        let (gray, ab) = Self::fields(b)?;
        let logits = self.forward_t(gray, true)?;
        let (loss, auc, _) = self.scores(&logits, ab, true)?;
        Ok(StepOutput { loss, hits: auc })
    }

    fn evaluate(&self, b: &TensorBatch) -> Result<Scored, TrainingError> {
        let (gray, ab) = Self::fields(b)?;
        let (loss, auc, _) = self.scores(&self.forward_t(gray, false)?, ab, false)?;
        let mut s = Scored {
            loss: loss.f_double_value(&[])?,
            examples: b.len(),
            hits: to_f64s(&auc)?.iter().map(|&v| v as f32).collect(),
            ..Default::default()
        };
        s.values.insert("auc".into(), to_f64s(&auc)?);
        s.values.insert("auc_grey".into(), to_f64s(&auc_per_example(&ab.f_zeros_like()?, ab)?)?);
        if let Some((_, mean)) = self.prior(true)? {
            let colour = Tensor::from_slice(&mean.map(|v| v as f32))
                .f_to(ab.device())?
                .f_view([1, 2, 1, 1])?
                .f_expand_as(ab)?;
            s.values.insert("auc_mean_colour".into(), to_f64s(&auc_per_example(&colour, ab)?)?);
        }
        s.check().map_err(TrainingError::Batch)?;
        Ok(s)
    }

    fn logits(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        self.forward_t(Self::fields(b)?.0, false)
    }

    fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    fn embed(&self, b: &TensorBatch) -> Result<Embeddings, TrainingError> {
        Ok(Embeddings {
            vision: self.trunk.vision()?.forward_t(Self::fields(b)?.0, false),
            audio: None,
        })
    }

    /// Grey input, prediction (the annealed mean with the input's L) and original (its ab at the
    /// output grid, upsampled as the prediction is, with the same L), per example.
    fn pictures(&self, b: &TensorBatch) -> Result<Vec<PictureRow>, TrainingError> {
        let (gray, ab) = Self::fields(b)?;
        let (_, _, decoded) = self.scores(&self.forward_t(gray, false)?, ab, false)?;
        let s = gray.size()[2];
        let up = |x: &Tensor| -> Result<Vec<f64>, TrainingError> {
            to_f64s(&x.f_to_kind(Kind::Float)?.f_upsample_bilinear2d([s, s], false, None, None)?)
        };
        let (pred, truth) = (up(&decoded)?, up(ab)?);
        let l = to_f64s(
            &gray
                .f_select(1, 0)?
                .f_mul_scalar(f64::from(self.std[0]))?
                .f_add_scalar(f64::from(self.mean[0]))?
                .f_mul_scalar(100.0)?,
        )?;
        let (s, plane) = (s as usize, (s * s) as usize);
        let mut rows = Vec::with_capacity(b.len());
        for (i, m) in b.meta.iter().enumerate() {
            let li = &l[i * plane..(i + 1) * plane];
            let name = m.file.rsplit('/').next().unwrap_or(&m.file);
            let t = m.video_times.first().copied().unwrap_or(0.0);
            rows.push(PictureRow {
                label: format!("{name} {t:.2}s"),
                pictures: vec![
                    ("input".into(), picture(s, li, None)),
                    (
                        "prediction".into(),
                        picture(s, li, Some(&pred[i * 2 * plane..(i + 1) * 2 * plane])),
                    ),
                    (
                        "original".into(),
                        picture(s, li, Some(&truth[i * 2 * plane..(i + 1) * 2 * plane])),
                    ),
                ],
            });
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::training::Trainer;

    fn centres() -> Tensor {
        let flat: Vec<f32> = (0..BINS).flat_map(|q| bins::centre(q).map(|v| v as f32)).collect();
        Tensor::from_slice(&flat).view([BINS as i64, 2])
    }

    #[test]
    fn tch_soft_encoding_matches_the_reference_and_sums_to_one() {
        // No ties among the 5th and 6th nearest (which of two equally near bins is kept is
        // arbitrary).
        let abs = [[0.0, 1.0], [3.0, -4.0], [-57.5, 41.0], [81.0, 67.0], [12.0, 98.0]];
        let flat: Vec<f32> = abs.iter().flat_map(|v| v.map(|x| x as f32)).collect();
        let (target, nearest) =
            soft_encode(&Tensor::from_slice(&flat).view([5, 2]), &centres(), 5, 5.0).unwrap();
        let t = Vec::<f32>::try_from(target.flatten(0, -1)).unwrap();
        let nearest = Vec::<i64>::try_from(nearest).unwrap();
        for (i, ab) in abs.iter().enumerate() {
            let row = &t[i * BINS..(i + 1) * BINS];
            let total: f32 = row.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "{ab:?}: {total}");
            assert_eq!(row.iter().filter(|&&v| v > 0.0).count(), 5);
            for (q, w) in bins::soft_encode(*ab, 5, 5.0) {
                assert!((f64::from(row[q]) - w).abs() < 1e-5, "{ab:?} bin {q}");
            }
            assert_eq!(nearest[i] as usize, bins::nearest(*ab));
        }
    }

    #[test]
    fn annealed_mean_of_one_hot_is_its_centre_and_low_temperature_approaches_the_mode() {
        let c = centres();
        let q = bins::nearest([30.0, 60.0]);
        let one_hot = Tensor::full([1, BINS as i64], -1e4, (Kind::Float, Device::Cpu));
        let _ = one_hot.narrow(1, q as i64, 1).fill_(0.0);
        let got = Vec::<f32>::try_from(annealed_mean(&one_hot, &c, 0.38).unwrap().flatten(0, -1))
            .unwrap();
        assert_eq!(got, vec![30.0, 60.0]);
        // Two bins, logits 1 and 0.5: the mean lies between, T → 0 goes to the larger.
        let (p, r) = (bins::nearest([0.0, 0.0]), bins::nearest([50.0, 0.0]));
        let logits = Tensor::full([1, BINS as i64], -1e4, (Kind::Float, Device::Cpu));
        let _ = logits.narrow(1, p as i64, 1).fill_(1.0);
        let _ = logits.narrow(1, r as i64, 1).fill_(0.5);
        let a_at = |t: f64| annealed_mean(&logits, &c, t).unwrap().double_value(&[0, 0]);
        let mean = 50.0 / (1.0 + 0.5f64.exp());
        assert!((a_at(1.0) - mean).abs() < 1e-3, "T = 1 is the mean");
        assert!(a_at(0.38) < a_at(1.0) && a_at(0.05) < 0.01, "{} {}", a_at(0.38), a_at(0.05));
    }

    #[test]
    fn auc_is_one_when_perfect_and_falls_linearly_with_the_distance() {
        let truth = Tensor::from_slice(&[10.0f32, -20.0, 30.0, 0.0]).view([1, 2, 1, 2]);
        let auc = |pred: &Tensor| auc_per_example(pred, &truth).unwrap().double_value(&[0]);
        assert!((auc(&truth) - 1.0).abs() < 1e-6);
        // Every pixel 75 away: half the thresholds accept it.
        assert!((auc(&(&truth + 75.0 / 2f64.sqrt())) - 0.5).abs() < 1e-5);
        // 150 or more away: no threshold does.
        assert!(auc(&(&truth + 200.0)).abs() < 1e-6);
        // One pixel right, one 30 away (a 3-4-5 offset): (1 + 0.8) / 2; and the discrete
        // definition (thresholds 0, 1, ..., 150) agrees to its step.
        let pred = Tensor::from_slice(&[10.0f32, -2.0, 30.0, 24.0]).view([1, 2, 1, 2]);
        assert!((auc(&pred) - 0.9).abs() < 1e-6);
        let discrete =
            (0..=150).map(|t| (1.0 + if 30 <= t { 1.0 } else { 0.0 }) / 2.0).sum::<f64>() / 151.0;
        assert!((auc(&pred) - discrete).abs() < 0.01);
    }

    /// The overfit test of the head, through the trainer on toy frames (an orange bright square,
    /// a blue striped one, grey around): the prior is counted from the first batches and stored,
    /// and the annealed mean's AuC ends well above both baselines.
    #[test]
    fn colorization_learns_the_toy_colours_and_beats_the_mean_colour() {
        let (task, mut run, mut toy) = crate::tasks::trainer_contract::tiny_run(
            "colorization",
            &[("prior_batches", "5")],
            150,
        );
        run.model.input.frame_size = 32;
        run.model.vision.channels = vec![8, 16, 16];
        run.model.head.hidden = 32;
        (run.train.batch, run.train.lr, run.train.warmup_steps, run.train.val_batches) =
            (16, 3e-3, 5, 4);
        toy.input = run.model.input.clone();
        toy.val_examples = 64;
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run, &task).unwrap();
        let before = t.validate(&toy).unwrap();
        assert_eq!(before.metric_name, "auc");
        assert!(!before.metrics.contains_key("auc_mean_colour"), "no prior before training");
        let never = AtomicBool::new(false);
        let out = t.run(&toy, &never, &mut |_| {}).unwrap();
        let after = out.last_val.unwrap();
        let (mean, grey) = (after.metrics["auc_mean_colour"], after.metrics["auc_grey"]);
        assert!(
            after.metric > mean + 0.01 && after.metric > grey + 0.01,
            "auc {} -> {} (mean colour {mean}, grey {grey})",
            before.metric,
            after.metric
        );
        let vars = t.var_store().variables();
        assert_eq!(vars["heads.colorization.prior.batches"].int64_value(&[0]), 5);
        let counted: i64 =
            vars["heads.colorization.prior.counts"].sum(Kind::Int64).int64_value(&[]);
        assert_eq!(counted, 5 * 16 * 8 * 8, "5 batches of 16 examples of 8 × 8 cells");
    }
}
