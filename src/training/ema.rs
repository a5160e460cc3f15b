//! An exponential moving average of the weights (Polyak averaging, as in Inception, EfficientNet
//! and timm's `ModelEmaV2`): after every optimizer step each variable's shadow moves towards it,
//! `shadow = d·shadow + (1 − d)·live` with `d = min(decay, (1 + n)/(10 + n))` at update n, so
//! the average follows the early weights closely and settles to the configured horizon
//! (≈ 1/(1 − decay) steps). Batch-norm running statistics are averaged with the weights.
//!
//! The average is what a run *publishes*: validation swaps it into the model, and checkpoints
//! store it as the model's variables, so `eval`, `embed`, `localize` and the Python loader see
//! it without knowing about EMA. The live (training) weights ride along under `ema.live.*`, so
//! `--resume` continues the optimisation exactly. Swapping exchanges values in place: the
//! model, the optimizer and the VarStore keep pointing at the same tensors.

use std::collections::HashMap;

use tch::{nn::VarStore, Device, Tensor};

use super::TrainingError;

/// Prefix of the live (training) weights in a checkpoint written with EMA on.
pub const LIVE_PREFIX: &str = "ema.live.";

struct Slot {
    name: String,
    live: Tensor,
    shadow: Tensor,
}

/// The moving average of every variable of a VarStore.
pub struct Ema {
    decay: f64,
    slots: Vec<Slot>,
}

impl Ema {
    /// Starts the average at the current values of `vs`'s variables; `decay` in [0, 1).
    pub fn new(vs: &VarStore, decay: f64) -> Result<Self, TrainingError> {
        if !(0.0..1.0).contains(&decay) {
            return Err(TrainingError::Config(format!("ema decay {decay} must be in [0, 1)")));
        }
        let _guard = tch::no_grad_guard();
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, live)| Ok(Slot { shadow: live.f_detach()?.copy(), name, live }))
            .collect::<Result<_, TrainingError>>()?;
        Ok(Ema { decay, slots })
    }

    /// The decay used at update `n` (0-based): short memory while the weights move fast.
    pub fn decay_at(&self, n: u64) -> f64 {
        self.decay.min((1.0 + n as f64) / (10.0 + n as f64))
    }

    /// Moves the average towards the live weights; `n` counts the updates before this one.
    pub fn update(&mut self, n: u64) -> Result<(), TrainingError> {
        let _guard = tch::no_grad_guard();
        let d = self.decay_at(n);
        for s in &mut self.slots {
            if s.live.is_floating_point() {
                // shadow += (1 − d)·(live − shadow), in place.
                let _ = s.shadow.f_lerp_(&s.live, 1.0 - d)?;
            } else {
                s.shadow.f_copy_(&s.live)?;
            }
        }
        Ok(())
    }

    /// Exchanges the live weights and the average in place (call twice to undo).
    pub fn swap(&mut self) -> Result<(), TrainingError> {
        let _guard = tch::no_grad_guard();
        for s in &mut self.slots {
            let tmp = s.live.f_detach()?.copy();
            s.live.f_copy_(&s.shadow)?;
            s.shadow.f_copy_(&tmp)?;
        }
        Ok(())
    }

    /// What the shadow side holds, as named CPU tensors under `ema.live.`: after
    /// [`Ema::swap`] these are the live weights, which is when a checkpoint writes them.
    pub fn shadow_tensors(&self) -> Result<Vec<(String, Tensor)>, TrainingError> {
        self.slots
            .iter()
            .map(|s| {
                Ok((
                    format!("{LIVE_PREFIX}{}", s.name),
                    s.shadow.f_detach()?.f_to(Device::Cpu)?.f_contiguous()?,
                ))
            })
            .collect()
    }
}

/// Copies the live weights a checkpoint carries under [`LIVE_PREFIX`] into `vs` (after its
/// variables were loaded with the average); returns whether the checkpoint had them.
pub fn load_live(vs: &VarStore, tensors: &HashMap<String, Tensor>) -> Result<bool, String> {
    if !tensors.keys().any(|k| k.starts_with(LIVE_PREFIX)) {
        return Ok(false);
    }
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        let key = format!("{LIVE_PREFIX}{name}");
        let src = tensors.get(&key).ok_or_else(|| format!("lacks {key}"))?;
        if src.size() != var.size() {
            return Err(format!("{key}: shape {:?}, model has {:?}", src.size(), var.size()));
        }
        var.f_copy_(src).map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Kind};

    fn value(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.flatten(0, -1).to_kind(Kind::Float)).unwrap()
    }

    #[test]
    fn follows_the_closed_form_and_swaps_back() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut w = vs.root().var("w", &[2], nn::Init::Const(0.0));
        let mut ema = Ema::new(&vs, 0.5).unwrap();
        // Update 0 uses min(0.5, 1/10) = 0.1: shadow = 0.1·0 + 0.9·1.
        tch::no_grad(|| w.copy_(&Tensor::from_slice(&[1.0f32, 2.0])));
        ema.update(0).unwrap();
        // Update 5 uses min(0.5, 6/15) = 0.4.
        tch::no_grad(|| w.copy_(&Tensor::from_slice(&[3.0f32, 4.0])));
        ema.update(5).unwrap();
        let want = [0.4 * 0.9 + 0.6 * 3.0, 0.4 * 1.8 + 0.6 * 4.0];
        ema.swap().unwrap();
        for (g, w) in value(&w).iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{g} vs {w}");
        }
        let live = ema.shadow_tensors().unwrap();
        assert_eq!(live[0].0, "ema.live.w");
        assert_eq!(value(&live[0].1), vec![3.0, 4.0]);
        ema.swap().unwrap();
        assert_eq!(value(&w), vec![3.0, 4.0]);
    }

    #[test]
    fn live_weights_round_trip_through_a_checkpoint_map() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(7.0));
        let mut ema = Ema::new(&vs, 0.9).unwrap();
        ema.swap().unwrap();
        let map: HashMap<String, Tensor> = ema.shadow_tensors().unwrap().into_iter().collect();
        let _ = tch::no_grad(|| w.shallow_clone().fill_(1.0));
        assert!(load_live(&vs, &map).unwrap());
        assert_eq!(value(&w), vec![7.0, 7.0, 7.0]);
        assert!(!load_live(&vs, &HashMap::new()).unwrap());
        assert!(Ema::new(&vs, 1.0).is_err());
    }
}
