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
mod tower;
mod vgg_tower;

pub use avc_net::AvcNet;
pub use ave_head::{l2_normalize, AveHead};
pub use avol_head::AvolHead;
pub use config::{
    preset_text, Arch, HeadConfig, HeadKind, InputConfig, ModelConfig, TowerConfig, PRESETS,
};
pub use error::ModelError;
pub use frame_order_net::FrameOrderNet;
pub use l3_head::L3Head;
pub use resnet_tower::ResNetTower;
pub use tower::Tower;
pub use vgg_tower::VggTower;

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device, Kind, Tensor};

    fn tiny(arch: Arch, head: HeadKind) -> ModelConfig {
        let tower = TowerConfig { arch, channels: vec![4, 8, 8, 8], convs_per_block: 1 };
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
                let map = net.localization_map(&frames, &specs).unwrap();
                let s = map.size();
                assert_eq!(s.len(), 3);
                assert_eq!(s[0], 2);
                assert!(s[1] >= 2 && s[2] >= 2, "{arch:?} {head:?}: map {s:?}");
            }
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
}
