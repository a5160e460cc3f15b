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

/// The towers' outputs for a batch, per input (row), before the head.
#[derive(Debug)]
struct Encoded {
    /// L3/AVE: the vision embedding `[N, E]`; AVOL/cosine: the embedding map `[N, E, h, w]`.
    vision: Tensor,
    /// Pooled vision features, the synchrony term's input (only when it is configured).
    vision_pooled: Option<Tensor>,
    /// The audio embedding `[N, E]`.
    audio: Tensor,
    /// Pooled audio features (time-kept when the audio tower keeps time).
    audio_pooled: Tensor,
}

impl Encoded {
    /// Rows `fi` of the vision side paired with rows `aj` of the audio side.
    fn rows(&self, fi: &Tensor, aj: &Tensor) -> Encoded {
        Encoded {
            vision: self.vision.index_select(0, fi),
            vision_pooled: self.vision_pooled.as_ref().map(|v| v.index_select(0, fi)),
            audio: self.audio.index_select(0, aj),
            audio_pooled: self.audio_pooled.index_select(0, aj),
        }
    }
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
            HeadKind::Avol => Head::Avol(AvolHead::new(&hp, cfg.head.normalize, cfg.head.pool)),
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
        Ok(self.score(&self.encode(frames, specs, train)?))
    }

    /// `[B·B, 2]` logits of every frame of the batch with every audio window of the batch, row
    /// `i·B + j` pairing frame `i` with audio `j` (the in-batch AVC objective: the diagonal are
    /// the batch's own pairs). The towers run once per input; only the head runs per pair.
    pub fn all_pairs_t(
        &self,
        frames: &Tensor,
        specs: &Tensor,
        train: bool,
    ) -> Result<Tensor, ModelError> {
        let enc = self.encode(frames, specs, train)?;
        let b = enc.audio.size()[0];
        if enc.vision.size()[0] != b {
            return Err(ModelError::Shape {
                what: "spectrograms",
                expected: format!("as many as the frames ({})", enc.vision.size()[0]),
                got: enc.audio.size(),
            });
        }
        if let (Head::Avol(h), None) = (&self.head, &self.sync) {
            return Ok(h.all_pairs(&enc.vision, &enc.audio));
        }
        let dev = enc.audio.device();
        let ar = Tensor::arange(b, (Kind::Int64, dev));
        // Frame index i repeated B times, audio index j cycling: row i·B + j.
        let fi = ar.repeat_interleave_self_int(b, Some(0), None);
        let aj = ar.repeat([b]);
        Ok(self.score(&enc.rows(&fi, &aj)))
    }

    /// Runs both towers once: what the head compares, per input.
    fn encode(&self, frames: &Tensor, specs: &Tensor, train: bool) -> Result<Encoded, ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        let audio_pooled = self.audio.pool(&self.audio.feature_map(specs, train));
        let audio = self.audio.project(&audio_pooled);
        let vmap = self.vision.feature_map(&x, train);
        Ok(match &self.head {
            Head::L3(_) | Head::Ave(_) => {
                let vp = self.vision.pool(&vmap);
                Encoded {
                    vision: self.vision.project(&vp),
                    vision_pooled: self.sync.is_some().then_some(vp),
                    audio,
                    audio_pooled,
                }
            }
            Head::Avol(_) | Head::Cosine => Encoded {
                vision: self.vision.embedding_map(&vmap),
                vision_pooled: None,
                audio,
                audio_pooled,
            },
        })
    }

    /// The head (plus the synchrony term, if configured) on encoded rows: `[N, 2]` logits.
    fn score(&self, e: &Encoded) -> Tensor {
        let logits = match &self.head {
            Head::L3(h) => h.forward(&e.vision, &e.audio),
            Head::Ave(h) => h.forward(&e.vision, &e.audio),
            Head::Avol(h) => h.forward(&e.vision, &e.audio),
            Head::Cosine => {
                let cos = (l2_normalize(&e.vision)
                    * l2_normalize(&e.audio).unsqueeze(-1).unsqueeze(-1))
                .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
                let z = cos.amax([1, 2], false).unsqueeze(1) / self.temperature;
                Tensor::cat(&[z.zeros_like(), z], 1)
            }
        };
        match (&self.sync, &e.vision_pooled) {
            (Some(sync), Some(vp)) => {
                let z = sync.forward(vp, &e.audio_pooled).unsqueeze(1);
                logits + Tensor::cat(&[z.zeros_like(), z], 1)
            }
            _ => logits,
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

    /// Where in the picture the sound comes from: `[B, h, w]` in eval mode, scored as `score`
    /// says: the cosine similarity of each location's embedding (the vision projection applied
    /// per location) with the audio embedding, for every head; or, with [`MapScore::Head`] and
    /// the AVOL head, σ of its per-location calibrated logits (the other heads have no map of
    /// their own and give the cosine). Upsampling to image size is left to the caller (it is a
    /// metric choice).
    pub fn localization_map(
        &self,
        frames: &Tensor,
        specs: &Tensor,
        score: MapScore,
    ) -> Result<Tensor, ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        let a = self.audio.forward_t(specs, false);
        let vmap = self.vision.embedding_map(&self.vision.feature_map(&x, false));
        Ok(match (&self.head, score) {
            (Head::Avol(h), MapScore::Head) => h.logit_map(&vmap, &a).sigmoid(),
            _ => {
                // l2_normalize works along dim 1, which is E for both [B, E, h, w] and [B, E].
                let an = l2_normalize(&a).unsqueeze(-1).unsqueeze(-1);
                (l2_normalize(&vmap) * an).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
            }
        })
    }

    /// Whether [`Self::localization_map`] with `score` gives σ of the head's logits (values in
    /// [0, 1]) rather than a cosine (in [-1, 1]).
    pub fn map_is_probability(&self, score: MapScore) -> bool {
        matches!((&self.head, score), (Head::Avol(_), MapScore::Head))
    }
}

/// How a localisation map scores each location.
///
/// The AVOL head's logit is a dot product, so a location's score grows with its embedding's
/// norm as well as with its agreement with the sound; trained with the max over locations, the
/// norm makes maps peaky (a few strong cells, the rest of the sounding object no higher than
/// the background). The cosine keeps only the direction, which is what says *which* object
/// sounds: on the big-object synthetic world it lifts the same checkpoint's cIoU@0.5 from 0.46
/// to 0.67 (`docs/results.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapScore {
    /// Cosine of each location's embedding with the audio embedding (every head).
    #[default]
    Cosine,
    /// The head's own per-location score: σ of the calibrated logits for AVOL; the cosine for
    /// heads without a per-location score.
    Head,
}
