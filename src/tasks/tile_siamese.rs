//! The Siamese classifier over tiles that the jigsaw and relative-position tasks share (Noroozi &
//! Favaro's context-free network, Doersch et al.'s pair network): the K tiles of an example are
//! folded into the batch and go through the shared vision trunk one by one; each tile's last
//! feature map is reduced to [`TileSiamese::REDUCED`] channels by a 1×1 convolution and pooled
//! to a [`TileSiamese::GRID`]² grid (where a tile's edges and objects are is what puts it next
//! to another), a per-tile linear layer (shared by all positions, the papers' fc6) gives each
//! tile a `head.hidden`-wide feature, and the K features, concatenated in input order, go through
//! an MLP to the classes. Cross-entropy on the `label` field.
//!
//! VarStore paths: `trunk.vision.*` (so the learned trunk transfers; the tower's projection is
//! used only by `embed`), `heads.<task>.{reduce,tile,fc1,fc2}`.

use tch::{nn, nn::ModuleT, Device, Tensor};

use crate::models::{ModelConfig, ModelError, Trunk, TrunkNeeds};
use crate::training::{
    argmax_hits, classifier_scores, cross_entropy, Embeddings, Scored, StepOutput, TaskModel,
    TensorBatch, TrainingError,
};

/// What `embed` returns for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileEmbedding {
    /// The mean of every tile's trunk embedding (the puzzle's order does not matter).
    MeanOfTiles,
    /// The first tile's trunk embedding (the reference patch).
    First,
}

/// A Siamese classifier of K tiles.
#[derive(Debug)]
pub struct TileSiamese {
    trunk: Trunk,
    reduce: nn::Conv2D,
    tile: nn::Linear,
    fc1: nn::Linear,
    fc2: nn::Linear,
    tiles: i64,
    embedding: TileEmbedding,
}

impl TileSiamese {
    /// Channels a tile's feature map is reduced to.
    pub const REDUCED: i64 = 32;
    /// Side of the grid a tile's reduced map is pooled to.
    pub const GRID: i64 = 3;

    /// Builds the model under `p` (the VarStore root) with its head under `heads.<task>`.
    pub fn new(
        p: &nn::Path,
        cfg: &ModelConfig,
        task: &str,
        tiles: i64,
        classes: i64,
        embedding: TileEmbedding,
    ) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let trunk = Trunk::new(p, cfg, TrunkNeeds { vision_channels: Some(3), audio: false });
        let c = trunk.vision()?.out_channels();
        let hp = p.sub("heads").sub(task);
        let h = cfg.head.hidden;
        let reduce = nn::conv2d(hp.sub("reduce"), c, Self::REDUCED, 1, Default::default());
        let flat = Self::REDUCED * Self::GRID * Self::GRID;
        let tile = nn::linear(hp.sub("tile"), flat, h, Default::default());
        let fc1 = nn::linear(hp.sub("fc1"), tiles * h, h, Default::default());
        let fc2 = nn::linear(hp.sub("fc2"), h, classes, Default::default());
        Ok(TileSiamese { trunk, reduce, tile, fc1, fc2, tiles, embedding })
    }

    /// `[B, K, 3, T, T]` tiles → `(B, [B·K, 3, T, T])`.
    fn fold(&self, frames: &Tensor) -> Result<(i64, Tensor), ModelError> {
        let s = frames.size();
        match s.as_slice() {
            [b, k, 3, h, w] if *k == self.tiles => {
                Ok((*b, frames.f_reshape([b * k, 3, *h, *w]).map_err(ModelError::from)?))
            }
            _ => Err(ModelError::Shape {
                what: "tiles",
                expected: format!("[B, {}, 3, T, T]", self.tiles),
                got: s,
            }),
        }
    }

    /// `[B, K, 3, T, T]` tiles → `[B, classes]` logits.
    pub fn forward_t(&self, frames: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let (b, tiles) = self.fold(frames)?;
        let map = self.trunk.vision()?.feature_map(&tiles, train);
        let x = map.apply(&self.reduce).relu().adaptive_avg_pool2d([Self::GRID, Self::GRID]);
        let per_tile = x.flatten(1, -1).apply(&self.tile).relu();
        let joined = per_tile.reshape([b, -1]);
        Ok(joined.apply(&self.fc1).relu().apply(&self.fc2))
    }

    /// `[B, E]` embeddings in eval mode (see [`TileEmbedding`]).
    pub fn embed_tiles(&self, frames: &Tensor) -> Result<Tensor, ModelError> {
        let (b, tiles) = self.fold(frames)?;
        let vision = self.trunk.vision()?;
        Ok(match self.embedding {
            TileEmbedding::MeanOfTiles => vision
                .forward_t(&tiles, false)
                .reshape([b, self.tiles, -1])
                .mean_dim([1i64].as_slice(), false, None),
            TileEmbedding::First => vision.forward_t(&frames.select(1, 0), false),
        })
    }
}

impl TaskModel for TileSiamese {
    fn train_step(&self, b: &TensorBatch) -> Result<StepOutput, TrainingError> {
        let logits = self.forward_t(b.get("frames")?, true)?;
        let labels = b.get("label")?;
        Ok(StepOutput {
            loss: cross_entropy(&logits, labels)?,
            hits: argmax_hits(&logits.f_detach()?, labels)?,
        })
    }

    fn evaluate(&self, b: &TensorBatch) -> Result<Scored, TrainingError> {
        let logits = self.forward_t(b.get("frames")?, false)?;
        classifier_scores(&logits, b.get("label")?, &b.meta)
    }

    fn logits(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        Ok(self.forward_t(b.get("frames")?, false)?)
    }

    fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    fn embed(&self, b: &TensorBatch) -> Result<Embeddings, TrainingError> {
        let v = self.embed_tiles(b.get("frames")?)?;
        Ok(Embeddings { vision: v.f_to(Device::Cpu)?, audio: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{HeadConfig, TowerConfig};
    use tch::Kind;

    #[test]
    fn shapes_paths_and_embeddings() {
        let tower = TowerConfig { channels: vec![4, 8, 8], ..Default::default() };
        let cfg = ModelConfig {
            vision: tower.clone(),
            audio: tower,
            head: HeadConfig { embedding: 16, hidden: 8, ..Default::default() },
            ..Default::default()
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let net = TileSiamese::new(&vs.root(), &cfg, "jigsaw", 9, 100, TileEmbedding::MeanOfTiles)
            .unwrap();
        let tiles = Tensor::randn([2, 9, 3, 12, 12], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&tiles, true).unwrap().size(), vec![2, 100]);
        assert_eq!(net.embed_tiles(&tiles).unwrap().size(), vec![2, 16]);
        let names = vs.variables();
        assert!(names.contains_key("trunk.vision.block0.conv0.weight"));
        assert!(names.contains_key("heads.jigsaw.tile.weight"));
        assert!(names.contains_key("heads.jigsaw.fc2.bias"));
        let bad = Tensor::randn([2, 8, 3, 12, 12], (Kind::Float, Device::Cpu));
        let e = net.forward_t(&bad, false).unwrap_err().to_string();
        assert!(e.contains("[B, 9, 3, T, T]"), "{e}");
        let vs = nn::VarStore::new(Device::Cpu);
        let pair =
            TileSiamese::new(&vs.root(), &cfg, "relative-position", 2, 8, TileEmbedding::First)
                .unwrap();
        let patches = Tensor::randn([3, 2, 3, 12, 12], (Kind::Float, Device::Cpu));
        assert_eq!(pair.forward_t(&patches, false).unwrap().size(), vec![3, 8]);
        assert_eq!(pair.embed_tiles(&patches).unwrap().size(), vec![3, 16]);
    }
}
