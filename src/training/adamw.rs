//! AdamW (Loshchilov & Hutter) written over the VarStore's own tensors, so that its moments are
//! plain named tensors that go into the checkpoint (tch's `nn::Optimizer` cannot save its state)
//! and a resumed run continues bit-for-bit.
//!
//! Decoupled weight decay applies to weight matrices and kernels (≥ 2 dimensions) only, not to
//! biases and batch-norm parameters, as is usual. Gradient clipping by global L2 norm lives here
//! too because it walks the same parameter list.

use std::collections::HashMap;

use tch::{nn::VarStore, Kind, Tensor};

use super::TrainingError;

/// Hyper-parameters of [`AdamW`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 1e-4 }
    }
}

struct Slot {
    name: String,
    param: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    decay: bool,
}

/// The optimizer: one slot (parameter + two moments) per trainable variable, sorted by name.
pub struct AdamW {
    cfg: AdamWConfig,
    slots: Vec<Slot>,
    step: i64,
}

/// Prefix of the first-moment tensors in a checkpoint.
pub const EXP_AVG_PREFIX: &str = "optim.exp_avg.";
/// Prefix of the second-moment tensors in a checkpoint.
pub const EXP_AVG_SQ_PREFIX: &str = "optim.exp_avg_sq.";
/// Name of the step counter in a checkpoint.
pub const STEP_NAME: &str = "optim.step";

impl AdamW {
    /// Collects the trainable variables of `vs` (batch-norm running statistics are not).
    pub fn new(vs: &VarStore, cfg: AdamWConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, param)| Slot {
                exp_avg: param.zeros_like().detach(),
                exp_avg_sq: param.zeros_like().detach(),
                decay: param.dim() >= 2,
                name,
                param,
            })
            .collect();
        AdamW { cfg, slots, step: 0 }
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> i64 {
        self.step
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        for s in &mut self.slots {
            s.param.zero_grad();
        }
    }

    /// Global L2 norm of all gradients (NaN/inf when any gradient is not finite).
    pub fn grad_norm(&self) -> Result<f64, TrainingError> {
        let _guard = tch::no_grad_guard();
        let mut total = 0.0f64;
        for s in &self.slots {
            let g = s.param.grad();
            if g.defined() {
                let n = g
                    .f_to_kind(Kind::Float)?
                    .f_square()?
                    .f_sum(Kind::Double)?
                    .f_double_value(&[])?;
                total += n;
            }
        }
        Ok(total.sqrt())
    }

    /// Multiplies every gradient by `factor` (clipping, loss-scale removal).
    pub fn scale_grads(&mut self, factor: f64) -> Result<(), TrainingError> {
        let _guard = tch::no_grad_guard();
        for s in &mut self.slots {
            let mut g = s.param.grad();
            if g.defined() {
                let _ = g.f_mul_scalar_(factor)?;
            }
        }
        Ok(())
    }

    /// Clips gradients to a global norm of at most `max_norm`; returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> Result<f64, TrainingError> {
        let norm = self.grad_norm()?;
        if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
            self.scale_grads(max_norm / (norm + 1e-6))?;
        }
        Ok(norm)
    }

    /// One AdamW update with learning rate `lr`.
    pub fn step(&mut self, lr: f64) -> Result<(), TrainingError> {
        let _guard = tch::no_grad_guard();
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        for s in &mut self.slots {
            let g = s.param.grad();
            if !g.defined() {
                continue;
            }
            let g = g.f_to_kind(s.param.kind())?;
            if s.decay && self.cfg.weight_decay > 0.0 {
                let _ = s.param.f_mul_scalar_(1.0 - lr * self.cfg.weight_decay)?;
            }
            let _ = s.exp_avg.f_mul_scalar_(b1)?;
            let _ = s.exp_avg.f_add_(&g.f_mul_scalar(1.0 - b1)?)?;
            let _ = s.exp_avg_sq.f_mul_scalar_(b2)?;
            let _ = s.exp_avg_sq.f_add_(&g.f_square()?.f_mul_scalar(1.0 - b2)?)?;
            let denom = s.exp_avg_sq.f_div_scalar(bc2)?.f_sqrt()?.f_add_scalar(self.cfg.eps)?;
            let update = s.exp_avg.f_div(&denom)?.f_mul_scalar(lr / bc1)?;
            let _ = s.param.f_sub_(&update)?;
        }
        Ok(())
    }

    /// The optimizer state as named CPU tensors, for a checkpoint.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>, TrainingError> {
        let mut out = Vec::with_capacity(2 * self.slots.len() + 1);
        for s in &self.slots {
            out.push((
                format!("{EXP_AVG_PREFIX}{}", s.name),
                s.exp_avg.f_to(tch::Device::Cpu)?.f_contiguous()?,
            ));
            out.push((
                format!("{EXP_AVG_SQ_PREFIX}{}", s.name),
                s.exp_avg_sq.f_to(tch::Device::Cpu)?.f_contiguous()?,
            ));
        }
        out.push((STEP_NAME.to_string(), Tensor::from_slice(&[self.step])));
        Ok(out)
    }

    /// Restores the state written by [`AdamW::state_tensors`]; every slot must be present.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>) -> Result<(), String> {
        let _guard = tch::no_grad_guard();
        for s in &mut self.slots {
            for (prefix, dst) in
                [(EXP_AVG_PREFIX, &mut s.exp_avg), (EXP_AVG_SQ_PREFIX, &mut s.exp_avg_sq)]
            {
                let key = format!("{prefix}{}", s.name);
                let src =
                    tensors.get(&key).ok_or_else(|| format!("optimizer state lacks {key}"))?;
                if src.size() != dst.size() {
                    return Err(format!(
                        "{key}: shape {:?} does not fit {:?}",
                        src.size(),
                        dst.size()
                    ));
                }
                dst.f_copy_(src).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        let step =
            tensors.get(STEP_NAME).ok_or_else(|| format!("optimizer state lacks {STEP_NAME}"))?;
        self.step = step.f_int64_value(&[0]).map_err(|e| format!("{STEP_NAME}: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    #[test]
    fn matches_the_closed_form_first_step() {
        // First AdamW step moves each weight by lr * sign(g) (m̂/√v̂ = g/|g|), after decay.
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[2, 2], nn::Init::Const(1.0));
        let mut opt =
            AdamW::new(&vs, AdamWConfig { weight_decay: 0.1, eps: 0.0, ..Default::default() });
        let loss =
            (&w * Tensor::from_slice(&[1.0f32, -2.0, 3.0, -4.0]).view([2, 2])).sum(Kind::Float);
        loss.backward();
        opt.step(0.01).unwrap();
        let got = Vec::<f32>::try_from(w.flatten(0, -1)).unwrap();
        let decayed = 1.0 - 0.01 * 0.1;
        let want = [decayed - 0.01, decayed + 0.01, decayed - 0.01, decayed + 0.01];
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn clipping_bounds_the_norm() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(0.0));
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        (&w * Tensor::from_slice(&[30.0f32, 40.0, 0.0])).sum(Kind::Float).backward();
        let before = opt.clip_grad_norm(1.0).unwrap();
        assert!((before - 50.0).abs() < 1e-4);
        assert!((opt.grad_norm().unwrap() - 1.0).abs() < 1e-4);
    }
}
