//! tch networks: vision and audio towers ending in 128-D embeddings, and the heads that fuse
//! them (L3 concatenation, AVE-Net distance, AVOL-Net per-location similarity), plus the
//! Shuffle & Learn triplet Siamese.
//!
//! Every network is a struct built by `new(&nn::Path, ..)` with fixed `vs.sub` names, so
//! checkpoints stay loadable (renaming a path breaks them) and the same names work in PyTorch
//! (see `docs/python_reference.md`). Sizes come from [`ModelConfig`] presets in `models/*.toml`.

mod avc_net;
mod ave_head;
mod avol_head;
mod config;
mod error;
mod frame_order_net;
mod l3_head;
mod resnet_tower;
mod sync_head;
mod tower;
mod vgg_tower;

pub use avc_net::{AvcNet, MapScore};
pub use ave_head::{l2_normalize, AveHead};
pub use avol_head::AvolHead;
pub use config::{
    preset_text, Arch, HeadConfig, HeadKind, InputConfig, MapPool, ModelConfig, TowerConfig,
    PRESETS,
};
pub use error::ModelError;
pub use frame_order_net::FrameOrderNet;
pub use l3_head::L3Head;
pub use resnet_tower::ResNetTower;
pub use sync_head::SyncHead;
pub use tower::Tower;
pub use vgg_tower::VggTower;

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, nn::ModuleT, Device, Kind, Tensor};

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
    fn frame_order_net_shapes_and_shared_paths() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = FrameOrderNet::new(&vs.root(), &tiny(Arch::Vgg, HeadKind::L3)).unwrap();
        let frames = Tensor::randn([4, 3, 3, 32, 32], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&frames, true).unwrap().size(), vec![4, 2]);
        let names = vs.variables();
        assert!(names.contains_key("vision.block0.conv0.weight"));
        assert!(names.contains_key("order_head.fc2.bias"));
        // The AVC model's vision tower has the same names, so weights transfer.
        let vs2 = nn::VarStore::new(Device::Cpu);
        let _ = AvcNet::new(&vs2.root(), &tiny(Arch::Vgg, HeadKind::L3)).unwrap();
        for name in names.keys().filter(|n| n.starts_with("vision.")) {
            assert!(vs2.variables().contains_key(name), "{name}");
        }
    }

    #[test]
    fn time_pooled_audio_tower_keeps_when() {
        for arch in [Arch::Vgg, Arch::Resnet18] {
            let cfg = TowerConfig {
                arch,
                channels: vec![4, 8, 8, 8],
                time_steps: 4,
                ..Default::default()
            };
            let vs = nn::VarStore::new(Device::Cpu);
            let tower = Tower::new(&vs.root(), &cfg, 1, 16);
            assert_eq!(vs.variables()["proj.weight"].size(), vec![16, 8 * 4]);
            // One click early in the window, the same click late: the time-kept pooled features
            // (and so the embeddings) must differ.
            let mut spec = vec![0f32; 2 * 32 * 64];
            for f in 8..24 {
                spec[f * 64 + 8] = 1.0;
                spec[32 * 64 + f * 64 + 56] = 1.0;
            }
            let x = Tensor::from_slice(&spec).reshape([2, 1, 32, 64]);
            let pooled = tower.pool(&tower.feature_map(&x, false));
            assert_eq!(pooled.size(), vec![2, 8 * 4], "{arch:?}");
            let diff = |t: &Tensor| f64::try_from((t.get(0) - t.get(1)).abs().max()).unwrap();
            assert!(diff(&pooled) > 1e-3, "{arch:?}: pooled features of shifted clicks are equal");
            let e = tower.forward_t(&x, false);
            assert_eq!(e.size(), vec![2, 16]);
            assert!(diff(&e) > 1e-3, "{arch:?}: time-kept embeddings of shifted clicks are equal");
        }
        let bad = ModelConfig {
            vision: TowerConfig { time_steps: 2, ..Default::default() },
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("vision.time_steps"));
    }

    #[test]
    fn sync_term_reads_only_changes_over_time() {
        let cfg = ModelConfig {
            input: InputConfig { frames: 3, frame_size: 32, ..Default::default() },
            vision: TowerConfig { channels: vec![4, 8, 8], ..Default::default() },
            audio: TowerConfig { channels: vec![4, 8, 8], time_steps: 3, ..Default::default() },
            head: HeadConfig { embedding: 16, hidden: 8, sync: 4, ..Default::default() },
            ..Default::default()
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let net = AvcNet::new(&vs.root(), &cfg).unwrap();
        assert_eq!(vs.variables()["head.sync.vis.weight"].size(), vec![3 * 4, 8]);
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
            input: InputConfig { frames: 3, frame_size: 32, ..Default::default() },
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
