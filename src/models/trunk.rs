//! The shared trunk: the vision tower under `trunk.vision` and the audio tower under
//! `trunk.audio`, each ending in the 128-D (configurable) embedding. Every task builds the trunk
//! it needs (vision-only tasks skip the audio tower) and puts its heads under `heads.<task>`, so
//! a trunk trained by one task loads into another and the evaluation suite can read any stage.

use tch::nn;

use super::{ModelConfig, ModelError, Tower};

/// Which towers a task needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunkNeeds {
    /// Input channels of the vision tower (3, or 3·K for K stacked frames), or no vision tower.
    pub vision_channels: Option<i64>,
    /// Whether the audio tower is built.
    pub audio: bool,
}

/// The shared trunk.
#[derive(Debug)]
pub struct Trunk {
    vision: Option<Tower>,
    audio: Option<Tower>,
}

impl Trunk {
    /// Builds the towers `needs` asks for under `root/trunk`.
    pub fn new(root: &nn::Path, cfg: &ModelConfig, needs: TrunkNeeds) -> Self {
        let p = root.sub("trunk");
        let emb = cfg.head.embedding;
        Trunk {
            vision: needs
                .vision_channels
                .map(|c| Tower::new(&p.sub("vision"), &cfg.vision, c, emb)),
            audio: needs.audio.then(|| Tower::new(&p.sub("audio"), &cfg.audio, 1, emb)),
        }
    }

    /// The vision tower.
    pub fn vision(&self) -> Result<&Tower, ModelError> {
        self.vision.as_ref().ok_or(ModelError::NoTower("vision"))
    }

    /// The audio tower.
    pub fn audio(&self) -> Result<&Tower, ModelError> {
        self.audio.as_ref().ok_or(ModelError::NoTower("audio"))
    }

    /// Whether it has an audio tower.
    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }
}

/// Renames a variable of a checkpoint written before the trunk/heads layout (format 1) to its
/// name now: `vision.*` → `trunk.vision.*`, `audio.*` → `trunk.audio.*`, `head.*` →
/// `heads.avc.*`, `order_head.*` → `heads.frame-order.*`, keeping the optimizer and
/// weight-average prefixes (`optim.exp_avg.`, `optim.exp_avg_sq.`, `ema.live.`) in front.
pub fn rename_v1(name: &str) -> String {
    const KEEP: [&str; 3] = ["optim.exp_avg_sq.", "optim.exp_avg.", "ema.live."];
    let (prefix, rest) =
        KEEP.iter().find_map(|k| name.strip_prefix(k).map(|r| (*k, r))).unwrap_or(("", name));
    const MAP: [(&str, &str); 4] = [
        ("vision.", "trunk.vision."),
        ("audio.", "trunk.audio."),
        ("head.", "heads.avc."),
        ("order_head.", "heads.frame-order."),
    ];
    for (old, new) in MAP {
        if let Some(r) = rest.strip_prefix(old) {
            return format!("{prefix}{new}{r}");
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_move_under_trunk_and_heads() {
        assert_eq!(rename_v1("vision.block0.conv0.weight"), "trunk.vision.block0.conv0.weight");
        assert_eq!(rename_v1("audio.proj.bias"), "trunk.audio.proj.bias");
        assert_eq!(rename_v1("head.fc1.weight"), "heads.avc.fc1.weight");
        assert_eq!(rename_v1("head.sync.vis.weight"), "heads.avc.sync.vis.weight");
        assert_eq!(rename_v1("order_head.fc2.bias"), "heads.frame-order.fc2.bias");
        assert_eq!(
            rename_v1("optim.exp_avg.vision.proj.weight"),
            "optim.exp_avg.trunk.vision.proj.weight"
        );
        assert_eq!(
            rename_v1("optim.exp_avg_sq.head.fc1.bias"),
            "optim.exp_avg_sq.heads.avc.fc1.bias"
        );
        assert_eq!(
            rename_v1("ema.live.audio.block1.bn0.running_mean"),
            "ema.live.trunk.audio.block1.bn0.running_mean"
        );
        assert_eq!(rename_v1("optim.step"), "optim.step");
        assert_eq!(rename_v1("meta.json"), "meta.json");
    }
}
