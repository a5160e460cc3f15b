//! A tower: a convolutional trunk of either architecture, a pooling of its feature map, and the
//! linear projection to the embedding, behind one type so heads and tasks do not care which.
//!
//! Pooling is global by default (max for VGG, as L3-Net; mean for ResNet-18), which makes the
//! embedding blind to *where* in the map something happened. For the audio tower that means blind
//! to *when* in the window the onsets are, and a shifted window of the same sound is then
//! indistinguishable: [`TowerConfig::time_steps`] `= N` keeps time instead (max over the frequency
//! axis, adaptive max over time down to N steps, the `C × N` values flattened into the
//! projection), the evidence hard (temporally shifted) negatives need.
//!
//! Besides the embedding ([`ModuleT::forward_t`]), a tower exposes its feature map and a
//! per-location embedding map (the projection applied at every location as a 1×1 convolution;
//! global pooling only), which is what localisation heat maps are made of.

use tch::{nn, nn::ModuleT, Kind, Tensor};

use super::{Arch, Backbone, ResNetTower, TowerConfig, VggTower};

/// A vision or audio tower. VarStore paths: the backbone's, plus `proj`.
#[derive(Debug)]
pub struct Tower {
    backbone: Box<dyn Backbone>,
    arch: Arch,
    proj: nn::Linear,
    time_steps: i64,
    in_channels: i64,
}

impl Tower {
    /// Builds a tower under `p` for `in_channels` inputs and `emb`-dimensional embeddings.
    pub fn new(p: &nn::Path, cfg: &TowerConfig, in_channels: i64, emb: i64) -> Self {
        let backbone: Box<dyn Backbone> = match cfg.arch {
            Arch::Vgg => {
                Box::new(VggTower::new(p, in_channels, &cfg.channels, cfg.convs_per_block))
            }
            Arch::Resnet18 => Box::new(ResNetTower::new(p, in_channels, &cfg.channels)),
        };
        let c = backbone.out_channels();
        let time_steps = i64::from(cfg.time_steps);
        let proj = nn::linear(p.sub("proj"), c * time_steps.max(1), emb, Default::default());
        Tower { backbone, arch: cfg.arch, proj, time_steps, in_channels }
    }

    /// Channels of the input (3, or 3·K for K stacked frames; 1 for a spectrogram).
    pub fn in_channels(&self) -> i64 {
        self.in_channels
    }

    /// Channels of the feature map.
    pub fn out_channels(&self) -> i64 {
        self.backbone.out_channels()
    }

    /// The backbone (every stage's output).
    pub fn backbone(&self) -> &dyn Backbone {
        self.backbone.as_ref()
    }

    /// The backbone's last stage `[B, C, h, w]` before pooling.
    pub fn feature_map(&self, xs: &Tensor, train: bool) -> Tensor {
        self.backbone.feature_map(xs, train)
    }

    /// The pooled features the projection reads: `[B, C]` (global) or `[B, C·N]` (time kept,
    /// channel-major: all N steps of channel 0, then channel 1, ...).
    pub fn pool(&self, map: &Tensor) -> Tensor {
        if self.time_steps > 0 {
            let (y, _) = map.amax([2], true).adaptive_max_pool2d([1, self.time_steps]);
            return y.flatten(1, -1);
        }
        match self.arch {
            Arch::Vgg => map.amax([2, 3], false),
            Arch::Resnet18 => map.mean_dim([2i64, 3].as_slice(), false, Kind::Float),
        }
    }

    /// The embedding of pooled features (what [`ModuleT::forward_t`] ends with).
    pub fn project(&self, pooled: &Tensor) -> Tensor {
        pooled.apply(&self.proj)
    }

    /// The embedding projection applied at each location: `[B, C, h, w]` → `[B, E, h, w]`.
    /// Only for globally pooled towers (the vision tower; config validation keeps it so).
    pub fn embedding_map(&self, map: &Tensor) -> Tensor {
        debug_assert_eq!(self.time_steps, 0, "a time-pooled tower has no per-location embedding");
        let y = map.permute([0, 2, 3, 1]).apply(&self.proj);
        y.permute([0, 3, 1, 2])
    }
}

impl ModuleT for Tower {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.project(&self.pool(&self.feature_map(xs, train)))
    }
}
