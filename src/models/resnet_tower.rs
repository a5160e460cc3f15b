//! ResNet-18-style tower: a 3×3 stride-2 stem (small inputs keep their detail; no stem pool),
//! then 4 stages of 2 basic residual blocks with strides 1, 2, 2, 2 and the configured widths.
//! The stem and each stage are the [`Backbone::stages`]; the last one is the feature map; [`super::Tower`] pools it (global average by
//! default) and projects it to the embedding. VarStore paths follow torchvision: `conv1`, `bn1`,
//! `layer{1..4}.{0,1}.*`, `downsample.{0,1}` (the tower adds `proj`).

use super::Backbone;
use tch::{nn, Tensor};

#[derive(Debug)]
struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    down: Option<(nn::Conv2D, nn::BatchNorm)>,
}

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig { stride, padding: k / 2, bias: false, ..Default::default() };
    nn::conv2d(p, c_in, c_out, k, cfg)
}

impl BasicBlock {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, stride: i64) -> Self {
        let down = (stride != 1 || c_in != c_out).then(|| {
            let d = p.sub("downsample");
            (
                conv(d.sub("0"), c_in, c_out, 1, stride),
                nn::batch_norm2d(d.sub("1"), c_out, Default::default()),
            )
        });
        BasicBlock {
            conv1: conv(p.sub("conv1"), c_in, c_out, 3, stride),
            bn1: nn::batch_norm2d(p.sub("bn1"), c_out, Default::default()),
            conv2: conv(p.sub("conv2"), c_out, c_out, 3, 1),
            bn2: nn::batch_norm2d(p.sub("bn2"), c_out, Default::default()),
            down,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        let y = y.apply(&self.conv2).apply_t(&self.bn2, train);
        let skip = match &self.down {
            Some((c, bn)) => xs.apply(c).apply_t(bn, train),
            None => xs.shallow_clone(),
        };
        (y + skip).relu()
    }

    fn out_channels(&self) -> i64 {
        self.conv2.ws.size()[0]
    }
}

/// The ResNet-18 trunk.
#[derive(Debug)]
pub struct ResNetTower {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    layers: Vec<BasicBlock>,
}

impl ResNetTower {
    /// Builds the tower under `p`; `widths` are the 4 stage widths (64..512 in the original).
    pub fn new(p: &nn::Path, in_channels: i64, widths: &[i64]) -> Self {
        let stem = widths.first().copied().unwrap_or(64);
        let conv1 = conv(p.sub("conv1"), in_channels, stem, 3, 2);
        let bn1 = nn::batch_norm2d(p.sub("bn1"), stem, Default::default());
        let mut layers = Vec::new();
        let mut c_in = stem;
        for (i, &w) in widths.iter().enumerate() {
            let lp = p.sub(format!("layer{}", i + 1));
            let stride = if i == 0 { 1 } else { 2 };
            layers.push(BasicBlock::new(&lp.sub("0"), c_in, w, stride));
            layers.push(BasicBlock::new(&lp.sub("1"), w, w, 1));
            c_in = w;
        }
        ResNetTower { conv1, bn1, layers }
    }
}

impl Backbone for ResNetTower {
    /// The stem's output, then each of the four stages' (two basic blocks each).
    fn stages(&self, xs: &Tensor, train: bool) -> Vec<Tensor> {
        let mut x = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        let mut out = vec![x.shallow_clone()];
        for pair in self.layers.chunks(2) {
            for block in pair {
                x = block.forward_t(&x, train);
            }
            out.push(x.shallow_clone());
        }
        out
    }

    fn stage_channels(&self) -> Vec<i64> {
        let mut c = vec![self.conv1.ws.size()[0]];
        c.extend(self.layers.chunks(2).map(|p| p.last().map_or(0, |b| b.out_channels())));
        c
    }
}
