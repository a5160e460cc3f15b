//! The two-subnetwork audio-visual correspondence model: a vision tower on the frame(s), an
//! audio tower on the spectrogram, and one of the three heads. VarStore paths: `vision.*`,
//! `audio.*`, `head.*`: a frame-order checkpoint's `vision.*` loads into it unchanged.
//!
//! Inputs: frames `[B, 3, H, W]` (or `[B, K, 3, H, W]`, folded onto channels) and spectrograms
//! `[B, 1, F, T]`. Output: `[B, 2]` logits, class 1 = "the sound belongs to the picture".

use tch::{nn, nn::ModuleT, Kind, Tensor};

use super::{
    ave_head::l2_normalize, AveHead, AvolHead, HeadKind, L3Head, ModelConfig, ModelError, SyncHead,
    Tower,
};

#[derive(Debug)]
enum Head {
    L3(L3Head),
    Ave(AveHead),
    Avol(AvolHead),
    Cosine,
}

/// Vision tower + audio tower + AVC head.
#[derive(Debug)]
pub struct AvcNet {
    vision: Tower,
    audio: Tower,
    head: Head,
    sync: Option<SyncHead>,
    frames: i64,
    temperature: f64,
}

/// Checks a frame tensor and folds `[B, K, C, H, W]` onto channels.
pub(crate) fn fold_frames(frames: &Tensor, k: i64) -> Result<Tensor, ModelError> {
    let s = frames.size();
    match s.as_slice() {
        [_, c, _, _] if *c == 3 * k => Ok(frames.shallow_clone()),
        [b, kk, 3, h, w] if *kk == k => Ok(frames.reshape([*b, 3 * k, *h, *w])),
        _ => Err(ModelError::Shape {
            what: "frames",
            expected: format!("[B, {}, H, W] or [B, {k}, 3, H, W]", 3 * k),
            got: s,
        }),
    }
}

fn check_specs(specs: &Tensor) -> Result<(), ModelError> {
    let s = specs.size();
    match s.as_slice() {
        [_, 1, f, t] if *f >= 4 && *t >= 4 => Ok(()),
        _ => {
            Err(ModelError::Shape { what: "spectrograms", expected: "[B, 1, F, T]".into(), got: s })
        }
    }
}

impl AvcNet {
    /// Builds the model under `p`.
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let k = i64::from(cfg.input.frames);
        let emb = cfg.head.embedding;
        let vision = Tower::new(&p.sub("vision"), &cfg.vision, 3 * k, emb);
        let audio = Tower::new(&p.sub("audio"), &cfg.audio, 1, emb);
        let hp = p.sub("head");
        let head = match cfg.head.kind {
            HeadKind::L3 => Head::L3(L3Head::new(&hp, emb, cfg.head.hidden)),
            HeadKind::Ave => Head::Ave(AveHead::new(&hp)),
            HeadKind::Avol => Head::Avol(AvolHead::new(&hp)),
            HeadKind::Cosine => Head::Cosine,
        };
        let sync = (cfg.head.sync > 0).then(|| {
            let steps = i64::from(cfg.audio.time_steps);
            SyncHead::new(
                &hp.sub("sync"),
                vision.out_channels(),
                audio.out_channels(),
                steps,
                cfg.head.sync,
            )
        });
        Ok(AvcNet { vision, audio, head, sync, frames: k, temperature: cfg.head.temperature })
    }

    /// `[B, 2]` logits.
    pub fn forward_t(
        &self,
        frames: &Tensor,
        specs: &Tensor,
        train: bool,
    ) -> Result<Tensor, ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        let ap = self.audio.pool(&self.audio.feature_map(specs, train));
        let a = self.audio.project(&ap);
        let vision_pooled = || self.vision.pool(&self.vision.feature_map(&x, train));
        Ok(match &self.head {
            Head::L3(h) => {
                let vp = vision_pooled();
                self.with_sync(h.forward(&self.vision.project(&vp), &a), &vp, &ap)
            }
            Head::Ave(h) => {
                let vp = vision_pooled();
                self.with_sync(h.forward(&self.vision.project(&vp), &a), &vp, &ap)
            }
            Head::Avol(h) => {
                let vmap = self.vision.embedding_map(&self.vision.feature_map(&x, train));
                h.forward(&vmap, &a)
            }
            Head::Cosine => {
                let vmap = self.vision.embedding_map(&self.vision.feature_map(&x, train));
                let cos = (l2_normalize(&vmap) * l2_normalize(&a).unsqueeze(-1).unsqueeze(-1))
                    .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
                let z = cos.amax([1, 2], false).unsqueeze(1) / self.temperature;
                Tensor::cat(&[z.zeros_like(), z], 1)
            }
        })
    }

    /// Adds the synchrony term (if configured) to the "correspond" logit.
    fn with_sync(&self, logits: Tensor, vision_pooled: &Tensor, audio_pooled: &Tensor) -> Tensor {
        match &self.sync {
            None => logits,
            Some(sync) => {
                let z = sync.forward(vision_pooled, audio_pooled).unsqueeze(1);
                logits + Tensor::cat(&[z.zeros_like(), z], 1)
            }
        }
    }

    /// The per-location vision embedding map `[B, E, h, w]` and the audio embedding `[B, E]`
    /// (what the localisation objectives compare), in train or eval mode.
    pub fn maps_t(
        &self,
        frames: &Tensor,
        specs: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor), ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        let vmap = self.vision.embedding_map(&self.vision.feature_map(&x, train));
        Ok((vmap, self.audio.forward_t(specs, train)))
    }

    /// The temperature of the cosine head / contrastive objective.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Per-clip embeddings `([B, E] visual, [B, E] audio)` in eval mode.
    pub fn embed(&self, frames: &Tensor, specs: &Tensor) -> Result<(Tensor, Tensor), ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        Ok((self.vision.forward_t(&x, false), self.audio.forward_t(specs, false)))
    }

    /// Where in the picture the sound comes from: `[B, h, w]` in eval mode. For the AVOL head
    /// this is σ of its per-location logits; for the others, the cosine similarity of each
    /// location's embedding (the vision projection applied per location) with the audio
    /// embedding. Upsampling to image size is left to the caller (it is a metric choice).
    pub fn localization_map(&self, frames: &Tensor, specs: &Tensor) -> Result<Tensor, ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        let a = self.audio.forward_t(specs, false);
        let vmap = self.vision.embedding_map(&self.vision.feature_map(&x, false));
        Ok(match &self.head {
            Head::Avol(h) => h.logit_map(&vmap, &a).sigmoid(),
            _ => {
                // l2_normalize works along dim 1, which is E for both [B, E, h, w] and [B, E].
                let an = l2_normalize(&a).unsqueeze(-1).unsqueeze(-1);
                (l2_normalize(&vmap) * an).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
            }
        })
    }
}
