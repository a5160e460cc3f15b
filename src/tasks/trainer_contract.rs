//! The trainer's contract, checked with real tasks (the trainer itself names none): a checkpoint
//! gives back the model's logits, a run resumed from one continues with the losses it would
//! have had, weight averaging publishes the average and keeps the live weights for resuming,
//! cancellation saves before stopping, and a checkpoint of another model is refused.

// Test helpers fail a test by panicking, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use tch::{nn::VarStore, Device};

use super::{build, Role, Task};
use crate::models::{HeadConfig, ModelConfig, TowerConfig};
use crate::pipeline::InputSpec;
use crate::training::{
    checkpoint, DataSource, DeviceSpec, RunConfig, StopReason, TaskSpec, TensorBatch, ToySource,
    TrainConfig, Trainer,
};

/// A tiny run of `task` (options `sets`, e.g. `("objective", "in-batch")`) on its toy data:
/// 16 px frames, 3-block towers of 4-8 channels, batches of 8 on the CPU, 16 validation examples.
/// Shared by the tasks' own tests.
pub(crate) fn tiny_run(
    task: &str,
    sets: &[(&str, &str)],
    steps: u64,
) -> (Box<dyn Task>, RunConfig, ToySource) {
    let mut table = toml::Table::new();
    for (k, v) in sets {
        super::apply_set(&mut table, &format!("{k}={v}")).unwrap();
    }
    let task = build(task, &table).unwrap();
    let tower = TowerConfig { channels: vec![4, 8, 8], ..Default::default() };
    let mut model = ModelConfig {
        name: "tiny".into(),
        input: InputSpec { frame_size: 16, ..Default::default() },
        vision: tower.clone(),
        audio: tower,
        head: HeadConfig { embedding: 8, hidden: 8, ..Default::default() },
    };
    task.adapt_model(&mut model).unwrap();
    let train = TrainConfig {
        steps,
        batch: 8,
        warmup_steps: 1,
        val_every: 0,
        val_batches: 2,
        checkpoint_every: 0,
        device: DeviceSpec::Cpu,
        log_every: 1,
        ..Default::default()
    };
    let mut toy =
        ToySource::new(task.data(Role::Train), task.data(Role::Eval), model.input.clone(), 7);
    toy.val_examples = 16;
    let run = RunConfig {
        task: TaskSpec { name: task.name().into(), options: task.options() },
        model,
        train,
        data: toy.describe(),
    };
    (task, run, toy)
}

fn tiny(task: &str, steps: u64) -> (Box<dyn Task>, RunConfig, ToySource) {
    tiny_run(task, tiny_sets(task), steps)
}

/// Options that fit a task's geometry into the tiny run's 18 px decoded frames.
pub(crate) fn tiny_sets(task: &str) -> &'static [(&'static str, &'static str)] {
    match task {
        "jigsaw" => &[
            ("permutations", "100"),
            ("crop", "18"),
            ("cell", "6"),
            ("tile", "5"),
            ("channel_jitter", "1"),
        ],
        "relative-position" => &[("crop", "18"), ("cell", "6"), ("patch", "5")],
        _ => &[],
    }
}

fn logits(t: &Trainer, b: &TensorBatch) -> tch::Tensor {
    let _g = tch::no_grad_guard();
    t.model().logits(b).unwrap()
}

#[test]
fn save_load_round_trip_gives_the_same_logits_and_refuses_another_model() {
    for name in [
        "avc",
        "frame-order",
        "rotation",
        "jigsaw",
        "relative-position",
        "colorization",
        "inpainting",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (task, run, toy) = tiny(name, 4);
        let mut t = Trainer::new(dir.path(), run.clone(), &task).unwrap();
        let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8).unwrap(), Device::Cpu).unwrap();
        t.train_step(&batch).unwrap();
        let path = dir.path().join("ck.safetensors");
        t.save(&path, 1.0).unwrap();
        let want = logits(&t, &batch);
        let r = super::Restored::load(&path, Device::Cpu, &[], false).unwrap();
        assert_eq!((r.meta.step, r.meta.samples_seen), (1, 8));
        assert_eq!(r.task.name(), name);
        let _g = tch::no_grad_guard();
        let got = r.model.logits(&batch).unwrap();
        assert!(got.allclose(&want, 0.0, 0.0, false), "{name}");
        // A checkpoint of another model is refused, not half-loaded.
        let mut other = run.model.clone();
        other.head.embedding = 4;
        let vs = VarStore::new(Device::Cpu);
        let _m = task.model(&vs.root(), &other).unwrap();
        let (_, tensors) = checkpoint::read_checkpoint(&path).unwrap();
        assert!(checkpoint::load_variables(&path, &vs, &tensors).is_err(), "{name}");
    }
}

#[test]
fn resume_gives_the_same_next_step_losses() {
    for ema in [0.0, 0.9] {
        let never = AtomicBool::new(false);
        let (task, mut run, toy) = tiny("avc", 6);
        run.train.ema = ema;
        let a = tempfile::tempdir().unwrap();
        let mut losses = Vec::new();
        let mut t = Trainer::new(a.path(), run.clone(), &task).unwrap();
        t.run(&toy, &never, &mut |r| losses.push(r.loss)).unwrap();
        assert_eq!(losses.len(), 6);
        // Interrupted after 3 steps (cancelled), then resumed from the checkpoint.
        let b = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let mut t = Trainer::new(b.path(), run.clone(), &task).unwrap();
        let out = t
            .run(&toy, &cancel, &mut |r| {
                if r.step == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .unwrap();
        assert_eq!((out.stop, out.step), (StopReason::Cancelled, 3));
        drop(t);
        let ck = checkpoint::latest_checkpoint(&b.path().join("checkpoints")).unwrap();
        let mut resumed = Vec::new();
        let mut t = Trainer::resume(b.path(), run, &ck, &task).unwrap();
        assert_eq!(t.step(), 3);
        t.run(&toy, &never, &mut |r| resumed.push(r.loss)).unwrap();
        assert_eq!(resumed.len(), 3);
        for (x, y) in losses[3..].iter().zip(&resumed) {
            assert!((x - y).abs() < 1e-6, "ema {ema}: {:?} vs {resumed:?}", &losses[3..]);
        }
        assert!(b.path().join("checkpoints/best.safetensors").is_file());
        // The published weights (the average under EMA) are those of the uninterrupted run.
        let last = |d: &Path| {
            let ck = checkpoint::latest_checkpoint(&d.join("checkpoints")).unwrap();
            checkpoint::read_checkpoint(&ck).unwrap().1
        };
        let (ua, ub) = (last(a.path()), last(b.path()));
        let mut compared = 0;
        for (name, x) in &ua {
            if name.starts_with("optim.") || name == checkpoint::META_NAME {
                continue;
            }
            let diff = (x - &ub[name]).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "ema {ema}: {name} differs by {diff} after resuming");
            compared += 1;
        }
        assert!(compared > 0);
        assert_eq!(ua.keys().any(|k| k.starts_with("ema.live.")), ema > 0.0);
    }
}

#[test]
fn ema_checkpoints_publish_the_average_and_keep_the_live_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (task, mut run, toy) = tiny("avc", 4);
    run.train.ema = 0.5;
    run.train.lr = 1e-2;
    let mut t = Trainer::new(dir.path(), run.clone(), &task).unwrap();
    let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8).unwrap(), Device::Cpu).unwrap();
    for _ in 0..3 {
        t.train_step(&batch).unwrap();
    }
    let live = logits(&t, &batch);
    let path = dir.path().join("ck.safetensors");
    t.save(&path, 1.0).unwrap();
    // Saving swaps the average in and back out: training continues from the live weights.
    assert!(logits(&t, &batch).allclose(&live, 0.0, 0.0, false));
    let r = super::Restored::load(&path, Device::Cpu, &[], false).unwrap();
    let published = {
        let _g = tch::no_grad_guard();
        r.model.logits(&batch).unwrap()
    };
    let gap = (&published - &live).abs().max().double_value(&[]);
    assert!(gap > 1e-4, "the checkpoint holds the live weights, not their average");
}

#[test]
fn a_checkpoint_with_non_finite_weights_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (task, run, toy) = tiny("avc", 4);
    let mut t = Trainer::new(dir.path(), run, &task).unwrap();
    let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8).unwrap(), Device::Cpu).unwrap();
    t.train_step(&batch).unwrap();
    {
        let _g = tch::no_grad_guard();
        let mut vars = t.var_store().variables();
        let mut w = vars.remove("trunk.vision.proj.weight").unwrap();
        let _ = w.fill_(f64::NAN);
    }
    let path = dir.path().join("nan.safetensors");
    t.save(&path, 1.0).unwrap();
    let err = super::Restored::load(&path, Device::Cpu, &[], false).unwrap_err().to_string();
    assert!(err.contains("trunk.vision.proj.weight") && err.contains("NaN"), "{err}");
}

#[test]
fn cancellation_stops_after_saving() {
    let (task, run, toy) = tiny("frame-order", 100);
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let mut t = Trainer::new(dir.path(), run, &task).unwrap();
    let out = t
        .run(&toy, &cancel, &mut |r| {
            if r.step == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
        })
        .unwrap();
    assert_eq!((out.stop, out.step), (StopReason::Cancelled, 2));
    assert!(checkpoint::step_path(&dir.path().join("checkpoints"), 2).is_file());
}

/// Frame order is a question about *where* the object is in each frame: on the toy tuples (a
/// square at a random place, moving s/8 per frame) the model must learn it.
#[test]
fn frame_order_learns_positions_of_a_moving_square() {
    let dir = tempfile::tempdir().unwrap();
    let (task, mut run, mut toy) = tiny("frame-order", 150);
    run.model.input.frame_size = 32;
    run.model.vision.channels = vec![8, 16, 16];
    run.model.head = HeadConfig { embedding: 16, hidden: 16, ..Default::default() };
    run.train.batch = 16;
    run.train.lr = 3e-3;
    run.train.warmup_steps = 5;
    run.train.val_batches = 8;
    toy.input = run.model.input.clone();
    toy.val_examples = 128;
    let mut t = Trainer::new(dir.path(), run, &task).unwrap();
    let before = t.validate(&toy).unwrap().metric;
    for batch in toy.train(0, 16).unwrap().take(150) {
        let batch = TensorBatch::from_batch(&batch.unwrap(), Device::Cpu).unwrap();
        t.train_step(&batch).unwrap();
    }
    let after = t.validate(&toy).unwrap();
    assert_eq!(after.metric_name, "balanced_accuracy");
    assert!(after.metric >= 0.8, "balanced accuracy {before} -> {}", after.metric);
}
