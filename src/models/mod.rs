//! Model configuration and the building blocks every task's model is made of.
//!
//! - [`ModelConfig`] (always built): the towers' sizes, the head settings, and the one
//!   [`crate::pipeline::InputSpec`]; presets live in `models/*.toml` and are compiled in.
//! - With the `torch` feature: the [`Backbone`] trait (a trunk returning every stage), the two
//!   backbones ([`VggTower`], [`ResNetTower`]), the [`Tower`] (backbone + pooling + projection to
//!   the embedding), the shared [`Trunk`] (`trunk.vision.*`, `trunk.audio.*`), and head blocks
//!   tasks combine ([`L3Head`], [`AveHead`], [`AvolHead`], [`SyncHead`]). Task models themselves
//!   live with their tasks (`crate::tasks::*`), under `heads.<task>.*`.
//!
//! Every network is a struct built by `new(&nn::Path, ..)` with fixed `vs.sub` names, so
//! checkpoints stay loadable (renaming a path breaks them; [`rename_v1`] maps the names of the
//! first checkpoint format) and the same names work in PyTorch (`docs/python_reference.py`).

#[cfg(feature = "torch")]
mod ave_head;
#[cfg(feature = "torch")]
mod avol_head;
#[cfg(feature = "torch")]
mod backbone;
mod config;
mod error;
#[cfg(feature = "torch")]
mod l3_head;
#[cfg(feature = "torch")]
mod resnet_tower;
#[cfg(feature = "torch")]
mod sync_head;
#[cfg(feature = "torch")]
mod tower;
#[cfg(feature = "torch")]
mod trunk;
#[cfg(feature = "torch")]
mod vgg_tower;

#[cfg(feature = "torch")]
pub use ave_head::{l2_normalize, AveHead};
#[cfg(feature = "torch")]
pub use avol_head::AvolHead;
#[cfg(feature = "torch")]
pub use backbone::Backbone;
pub use config::{
    preset_text, Arch, HeadConfig, HeadKind, MapPool, ModelConfig, TowerConfig,
    DEFAULT_TEMPERATURE, PRESETS,
};
pub use error::ModelError;
#[cfg(feature = "torch")]
pub use l3_head::L3Head;
#[cfg(feature = "torch")]
pub use resnet_tower::ResNetTower;
#[cfg(feature = "torch")]
pub use sync_head::SyncHead;
#[cfg(feature = "torch")]
pub use tower::Tower;
#[cfg(feature = "torch")]
pub use trunk::{rename_v1, Trunk, TrunkNeeds};
#[cfg(feature = "torch")]
pub use vgg_tower::VggTower;

#[cfg(all(test, feature = "torch"))]
mod tests {
    use super::*;
    use tch::{nn, nn::ModuleT, Device, Kind, Tensor};

    #[test]
    fn backbones_return_every_stage_and_the_last_is_the_feature_map() {
        for (arch, widths, n) in
            [(Arch::Vgg, vec![4, 8, 8], 3), (Arch::Resnet18, vec![4, 8, 8, 8], 5)]
        {
            let cfg = TowerConfig { arch, channels: widths, ..Default::default() };
            let vs = nn::VarStore::new(Device::Cpu);
            let tower = Tower::new(&vs.root(), &cfg, 3, 16);
            let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
            let stages = tower.backbone().stages(&x, false);
            assert_eq!(stages.len(), n, "{arch:?}");
            let channels = tower.backbone().stage_channels();
            for (s, c) in stages.iter().zip(&channels) {
                assert_eq!(s.size()[1], *c, "{arch:?}");
            }
            let last = stages.last().unwrap();
            assert!(last.allclose(&tower.feature_map(&x, false), 0.0, 0.0, false));
            // Each stage is no larger than the one before.
            assert!(stages.windows(2).all(|w| w[1].size()[2] <= w[0].size()[2]));
            assert_eq!(tower.forward_t(&x, false).size(), vec![2, 16]);
        }
    }

    #[test]
    fn time_pooled_audio_tower_keeps_when() {
        for arch in [Arch::Vgg, Arch::Resnet18] {
            let cfg = TowerConfig {
                arch,
                // Wide enough that no random initialisation leaves every unit dead (the global
                // libtorch RNG is shared with the tests running beside this one).
                channels: vec![16, 16, 16, 16],
                time_steps: 4,
                ..Default::default()
            };
            let vs = nn::VarStore::new(Device::Cpu);
            let tower = Tower::new(&vs.root(), &cfg, 1, 16);
            assert_eq!(vs.variables()["proj.weight"].size(), vec![16, 16 * 4]);
            // One click early in the window, the same click late: the time-kept pooled features
            // (and so the embeddings) must differ.
            let mut spec = vec![0f32; 2 * 32 * 64];
            for f in 8..24 {
                spec[f * 64 + 8] = 1.0;
                spec[32 * 64 + f * 64 + 56] = 1.0;
            }
            let x = Tensor::from_slice(&spec).reshape([2, 1, 32, 64]);
            let pooled = tower.pool(&tower.feature_map(&x, false));
            assert_eq!(pooled.size(), vec![2, 16 * 4], "{arch:?}");
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
}
