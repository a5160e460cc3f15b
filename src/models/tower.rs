//! A tower of either architecture behind one type, so heads and tasks do not care which.
//!
//! Besides the embedding ([`ModuleT::forward_t`]), a tower exposes its feature map and a
//! per-location embedding map (the embedding projection applied at every location as a 1×1
//! convolution), which is what localisation heat maps are made of.

use tch::{nn, nn::ModuleT, Tensor};

use super::{Arch, ResNetTower, TowerConfig, VggTower};

/// A vision or audio tower.
#[derive(Debug)]
pub enum Tower {
    /// VGG-style blocks.
    Vgg(Box<VggTower>),
    /// ResNet-18 layout.
    ResNet(Box<ResNetTower>),
}

impl Tower {
    /// Builds a tower under `p` for `in_channels` inputs and `emb`-dimensional embeddings.
    pub fn new(p: &nn::Path, cfg: &TowerConfig, in_channels: i64, emb: i64) -> Self {
        match cfg.arch {
            Arch::Vgg => Tower::Vgg(Box::new(VggTower::new(
                p,
                in_channels,
                &cfg.channels,
                cfg.convs_per_block,
                emb,
            ))),
            Arch::Resnet18 => {
                Tower::ResNet(Box::new(ResNetTower::new(p, in_channels, &cfg.channels, emb)))
            }
        }
    }

    /// Channels of the feature map.
    pub fn out_channels(&self) -> i64 {
        match self {
            Tower::Vgg(t) => t.out_channels(),
            Tower::ResNet(t) => t.out_channels(),
        }
    }

    /// The trunk's output `[B, C, h, w]` before global pooling.
    pub fn feature_map(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Tower::Vgg(t) => t.feature_map(xs, train),
            Tower::ResNet(t) => t.feature_map(xs, train),
        }
    }

    /// The embedding projection applied at each location: `[B, C, h, w]` → `[B, E, h, w]`.
    pub fn embedding_map(&self, map: &Tensor) -> Tensor {
        let proj = match self {
            Tower::Vgg(t) => t.proj(),
            Tower::ResNet(t) => t.proj(),
        };
        let y = map.permute([0, 2, 3, 1]).apply(proj);
        y.permute([0, 3, 1, 2])
    }
}

impl ModuleT for Tower {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Tower::Vgg(t) => t.forward_t(xs, train),
            Tower::ResNet(t) => t.forward_t(xs, train),
        }
    }
}
