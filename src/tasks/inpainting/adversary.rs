//! The adversarial term of Context Encoders: a DCGAN-style discriminator (4×4 stride-2
//! convolutions, LeakyReLU 0.2, batch norm after the first, down to 4×4, then one 4×4
//! convolution to a logit) that tells real frames from frames whose hole holds the prediction.
//! It sees the whole frame, context and all (the reference's `conditionAdv` variant in spirit;
//! its default looks at the 64 px centre only, which has no meaning for random holes).
//!
//! The discriminator must not be stepped by the trainer's optimiser with the generator's loss,
//! which would *help* the generator fool it. So it lives in its own `VarStore` with its own
//! Adam (β₁ 0.5, learning rate `adv_lr`, no weight decay, as the reference), outside the
//! trainer's variables: [`Adversary::step`] (called inside the task's training step) minimises
//! `BCE(D(real), 1) + BCE(D(fake.detach()), 0)` and applies only its own gradients; the
//! generator's term `BCE(D(fake), 1)` ([`Adversary::generator_loss`]) leaves gradients in the
//! discriminator's variables that nobody applies and the next [`Adversary::step`] zeroes.
//! Its weights are not written to checkpoints (they hold the trainer's variables only): a resumed
//! run starts a fresh discriminator, and evaluation does not need one.

use std::cell::{Cell, RefCell};

use tch::{nn, nn::VarStore, Device, Kind, Tensor};

use crate::training::{AdamW, AdamWConfig, TrainingError};

/// Channels of the first convolution; doubled at each halving up to [`Adversary::MAX_WIDTH`].
const WIDTH: i64 = 32;

/// The discriminator and its optimiser.
pub struct Adversary {
    /// Owns the discriminator's variables (read by the tests; the layers and the optimiser hold
    /// the same tensors).
    #[cfg_attr(not(test), allow(dead_code))]
    vs: VarStore,
    convs: Vec<(nn::Conv2D, Option<nn::BatchNorm>)>,
    last: nn::Conv2D,
    opt: RefCell<AdamW>,
    lr: f64,
    last_loss: Cell<f64>,
    steps: Cell<u64>,
}

impl std::fmt::Debug for Adversary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adversary")
            .field("layers", &(self.convs.len() + 1))
            .field("lr", &self.lr)
            .field("steps", &self.steps.get())
            .finish()
    }
}

impl Adversary {
    /// The widest layer.
    pub const MAX_WIDTH: i64 = 256;

    /// A discriminator of `side × side` frames on `device`, stepped at `lr`.
    pub fn new(side: i64, device: Device, lr: f64) -> Self {
        let vs = VarStore::new(device);
        let p = vs.root().sub("adversary");
        let cfg = nn::ConvConfig { stride: 2, padding: 1, ..Default::default() };
        let init = nn::Init::Randn { mean: 0.0, stdev: 0.02 };
        let (mut convs, mut c_in, mut size, mut width) = (Vec::new(), 3, side, WIDTH);
        let mut i = 0;
        while size > 4 {
            let conv = nn::conv2d(
                p.sub(format!("conv{i}")),
                c_in,
                width,
                4,
                nn::ConvConfig { ws_init: init, ..cfg },
            );
            let bn = (i > 0)
                .then(|| nn::batch_norm2d(p.sub(format!("bn{i}")), width, Default::default()));
            convs.push((conv, bn));
            (c_in, size, i) = (width, size / 2, i + 1);
            width = (width * 2).min(Self::MAX_WIDTH);
        }
        let last = nn::conv2d(
            p.sub("logit"),
            c_in,
            1,
            size.max(1),
            nn::ConvConfig { ws_init: init, ..Default::default() },
        );
        let opt =
            AdamW::new(&vs, AdamWConfig { beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });
        Adversary {
            vs,
            convs,
            last,
            opt: RefCell::new(opt),
            lr,
            last_loss: Cell::new(f64::NAN),
            steps: Cell::new(0),
        }
    }

    /// `[B]` logits (real = 1) of `[B, 3, S, S]` frames.
    pub fn logits(&self, x: &Tensor, train: bool) -> Result<Tensor, TrainingError> {
        let mut y = x.shallow_clone();
        for (conv, bn) in &self.convs {
            y = y.apply(conv);
            if let Some(bn) = bn {
                y = y.apply_t(bn, train);
            }
            // LeakyReLU(0.2) (tch's leaky_relu has the fixed slope 0.01).
            y = y.f_maximum(&y.f_mul_scalar(0.2)?)?;
        }
        Ok(y.apply(&self.last).f_flatten(0, -1)?)
    }

    /// One step of the discriminator on `real` against `fake` (detached here): its loss before
    /// the step.
    pub fn step(&self, real: &Tensor, fake: &Tensor) -> Result<f64, TrainingError> {
        let mut opt = self.opt.borrow_mut();
        opt.zero_grad();
        let fake = fake.f_detach()?;
        let (lr, lf) = (self.logits(real, true)?, self.logits(&fake, true)?);
        let loss = bce(&lr, 1.0)?.f_add(&bce(&lf, 0.0)?)?;
        loss.f_backward()?;
        opt.step(self.lr)?;
        let v = loss.f_double_value(&[])?;
        self.last_loss.set(v);
        self.steps.set(self.steps.get() + 1);
        Ok(v)
    }

    /// The generator's adversarial loss: `BCE(D(fake), 1)` (gradients flow into `fake`).
    pub fn generator_loss(&self, fake: &Tensor) -> Result<Tensor, TrainingError> {
        bce(&self.logits(fake, true)?, 1.0)
    }

    /// The discriminator's loss at its last step (NaN before the first).
    #[cfg(test)]
    pub fn last_loss(&self) -> f64 {
        self.last_loss.get()
    }

    /// Steps taken.
    #[cfg(test)]
    pub fn steps(&self) -> u64 {
        self.steps.get()
    }

    /// Its variables (its own store, not the trainer's).
    #[cfg(test)]
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }
}

/// Mean binary cross-entropy of logits against a constant label.
fn bce(logits: &Tensor, label: f64) -> Result<Tensor, TrainingError> {
    let target = logits.f_full_like(label)?;
    Ok(logits.f_to_kind(Kind::Float)?.f_binary_cross_entropy_with_logits::<Tensor>(
        &target.f_to_kind(Kind::Float)?,
        None,
        None,
        tch::Reduction::Mean,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The discriminator learns on a toy case: real frames are smooth ramps, fakes are flat
    /// grey; its loss (2 ln 2 ≈ 1.39 at chance) falls well below chance in 40 of its own steps.
    #[test]
    fn the_discriminator_learns_to_tell_ramps_from_flat_fills() {
        tch::manual_seed(0);
        let d = Adversary::new(16, Device::Cpu, 2e-3);
        let ramp = Tensor::linspace(-1.5, 1.5, 16, (Kind::Float, Device::Cpu));
        let real = ramp.view([1, 1, 1, 16]).expand([8, 3, 16, 16], false).contiguous()
            + Tensor::randn([8, 3, 16, 16], (Kind::Float, Device::Cpu)) * 0.05;
        let fake = Tensor::zeros([8, 3, 16, 16], (Kind::Float, Device::Cpu))
            + Tensor::randn([8, 3, 16, 16], (Kind::Float, Device::Cpu)) * 0.05;
        let first = d.step(&real, &fake).unwrap();
        let mut last = first;
        for _ in 0..40 {
            last = d.step(&real, &fake).unwrap();
        }
        assert_eq!(d.steps(), 41);
        assert!(last < 0.3 * first, "discriminator loss {first} -> {last}");
    }
}
