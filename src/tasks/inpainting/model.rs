//! The context encoder on the shared trunk. Encoder: the vision tower (`trunk.vision.*`) over
//! the masked frame, to its last feature map `[C, h, w]`. Bottleneck: the paper's channel-wise
//! fully connected layer (each channel's `h·w` map to `h·w` values by its own matrix, no
//! mixing across channels: every location can read every other while the parameters grow
//! with `C·(hw)²` rather than `(C·hw)²`), then a 1×1 convolution that mixes channels (the paper's
//! "stride 1 convolution"). Decoder: 4×4 stride-2 up-convolutions with batch norm and ReLU, the
//! trunk's stage widths in reverse, until the frame size (a bilinear resize finishes sides that
//! are not the map's side times a power of two), then a 3×3 convolution to RGB in the input's
//! normalised units. No skip connections: everything the hole gets passes the bottleneck.
//!
//! Loss: `Σ w (pred − target)² / (3 · #{w > 0})` with the assembler's weights (1 in the hole,
//! ×10 in the overlap band), plus with `adversarial` the discriminator's term
//! ([`super::adversary`]): `λ_rec · L_rec + λ_adv · L_adv`.
//!
//! Scores, per example, on pixels in [0, 1] (the prediction clamped): `hole_l2` (mean squared
//! error over the hole's pixels and channels), the same for two baselines (`hole_l2_mean_fill`:
//! the hole filled with the mean colour of the example's visible context; `hole_l2_mean_pixel`:
//! left at the mean pixel, i.e. the input as given) and `hole_psnr` (10 log₁₀ 1/`hole_l2`); the
//! hit is beating the mean-colour fill. Metrics: `l2_reduction` against the mean-colour fill
//! (primary), against the mean pixel, the means of those values, and the share of hits.
//! Pictures: masked input, reconstruction (the context pasted back outside the hole), original.
//! VarStore paths: `trunk.vision.*`, `heads.inpainting.{cfc,mix,mix_bn,up{i},up{i}_bn,rgb}`.

use tch::{nn, nn::ModuleT, Device, Kind, Tensor};

use super::adversary::Adversary;
use super::metric::L2Reduction;
use super::{InpaintingOptions, INPAINTING};
use crate::models::{ModelConfig, ModelError, Trunk, TrunkNeeds};
use crate::training::{
    Embeddings, MeanHit, MeanValue, MetricSet, PictureRow, Scored, StepOutput, TaskModel,
    TensorBatch, TrainingError,
};
use crate::viz::RgbImage;

/// The context encoder.
#[derive(Debug)]
pub struct InpaintingNet {
    trunk: Trunk,
    cfc_weight: Tensor,
    cfc_bias: Tensor,
    mix: nn::Conv2D,
    mix_bn: nn::BatchNorm,
    ups: Vec<(nn::ConvTranspose2D, nn::BatchNorm)>,
    rgb: nn::Conv2D,
    side: i64,
    map: [i64; 3],
    mean: [f32; 3],
    std: [f32; 3],
    options: InpaintingOptions,
    adversary: Option<Adversary>,
}

/// The inpainting metrics: `l2_reduction` first.
pub fn metrics() -> MetricSet {
    MetricSet::new(
        Box::new(L2Reduction::new("l2_reduction", "hole_l2", "hole_l2_mean_fill")),
        vec![
            Box::new(L2Reduction::new("l2_reduction_mean_pixel", "hole_l2", "hole_l2_mean_pixel")),
            Box::new(MeanValue::new("hole_l2", "hole_l2")),
            Box::new(MeanValue::new("hole_l2_mean_fill", "hole_l2_mean_fill")),
            Box::new(MeanValue::new("hole_l2_mean_pixel", "hole_l2_mean_pixel")),
            Box::new(MeanValue::new("hole_psnr", "hole_psnr")),
            Box::new(MeanValue::new("hole_psnr_mean_fill", "hole_psnr_mean_fill")),
            Box::new(MeanHit::new("beats_mean_fill")),
        ],
    )
}

/// Per-example hole errors of a batch, `[B]` each.
struct HoleErrors {
    model: Tensor,
    mean_fill: Tensor,
    mean_pixel: Tensor,
}

impl InpaintingNet {
    /// Builds the model under `p` (the VarStore root); with `adversarial` also its
    /// discriminator (in a store of its own).
    pub fn new(
        p: &nn::Path,
        cfg: &ModelConfig,
        options: &InpaintingOptions,
    ) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let trunk = Trunk::new(p, cfg, TrunkNeeds { vision_channels: Some(3), audio: false });
        let side = i64::from(cfg.input.frame_size);
        // The feature map's shape, from a probe through the (fresh) trunk.
        let map = tch::no_grad(|| -> Result<Vec<i64>, ModelError> {
            let x = Tensor::zeros([1, 3, side, side], (Kind::Float, p.device()));
            Ok(trunk.vision()?.feature_map(&x, false).size())
        })?;
        let [_, c, h, w] = map[..] else {
            return Err(ModelError::Config(format!(
                "the vision trunk gave a map of shape {map:?}"
            )));
        };
        let n = h * w;
        let hp = p.sub("heads").sub(INPAINTING.name);
        let cp = hp.sub("cfc");
        let cfc_weight = cp.var(
            "weight",
            &[c, n, n],
            nn::Init::Randn { mean: 0.0, stdev: (1.0 / n as f64).sqrt() },
        );
        let cfc_bias = cp.zeros("bias", &[c, n]);
        let mix = nn::conv2d(hp.sub("mix"), c, c, 1, Default::default());
        let mix_bn = nn::batch_norm2d(hp.sub("mix_bn"), c, Default::default());
        let stages = trunk.vision()?.backbone().stage_channels();
        let mut widths = stages.iter().rev().skip(1).copied();
        let (mut ups, mut c_in, mut size, mut i) = (Vec::new(), c, h.max(w), 0);
        let up_cfg =
            nn::ConvTransposeConfig { stride: 2, padding: 1, bias: false, ..Default::default() };
        while size < side {
            let c_out = widths.next().unwrap_or((c_in / 2).max(8));
            let up = nn::conv_transpose2d(hp.sub(format!("up{i}")), c_in, c_out, 4, up_cfg);
            let bn = nn::batch_norm2d(hp.sub(format!("up{i}_bn")), c_out, Default::default());
            ups.push((up, bn));
            (c_in, size, i) = (c_out, size * 2, i + 1);
        }
        let rgb = nn::conv2d(
            hp.sub("rgb"),
            c_in,
            3,
            3,
            nn::ConvConfig { padding: 1, ..Default::default() },
        );
        let adversary =
            options.adversarial.then(|| Adversary::new(side, p.device(), options.adv_lr));
        Ok(InpaintingNet {
            trunk,
            cfc_weight,
            cfc_bias,
            mix,
            mix_bn,
            ups,
            rgb,
            side,
            map: [c, h, w],
            mean: cfg.input.mean,
            std: cfg.input.std,
            options: options.clone(),
            adversary,
        })
    }

    /// The prediction `[B, 3, S, S]` (normalised units) of masked frames `[B, 3, S, S]`.
    pub fn forward_t(&self, masked: &Tensor, train: bool) -> Result<Tensor, TrainingError> {
        let [c, h, w] = self.map;
        let x = self.trunk.vision()?.feature_map(masked, train);
        let b = x.size()[0];
        // Channel-wise fully connected: [B, C, n] × [C, n, n] → [B, C, n].
        let flat = x.f_reshape([b, c, h * w])?;
        let y = Tensor::f_einsum("bcn,cnm->bcm", &[&flat, &self.cfc_weight], None::<i64>)?
            .f_add(&self.cfc_bias)?
            .f_relu()?
            .f_reshape([b, c, h, w])?;
        let mut y = y.apply(&self.mix).apply_t(&self.mix_bn, train).f_relu()?;
        for (up, bn) in &self.ups {
            y = y.apply(up).apply_t(bn, train).f_relu()?;
        }
        if y.size()[2] != self.side || y.size()[3] != self.side {
            y = y.f_upsample_bilinear2d([self.side, self.side], false, None, None)?;
        }
        Ok(y.apply(&self.rgb))
    }

    /// The weighted L2 reconstruction loss.
    fn reconstruction(pred: &Tensor, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        let (target, weight) = (b.get("target")?, b.get("weight")?);
        let se = pred.f_to_kind(Kind::Float)?.f_sub(target)?.f_square()?;
        let count = weight.f_gt(0.0)?.f_sum(Kind::Float)?.f_mul_scalar(3.0)?.f_clamp_min(1.0)?;
        Ok(se.f_mul(weight)?.f_sum(Kind::Float)?.f_div(&count)?)
    }

    /// `[1, 3, 1, 1]` constants on `device`.
    fn channel(v: [f32; 3], device: Device) -> Result<Tensor, TrainingError> {
        Ok(Tensor::from_slice(&v).f_view([1, 3, 1, 1])?.f_to(device)?)
    }

    /// Normalised values to pixels in [0, 1].
    fn pixels(&self, x: &Tensor) -> Result<Tensor, TrainingError> {
        let d = x.device();
        Ok(x.f_to_kind(Kind::Float)?
            .f_mul(&Self::channel(self.std, d)?)?
            .f_add(&Self::channel(self.mean, d)?)?
            .f_clamp(0.0, 1.0)?)
    }

    /// The per-example mean squared errors in the hole of the prediction and the baselines.
    fn hole_errors(&self, pred: &Tensor, b: &TensorBatch) -> Result<HoleErrors, TrainingError> {
        let (target, hole) = (self.pixels(b.get("target")?)?, b.get("hole")?);
        let n_hole = hole.f_sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)?;
        let n_hole = n_hole.f_mul_scalar(3.0)?.f_clamp_min(1.0)?;
        let err = |fill: &Tensor| -> Result<Tensor, TrainingError> {
            let se = fill.f_sub(&target)?.f_square()?.f_mul(hole)?;
            Ok(se.f_sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)?.f_div(&n_hole)?)
        };
        let context = hole.f_neg()?.f_add_scalar(1.0)?;
        let n_ctx = context.f_sum_dim_intlist([2i64, 3].as_slice(), true, Kind::Float)?;
        let colour = target
            .f_mul(&context)?
            .f_sum_dim_intlist([2i64, 3].as_slice(), true, Kind::Float)?
            .f_div(&n_ctx.f_clamp_min(1.0)?)?;
        Ok(HoleErrors {
            model: err(&self.pixels(pred)?)?,
            mean_fill: err(&colour)?,
            mean_pixel: err(&Self::channel(self.mean, target.device())?)?,
        })
    }

    /// The context pasted back outside the hole: `target · (1 − hole) + pred · hole`.
    fn composite(pred: &Tensor, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        let (target, hole) = (b.get("target")?, b.get("hole")?);
        Ok(target.f_mul(&hole.f_neg()?.f_add_scalar(1.0)?)?.f_add(&pred.f_mul(hole)?)?)
    }

    /// The discriminator, when the adversarial term is on.
    #[cfg(test)]
    pub fn adversary(&self) -> Option<&Adversary> {
        self.adversary.as_ref()
    }

    /// An `[3, S, S]` normalised picture as an image.
    fn image(&self, x: &Tensor) -> Result<RgbImage, TrainingError> {
        let s = self.side;
        let px = self.pixels(x)?.f_view([3, s, s])?.f_mul_scalar(255.0)?.f_round()?;
        let px = px.f_permute([1, 2, 0])?;
        let px = px.f_contiguous()?.f_to(Device::Cpu)?.f_to_kind(Kind::Uint8)?;
        let rgb = Vec::<u8>::try_from(px.f_flatten(0, -1)?)?;
        let side = u32::try_from(s).unwrap_or(0);
        Ok(RgbImage { width: side, height: side, rgb })
    }
}

fn to_vec(t: &Tensor) -> Result<Vec<f64>, TrainingError> {
    Ok(Vec::<f64>::try_from(t.f_to_kind(Kind::Double)?.f_to(Device::Cpu)?.f_flatten(0, -1)?)?)
}

impl TaskModel for InpaintingNet {
    fn train_step(&self, b: &TensorBatch) -> Result<StepOutput, TrainingError> {
        let pred = self.forward_t(b.get("masked")?, true)?;
        let rec = Self::reconstruction(&pred, b)?;
        let loss = match &self.adversary {
            Some(adv) => {
                let fake = Self::composite(&pred, b)?;
                adv.step(b.get("target")?, &fake)?;
                let g = adv.generator_loss(&fake)?;
                rec.f_mul_scalar(self.options.lambda_rec)?
                    .f_add(&g.f_mul_scalar(self.options.lambda_adv)?)?
            }
            None => rec,
        };
        let e = self.hole_errors(&pred.f_detach()?, b)?;
        Ok(StepOutput { loss, hits: e.model.f_lt_tensor(&e.mean_fill)?.f_to_kind(Kind::Float)? })
    }

    fn evaluate(&self, b: &TensorBatch) -> Result<Scored, TrainingError> {
        let pred = self.forward_t(b.get("masked")?, false)?;
        let loss = Self::reconstruction(&pred, b)?.f_double_value(&[])?;
        let e = self.hole_errors(&pred, b)?;
        let (model, fill, pixel) =
            (to_vec(&e.model)?, to_vec(&e.mean_fill)?, to_vec(&e.mean_pixel)?);
        let psnr = |v: &[f64]| v.iter().map(|e| -10.0 * e.max(1e-10).log10()).collect::<Vec<_>>();
        let mut s = Scored {
            loss,
            examples: b.len(),
            hits: model.iter().zip(&fill).map(|(m, f)| f32::from(u8::from(m < f))).collect(),
            ..Default::default()
        };
        s.values.insert("hole_psnr".into(), psnr(&model));
        s.values.insert("hole_psnr_mean_fill".into(), psnr(&fill));
        s.values.insert("hole_l2".into(), model);
        s.values.insert("hole_l2_mean_fill".into(), fill);
        s.values.insert("hole_l2_mean_pixel".into(), pixel);
        s.check().map_err(TrainingError::Batch)?;
        Ok(s)
    }

    /// The prediction `[B, 3, S, S]` (normalised units).
    fn logits(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        self.forward_t(b.get("masked")?, false)
    }

    fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    /// The vision embedding of the whole (unmasked) frame.
    fn embed(&self, b: &TensorBatch) -> Result<Embeddings, TrainingError> {
        Ok(Embeddings {
            vision: self.trunk.vision()?.forward_t(b.get("target")?, false),
            audio: None,
        })
    }

    fn pictures(&self, b: &TensorBatch) -> Result<Vec<PictureRow>, TrainingError> {
        let pred = self.forward_t(b.get("masked")?, false)?;
        let filled = Self::composite(&pred, b)?;
        let (masked, target) = (b.get("masked")?, b.get("target")?);
        let mut rows = Vec::with_capacity(b.len());
        for (i, m) in b.meta.iter().enumerate() {
            let i = i as i64;
            let name = m.file.rsplit('/').next().unwrap_or(&m.file);
            let at = m.video_times.first().copied().unwrap_or(0.0);
            rows.push(PictureRow {
                label: format!("{name} {at:.2}s"),
                pictures: vec![
                    ("masked".into(), self.image(&masked.f_get(i)?)?),
                    ("reconstruction".into(), self.image(&filled.f_get(i)?)?),
                    ("original".into(), self.image(&target.f_get(i)?)?),
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
    use crate::tasks::trainer_contract::tiny_run;
    use crate::training::{AdamW, AdamWConfig, Trainer};

    fn toy_batch(toy: &crate::training::ToySource, n: usize) -> TensorBatch {
        TensorBatch::from_batch(&toy.batch(0, 0, n).unwrap(), Device::Cpu).unwrap()
    }

    /// The overfit test through the trainer: on smooth colour fields (planes per channel) the
    /// hole follows from the context, and the model must remove most of the mean-colour fill's
    /// error on held-out toy frames.
    #[test]
    fn inpainting_learns_smooth_colour_fields() {
        let (task, mut run, mut toy) = tiny_run("inpainting", &[("overlap", "1")], 400);
        run.model.vision.channels = vec![8, 16, 32];
        (run.train.batch, run.train.lr, run.train.warmup_steps) = (16, 3e-3, 5);
        run.train.val_batches = 4;
        toy.val_examples = 64;
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run, &task).unwrap();
        let before = t.validate(&toy).unwrap();
        assert_eq!(before.metric_name, "l2_reduction");
        let never = AtomicBool::new(false);
        let out = t.run(&toy, &never, &mut |_| {}).unwrap();
        let after = out.last_val.unwrap();
        assert!(
            after.metric >= 0.6,
            "l2_reduction {} -> {} (hole L2 {:?}, mean fill {:?})",
            before.metric,
            after.metric,
            after.get("hole_l2"),
            after.get("hole_l2_mean_fill")
        );
        assert!(after.get("beats_mean_fill").unwrap() >= 0.9);
        assert!(after.get("hole_psnr").unwrap() > after.get("hole_psnr_mean_fill").unwrap());
    }

    /// The discriminator is stepped only by its own optimiser: after the task's training step
    /// (which steps it once), the generator's loss leaves gradients in its variables, yet the
    /// trainer's backward and optimiser step (over the trainer's store) leave its weights as its
    /// own step left them, while the generator's weights move.
    #[test]
    fn the_discriminator_changes_only_by_its_own_step() {
        let (task, run, toy) = tiny_run("inpainting", &[("adversarial", "true")], 1);
        let options: InpaintingOptions = serde_json::from_value(task.options()).unwrap();
        // The trainer's store and optimiser, as `Trainer` builds them.
        let vs = nn::VarStore::new(Device::Cpu);
        let net = InpaintingNet::new(&vs.root(), &run.model, &options).unwrap();
        assert!(
            vs.variables().keys().all(|k| !k.contains("adversary")),
            "D is in the trainer's store"
        );
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        let batch = toy_batch(&toy, 8);
        let snapshot = |vs: &nn::VarStore| {
            let mut v: Vec<(String, Tensor)> =
                vs.variables().into_iter().map(|(k, t)| (k, t.detach().copy())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let adv = net.adversary().unwrap();
        let d0 = snapshot(adv.var_store());
        let g0 = snapshot(&vs);
        opt.zero_grad();
        let out = net.train_step(&batch).unwrap();
        assert_eq!(adv.steps(), 1);
        assert!(adv.last_loss().is_finite());
        let d1 = snapshot(adv.var_store());
        assert!(d0.iter().zip(&d1).any(|(a, b)| !a.1.equal(&b.1)), "D's own step changed nothing");
        out.loss.backward();
        let grads: f64 = adv
            .var_store()
            .trainable_variables()
            .iter()
            .map(|v| v.grad().abs().sum(Kind::Double).double_value(&[]))
            .sum();
        assert!(grads > 0.0, "the generator's loss left no gradient in D (the test shows nothing)");
        opt.step(1e-2).unwrap();
        let d2 = snapshot(adv.var_store());
        assert!(d1.iter().zip(&d2).all(|(a, b)| a.1.equal(&b.1)), "the trainer's step moved D");
        let g1 = snapshot(&vs);
        assert!(g0.iter().zip(&g1).any(|(a, b)| !a.1.equal(&b.1)), "the generator did not move");
    }

    /// The contact sheet's rows: masked input, reconstruction with the context pasted back
    /// (equal to the original outside the hole), original.
    #[test]
    fn pictures_show_the_input_the_reconstruction_and_the_original() {
        let (task, run, toy) = tiny_run("inpainting", &[], 1);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = task.model(&vs.root(), &run.model).unwrap();
        let batch = toy_batch(&toy, 3);
        let rows = {
            let _g = tch::no_grad_guard();
            net.pictures(&batch).unwrap()
        };
        assert_eq!(rows.len(), 3);
        let hole = Vec::<f32>::try_from(batch.get("hole").unwrap().get(0).flatten(0, -1)).unwrap();
        let r = &rows[0];
        let captions: Vec<&str> = r.pictures.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(captions, ["masked", "reconstruction", "original"]);
        let (masked, filled, original) = (&r.pictures[0].1, &r.pictures[1].1, &r.pictures[2].1);
        assert_eq!((original.width, original.height), (16, 16));
        let (mut inside_differs, mut outside) = (0, 0);
        for (i, &h) in hole.iter().enumerate() {
            let px = |im: &RgbImage| im.rgb[3 * i..3 * i + 3].to_vec();
            if h == 0.0 {
                assert_eq!(px(filled), px(original), "pixel {i} outside the hole");
                assert_eq!(px(masked), px(original), "pixel {i} outside the hole");
                outside += 1;
            } else {
                inside_differs += usize::from(px(masked) != px(original));
            }
        }
        assert!(outside > 0 && inside_differs > 0);
    }
}
