//! L3-style VGG tower: blocks of (3×3 conv without bias + batch norm + ReLU) × `convs_per_block`,
//! each block but the last followed by 2×2 max-pooling. The last block's output is the feature
//! map (kept by the AVOL head and for localisation); [`super::Tower`] pools it (global max by
//! default) and projects it to the embedding. VarStore paths: `block{i}.conv{j}`,
//! `block{i}.bn{j}` (the tower adds `proj`).

use tch::{nn, Tensor};

/// The VGG-style trunk.
#[derive(Debug)]
pub struct VggTower {
    blocks: Vec<Vec<(nn::Conv2D, nn::BatchNorm)>>,
    out_channels: i64,
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
        VggTower { blocks, out_channels: c_in }
    }

    /// Channels of the feature map.
    pub fn out_channels(&self) -> i64 {
        self.out_channels
    }

    /// The last block's output `[B, C, h, w]` (before global pooling).
    pub fn feature_map(&self, xs: &Tensor, train: bool) -> Tensor {
        let last = self.blocks.len().saturating_sub(1);
        let mut x = xs.shallow_clone();
        for (i, block) in self.blocks.iter().enumerate() {
            for (conv, bn) in block {
                x = x.apply(conv).apply_t(bn, train).relu();
            }
            if i < last {
                x = x.max_pool2d_default(2);
            }
        }
        x
    }
}
