//! L3-style VGG tower: blocks of (3×3 conv without bias + batch norm + ReLU) × `convs_per_block`,
//! each block but the last followed by 2×2 max-pooling. Each block's output is a stage
//! ([`Backbone::stages`]); the last one is the feature map (kept by the AVOL head and for localisation); [`super::Tower`] pools it (global max by
//! default) and projects it to the embedding. VarStore paths: `block{i}.conv{j}`,
//! `block{i}.bn{j}` (the tower adds `proj`).

use tch::{nn, Tensor};

use super::Backbone;

/// The VGG-style trunk.
#[derive(Debug)]
pub struct VggTower {
    blocks: Vec<Vec<(nn::Conv2D, nn::BatchNorm)>>,
}

impl VggTower {
    /// Builds the tower under `p` for `in_channels` inputs.
    pub fn new(p: &nn::Path, in_channels: i64, channels: &[i64], convs: usize) -> Self {
        let conv_cfg = nn::ConvConfig { padding: 1, bias: false, ..Default::default() };
        let mut blocks = Vec::with_capacity(channels.len());
        let mut c_in = in_channels;
        for (i, &c) in channels.iter().enumerate() {
            let bp = p.sub(format!("block{i}"));
            let mut layers = Vec::with_capacity(convs);
            for j in 0..convs {
                let conv = nn::conv2d(bp.sub(format!("conv{j}")), c_in, c, 3, conv_cfg);
                let bn = nn::batch_norm2d(bp.sub(format!("bn{j}")), c, Default::default());
                layers.push((conv, bn));
                c_in = c;
            }
            blocks.push(layers);
        }
        VggTower { blocks }
    }
}

impl Backbone for VggTower {
    fn stages(&self, xs: &Tensor, train: bool) -> Vec<Tensor> {
        let mut out = Vec::with_capacity(self.blocks.len());
        let mut x = xs.shallow_clone();
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 {
                x = x.max_pool2d_default(2);
            }
            for (conv, bn) in block {
                x = x.apply(conv).apply_t(bn, train).relu();
            }
            out.push(x.shallow_clone());
        }
        out
    }

    fn stage_channels(&self) -> Vec<i64> {
        self.blocks.iter().map(|b| b.last().map_or(0, |(c, _)| c.ws.size()[0])).collect()
    }
}
