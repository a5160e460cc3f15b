//! The backbone trait: a convolutional trunk whose forward returns every stage's feature map,
//! not only the last, so the evaluation suite can probe each depth and heads can read whichever
//! stage they need. [`super::VggTower`] (each block) and [`super::ResNetTower`] (the stem and
//! each of the four stages) implement it.

use tch::Tensor;

/// A convolutional trunk.
pub trait Backbone: std::fmt::Debug + Send {
    /// Every stage's output `[B, C_i, h_i, w_i]`, shallowest first; the last is the feature map.
    fn stages(&self, xs: &Tensor, train: bool) -> Vec<Tensor>;

    /// Channels of each stage's output.
    fn stage_channels(&self) -> Vec<i64>;

    /// The last stage's output.
    fn feature_map(&self, xs: &Tensor, train: bool) -> Tensor {
        self.stages(xs, train).pop().unwrap_or_else(|| xs.shallow_clone())
    }

    /// Channels of the feature map.
    fn out_channels(&self) -> i64 {
        self.stage_channels().last().copied().unwrap_or(0)
    }
}
