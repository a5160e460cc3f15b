//! The two-subnetwork audio-visual correspondence model: the shared trunk's vision tower on the
//! frame(s), its audio tower on the spectrogram, and one of the heads. VarStore paths:
//! `trunk.vision.*`, `trunk.audio.*`, `heads.avc.*`: a frame-order or rotation checkpoint's
//! `trunk.vision.*` loads into it unchanged.
//!
//! Inputs: frames `[B, 3, H, W]` (or `[B, K, 3, H, W]`, folded onto channels) and spectrograms
//! `[B, 1, F, T]`. Output: `[B, 2]` logits, class 1 = "the sound belongs to the picture".

use tch::{nn, nn::ModuleT, Kind, Tensor};

use crate::models::{
    l2_normalize, AveHead, AvolHead, HeadKind, L3Head, ModelConfig, ModelError, SyncHead, Tower,
    Trunk, TrunkNeeds,
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
    trunk: Trunk,
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
    /// Builds the model under `p` (the VarStore root).
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let k = i64::from(cfg.input.frames);
        let emb = cfg.head.embedding;
        let trunk = Trunk::new(p, cfg, TrunkNeeds { vision_channels: Some(3 * k), audio: true });
        let (vision, audio) = (trunk.vision()?, trunk.audio()?);
        let hp = p.sub("heads").sub("avc");
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
        Ok(AvcNet { trunk, head, sync, frames: k, temperature: cfg.head.temperature })
    }

    /// The shared trunk.
    pub fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    fn towers(&self) -> Result<(&Tower, &Tower), ModelError> {
        Ok((self.trunk.vision()?, self.trunk.audio()?))
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
        let (vt, at) = self.towers()?;
        let audio_pooled = at.pool(&at.feature_map(specs, train));
        let audio = at.project(&audio_pooled);
        let vmap = vt.feature_map(&x, train);
        Ok(match &self.head {
            Head::L3(_) | Head::Ave(_) => {
                let vp = vt.pool(&vmap);
                Encoded {
                    vision: vt.project(&vp),
                    vision_pooled: self.sync.is_some().then_some(vp),
                    audio,
                    audio_pooled,
                }
            }
            Head::Avol(_) | Head::Cosine => Encoded {
                vision: vt.embedding_map(&vmap),
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
        let (vt, at) = self.towers()?;
        let vmap = vt.embedding_map(&vt.feature_map(&x, train));
        Ok((vmap, at.forward_t(specs, train)))
    }

    /// The temperature of the cosine head / contrastive objective.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The visual embedding `[B, E]` alone, in eval mode.
    pub fn embed_vision(&self, frames: &Tensor) -> Result<Tensor, ModelError> {
        let x = fold_frames(frames, self.frames)?;
        Ok(self.trunk.vision()?.forward_t(&x, false))
    }

    /// Per-clip embeddings `([B, E] visual, [B, E] audio)` in eval mode.
    pub fn embed(&self, frames: &Tensor, specs: &Tensor) -> Result<(Tensor, Tensor), ModelError> {
        let x = fold_frames(frames, self.frames)?;
        check_specs(specs)?;
        let (vt, at) = self.towers()?;
        Ok((vt.forward_t(&x, false), at.forward_t(specs, false)))
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
        let (vt, at) = self.towers()?;
        let a = at.forward_t(specs, false);
        let vmap = vt.embedding_map(&vt.feature_map(&x, false));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Arch, HeadConfig, MapPool, TowerConfig};
    use crate::pipeline::InputSpec;
    use tch::{nn, Device, Kind, Tensor};

    fn tiny(arch: Arch, head: HeadKind) -> ModelConfig {
        let tower = TowerConfig { arch, channels: vec![4, 8, 8, 8], ..Default::default() };
        ModelConfig {
            vision: tower.clone(),
            audio: tower,
            head: HeadConfig { kind: head, embedding: 16, hidden: 8, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn every_head_and_tower_gives_two_logits_and_maps() {
        for arch in [Arch::Vgg, Arch::Resnet18] {
            for head in [HeadKind::L3, HeadKind::Ave, HeadKind::Avol, HeadKind::Cosine] {
                let vs = nn::VarStore::new(Device::Cpu);
                let net = AvcNet::new(&vs.root(), &tiny(arch, head)).unwrap();
                let frames = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
                let specs = Tensor::randn([2, 1, 64, 48], (Kind::Float, Device::Cpu));
                let logits = net.forward_t(&frames, &specs, true).unwrap();
                assert_eq!(logits.size(), vec![2, 2], "{arch:?} {head:?}");
                let (v, a) = net.embed(&frames, &specs).unwrap();
                assert_eq!((v.size(), a.size()), (vec![2, 16], vec![2, 16]));
                let map = net.localization_map(&frames, &specs, MapScore::Cosine).unwrap();
                let head_map = net.localization_map(&frames, &specs, MapScore::Head).unwrap();
                assert_eq!(head_map.size(), map.size(), "{arch:?} {head:?}");
                let (lo, hi) = (map.min().double_value(&[]), map.max().double_value(&[]));
                assert!(lo >= -1.0 - 1e-5 && hi <= 1.0 + 1e-5, "cosine map in [{lo}, {hi}]");
                if net.map_is_probability(MapScore::Head) {
                    let lo = head_map.min().double_value(&[]);
                    assert!(lo >= 0.0, "σ map below 0: {lo}");
                }
                let s = map.size();
                assert_eq!(s.len(), 3);
                assert_eq!(s[0], 2);
                assert!(s[1] >= 2 && s[2] >= 2, "{arch:?} {head:?}: map {s:?}");
            }
        }
    }

    #[test]
    fn normalized_avol_head_scores_directions() {
        let mut cfg = tiny(Arch::Vgg, HeadKind::Avol);
        cfg.head.normalize = true;
        let vs = nn::VarStore::new(Device::Cpu);
        let net = AvcNet::new(&vs.root(), &cfg).unwrap();
        let frames = Tensor::randn([3, 3, 32, 32], (Kind::Float, Device::Cpu));
        let specs = Tensor::randn([3, 1, 64, 48], (Kind::Float, Device::Cpu));
        let cos = net.localization_map(&frames, &specs, MapScore::Cosine).unwrap();
        let head = net.localization_map(&frames, &specs, MapScore::Head).unwrap();
        // Fresh calibration: scale 10, bias 0, so the head's map is σ(10·cos) everywhere.
        let err = (head - (cos * 10.0).sigmoid()).abs().max().double_value(&[]);
        assert!(err < 1e-5, "head map differs from σ(10·cos) by {err}");
        // The clip logit is the max of that map.
        let logits = net.forward_t(&frames, &specs, false).unwrap();
        assert_eq!(logits.size(), vec![3, 2]);
        // Only the AVOL head has a per-location similarity to normalise.
        cfg.head.kind = HeadKind::L3;
        let err = AvcNet::new(&nn::VarStore::new(Device::Cpu).root(), &cfg).unwrap_err();
        assert!(err.to_string().contains("head.normalize"), "{err}");
    }

    #[test]
    fn avol_all_pairs_equal_the_expanded_rows() {
        for (normalize, pool) in
            [(false, MapPool::Max), (true, MapPool::Max), (false, MapPool::Lse)]
        {
            let mut cfg = tiny(Arch::Vgg, HeadKind::Avol);
            cfg.head.normalize = normalize;
            cfg.head.pool = pool;
            let vs = nn::VarStore::new(Device::Cpu);
            let net = AvcNet::new(&vs.root(), &cfg).unwrap();
            let b = 3;
            let frames = Tensor::randn([b, 3, 32, 32], (Kind::Float, Device::Cpu));
            let specs = Tensor::randn([b, 1, 64, 48], (Kind::Float, Device::Cpu));
            let fast = net.all_pairs_t(&frames, &specs, false).unwrap();
            // Row i·B + j: frame i with audio j, through the one-pair forward.
            let fi = frames.repeat_interleave_self_int(b, Some(0), None);
            let aj = specs.repeat([b, 1, 1, 1]);
            let slow = net.forward_t(&fi, &aj, false).unwrap();
            assert_eq!(fast.size(), vec![b * b, 2]);
            let err = (fast - slow).abs().max().double_value(&[]);
            assert!(err < 1e-4, "{normalize} {pool:?}: all-pairs logits differ by {err}");
        }
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = AvcNet::new(&vs.root(), &tiny(Arch::Vgg, HeadKind::L3)).unwrap();
        let frames = Tensor::zeros([2, 1, 32, 32], (Kind::Float, Device::Cpu));
        let specs = Tensor::zeros([2, 1, 64, 48], (Kind::Float, Device::Cpu));
        assert!(matches!(net.forward_t(&frames, &specs, false), Err(ModelError::Shape { .. })));
    }

    #[test]
    fn sync_term_reads_only_changes_over_time() {
        let cfg = ModelConfig {
            input: InputSpec { frames: 3, frame_size: 32, ..Default::default() },
            vision: TowerConfig { channels: vec![4, 8, 8], ..Default::default() },
            audio: TowerConfig { channels: vec![4, 8, 8], time_steps: 3, ..Default::default() },
            head: HeadConfig { embedding: 16, hidden: 8, sync: 4, ..Default::default() },
            ..Default::default()
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let net = AvcNet::new(&vs.root(), &cfg).unwrap();
        assert_eq!(vs.variables()["heads.avc.sync.vis.weight"].size(), vec![3 * 4, 8]);
        let frames = Tensor::randn([2, 3, 3, 32, 32], (Kind::Float, Device::Cpu));
        let specs = Tensor::randn([2, 1, 64, 48], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&frames, &specs, true).unwrap().size(), vec![2, 2]);
        // Audio features equal at every time step carry no timing: the score is exactly 0;
        // features that change over time give a non-zero score.
        let head = SyncHead::new(&vs.root().sub("t"), 8, 8, 3, 4);
        let v = Tensor::randn([2, 8], (Kind::Float, Device::Cpu));
        let flat =
            Tensor::randn([2, 8, 1], (Kind::Float, Device::Cpu)).repeat([1, 1, 3]).flatten(1, -1);
        let max_abs = |t: Tensor| f64::try_from(t.abs().max()).unwrap();
        assert!(max_abs(head.forward(&v, &flat)) < 1e-6);
        let moving = Tensor::randn([2, 8 * 3], (Kind::Float, Device::Cpu));
        assert!(max_abs(head.forward(&v, &moving)) > 1e-4);
        // The configuration must line one audio step up with each frame.
        let bad = ModelConfig { audio: TowerConfig { time_steps: 4, ..cfg.audio.clone() }, ..cfg };
        assert!(bad.validate().unwrap_err().contains("time_steps"));
    }
    #[test]
    fn all_pairs_score_every_frame_with_every_audio_like_forward() {
        // Every head, and the synchrony term: row i·B + j of all_pairs_t is forward_t of
        // (frame i, audio j), so the in-batch objective trains exactly what evaluation scores.
        let mut cfgs: Vec<ModelConfig> =
            [HeadKind::L3, HeadKind::Ave, HeadKind::Avol, HeadKind::Cosine]
                .into_iter()
                .map(|h| tiny(Arch::Vgg, h))
                .collect();
        cfgs.push(ModelConfig {
            input: InputSpec { frames: 3, frame_size: 32, ..Default::default() },
            vision: TowerConfig { channels: vec![4, 8, 8], ..Default::default() },
            audio: TowerConfig { channels: vec![4, 8, 8], time_steps: 3, ..Default::default() },
            head: HeadConfig { embedding: 16, hidden: 8, sync: 4, ..Default::default() },
            ..Default::default()
        });
        for cfg in cfgs {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = AvcNet::new(&vs.root(), &cfg).unwrap();
            let k = i64::from(cfg.input.frames);
            let b = 3;
            let frames = Tensor::randn([b, 3 * k, 32, 32], (Kind::Float, Device::Cpu));
            let specs = Tensor::randn([b, 1, 64, 48], (Kind::Float, Device::Cpu));
            let all = net.all_pairs_t(&frames, &specs, false).unwrap();
            assert_eq!(all.size(), vec![b * b, 2], "{:?}", cfg.head.kind);
            for i in 0..b {
                for j in 0..b {
                    let one = net
                        .forward_t(&frames.narrow(0, i, 1), &specs.narrow(0, j, 1), false)
                        .unwrap();
                    let d = f64::try_from((all.narrow(0, i * b + j, 1) - one).abs().max()).unwrap();
                    assert!(
                        d < 1e-4,
                        "{:?} sync {}: pair ({i}, {j}) differs by {d}",
                        cfg.head.kind,
                        cfg.head.sync
                    );
                }
            }
        }
        // Frames and spectrograms of different batch sizes cannot be paired.
        let vs = nn::VarStore::new(Device::Cpu);
        let net = AvcNet::new(&vs.root(), &tiny(Arch::Vgg, HeadKind::L3)).unwrap();
        let frames = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
        let specs = Tensor::randn([3, 1, 64, 48], (Kind::Float, Device::Cpu));
        assert!(matches!(net.all_pairs_t(&frames, &specs, false), Err(ModelError::Shape { .. })));
    }
}
