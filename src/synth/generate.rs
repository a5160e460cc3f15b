//! Generating a world: clips in parallel over `std::thread::scope`, each one serial and a pure
//! function of `(config, clip index)`, then `annotations.jsonl` and `README.md`.
//!
//! Workers take the next clip index from an atomic counter, draw its [`ClipPlan`], render and
//! synthesise it, and encode it with a single-threaded [`MediaEncoder`]; the annotation comes
//! back to the caller's thread and is stored at its index. Nothing in a clip depends on the
//! worker or the order, so bytes are identical for any thread count. The first error stops the
//! other workers (a shared cancel flag) and is the one reported; a panicking worker becomes
//! [`SynthError::Worker`] instead of tearing down the process.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::media::{EncoderConfig, MediaEncoder};

use super::annotations::{ClipAnnotation, ObjectAnnotation};
use super::classes::CLASSES;
use super::config::SynthConfig;
use super::plan::ClipPlan;
use super::render::{render_frame, Background};
use super::sound;
use super::SynthError;

/// The split of every clip: an exact-count partition drawn from a seeded permutation, so the
/// fractions hold even for few clips and a clip's split does not depend on the thread count.
pub fn assign_splits(config: &SynthConfig) -> Vec<&'static str> {
    let n = config.clips;
    let n_train = (n as f64 * config.split.train).round() as usize;
    let n_val = ((n as f64 * config.split.val).round() as usize).min(n - n_train.min(n));
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(u64::MAX);
    order.shuffle(&mut rng);
    let mut split = vec!["test"; n];
    for (rank, &clip) in order.iter().enumerate() {
        split[clip] = if rank < n_train {
            "train"
        } else if rank < n_train + n_val {
            "val"
        } else {
            "test"
        };
    }
    split
}

/// The clip's mono sound track: every sounding object's and the off-screen source's events,
/// peak-limited to 0.9, plus background noise at the plan's SNR.
pub fn clip_audio(plan: &ClipPlan) -> Vec<f32> {
    let rate = plan.sample_rate;
    let mut track = vec![0.0f32; plan.samples];
    let mut add = |class: usize, pitch: f32, loud: f32, seed: u64, onsets: &[f64]| {
        for (j, &on) in onsets.iter().enumerate() {
            let ev = sound::event(CLASSES[class].sound, pitch, rate, seed.wrapping_add(j as u64));
            let start = (on * f64::from(rate)).round() as usize;
            sound::add_at(&mut track, &ev, start, loud);
        }
    };
    for o in plan.objects.iter().filter(|o| o.sounding) {
        add(o.class, o.pitch_hz, o.loudness, o.sound_seed, &o.onsets);
    }
    if let Some(off) = &plan.offscreen {
        add(off.class, off.pitch_hz, off.loudness, off.sound_seed, &off.onsets);
    }
    sound::limit_peak(&mut track, 0.9);
    if let Some(snr) = plan.noise_snr_db {
        let signal = sound::rms(&track);
        let level = if signal > 0.0 { signal / 10f32.powf(snr as f32 / 20.0) } else { 0.003 };
        sound::add_noise(&mut track, level, plan.noise_seed);
        sound::limit_peak(&mut track, 0.99);
    }
    track
}

/// The world-level part of `params` (everything but the output folder and thread count, which
/// do not change the data).
fn world_params(config: &SynthConfig) -> serde_json::Value {
    let mut v = json!({
        "seed": config.seed,
        "clips": config.clips,
        "seconds": config.seconds,
        "width": config.width,
        "height": config.height,
        "fps": config.fps,
        "sample_rate": config.sample_rate,
        "split": config.split,
        "container": config.container,
        "crf": config.crf,
        "min_objects": config.min_objects,
        "max_objects": config.max_objects,
        "max_sounding": config.max_sounding,
        "offscreen_prob": config.offscreen_prob,
        "silence_prob": config.silence_prob,
        "noise_snr_db": config.noise_snr_db,
        "pan_px": config.pan_px,
        "duplicate_prob": config.duplicate_prob,
    });
    // Recorded only when set, so default worlds keep their exact bytes.
    if config.object_scale != 1.0 {
        if let Some(o) = v.as_object_mut() {
            o.insert("object_scale".into(), config.object_scale.into());
        }
    }
    if config.horizon {
        if let Some(o) = v.as_object_mut() {
            o.insert("horizon".into(), true.into());
        }
    }
    v
}

/// `x` rounded to 4 decimals, so the JSON text is short and parses back to the same value.
fn r4(x: f32) -> f64 {
    (f64::from(x) * 1e4).round() / 1e4
}

/// Renders, synthesises and encodes clip `index`; returns its annotation.
pub fn make_clip(
    config: &SynthConfig,
    index: usize,
    split: &str,
) -> Result<ClipAnnotation, SynthError> {
    let plan = ClipPlan::draw(config, index);
    let file = config.file_name(index);
    let path = config.out.join(&file);
    let enc_cfg = EncoderConfig {
        width: config.width,
        height: config.height,
        fps: config.fps,
        sample_rate: config.sample_rate,
        container: config.container,
        crf: config.crf,
        gop: config.fps,
        ..EncoderConfig::default()
    };
    let audio = clip_audio(&plan);
    let background = Background::new(&plan);
    let mut encoder = MediaEncoder::create(&path, &enc_cfg)?;
    let mut canvas = vec![0u8; config.width as usize * config.height as usize * 3];
    let mut boxes: Vec<Vec<[f32; 4]>> = vec![Vec::with_capacity(plan.frames); plan.objects.len()];
    let sample_at = |i: usize| {
        ((i as u64 * u64::from(config.sample_rate) + u64::from(config.fps) / 2)
            / u64::from(config.fps)) as usize
    };
    for i in 0..plan.frames {
        let b = render_frame(&plan, &background, i, &mut canvas, true);
        for (k, bx) in b.into_iter().enumerate() {
            boxes[k].push(bx);
        }
        encoder.push_frame(&canvas)?;
        let (s0, s1) = (sample_at(i).min(audio.len()), sample_at(i + 1).min(audio.len()));
        encoder.push_audio(&audio[s0..s1])?;
    }
    encoder.finish()?;

    let objects = plan
        .objects
        .iter()
        .zip(boxes)
        .map(|(o, boxes)| ObjectAnnotation {
            class: o.class,
            class_name: CLASSES[o.class].name.to_string(),
            sounding: o.sounding,
            boxes,
            onsets: o.onsets.clone(),
        })
        .collect();
    let clip_params = json!({
        "index": index,
        "silent": plan.silent,
        "duplicate": plan.duplicate,
        "pan_amp_px": plan.pan_amp.map(r4),
        "objects": plan.objects.iter().map(|o| json!({
            "pitch_hz": r4(o.pitch_hz),
            "tempo": r4(o.tempo),
            "loudness": r4(o.loudness),
            "radius_px": r4(o.radius),
            "hue": r4(o.hue),
        })).collect::<Vec<_>>(),
        "offscreen": plan.offscreen.as_ref().map(|o| json!({
            "class_name": CLASSES[o.class].name,
            "pitch_hz": r4(o.pitch_hz),
            "loudness": r4(o.loudness),
        })),
    });
    Ok(ClipAnnotation {
        file,
        split: split.to_string(),
        duration: plan.frames as f64 / f64::from(config.fps),
        fps: f64::from(config.fps),
        sample_rate: config.sample_rate,
        width: config.width,
        height: config.height,
        objects,
        offscreen_class: plan.offscreen.as_ref().map(|o| o.class),
        offscreen_onsets: plan.offscreen.as_ref().map(|o| o.onsets.clone()).unwrap_or_default(),
        params: json!({ "world": world_params(config), "clip": clip_params }),
    })
}

/// Generates the whole world into `config.out`: every clip, `annotations.jsonl` and
/// `README.md`. `progress` is called with the number of finished clips; setting `cancel`
/// stops the workers at the next clip boundary with [`SynthError::Cancelled`].
pub fn generate(
    config: &SynthConfig,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Result<Vec<ClipAnnotation>, SynthError> {
    config.validate()?;
    std::fs::create_dir_all(&config.out)
        .map_err(|e| SynthError::OutDir { path: config.out.clone(), source: e })?;
    let splits = assign_splits(config);
    let threads = if config.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        config.threads
    }
    .min(config.clips)
    .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<SynthError>> = Mutex::new(None);
    let results: Mutex<Vec<Option<ClipAnnotation>>> = Mutex::new(vec![None; config.clips]);
    let fail = |e: SynthError| {
        stop.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = first_error.lock() {
            slot.get_or_insert(e);
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if cancel.load(Ordering::SeqCst) {
                        fail(SynthError::Cancelled);
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= config.clips {
                        break;
                    }
                    match make_clip(config, i, splits[i]) {
                        Ok(a) => {
                            if let Ok(mut r) = results.lock() {
                                r[i] = Some(a);
                            }
                            progress(done.fetch_add(1, Ordering::SeqCst) + 1);
                        }
                        Err(e) => {
                            fail(e);
                            break;
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            if let Err(panic) = h.join() {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                fail(SynthError::Worker(msg));
            }
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results.into_inner().map_err(|_| SynthError::Worker("poisoned".into()))?;
    let annotations: Vec<ClipAnnotation> = results
        .into_iter()
        .enumerate()
        .map(|(i, a)| a.ok_or_else(|| SynthError::Worker(format!("clip {i} was not produced"))))
        .collect::<Result<_, _>>()?;
    let mut jsonl = String::new();
    for a in &annotations {
        let line = serde_json::to_string(a)
            .map_err(|e| SynthError::Config(format!("cannot serialise an annotation: {e}")))?;
        jsonl.push_str(&line);
        jsonl.push('\n');
    }
    crate::io::write_atomic(&config.out.join("annotations.jsonl"), jsonl.as_bytes())?;
    let readme = super::readme::world_readme(config, &annotations);
    crate::io::write_atomic(&config.out.join("README.md"), readme.as_bytes())?;
    Ok(annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_have_exact_counts_and_depend_on_seed() {
        let c = SynthConfig { clips: 20, ..SynthConfig::default() };
        let s = assign_splits(&c);
        assert_eq!(s.iter().filter(|x| **x == "train").count(), 14);
        assert_eq!(s.iter().filter(|x| **x == "val").count(), 3);
        assert_eq!(s.iter().filter(|x| **x == "test").count(), 3);
        let other = assign_splits(&SynthConfig { seed: 9, ..c });
        assert_ne!(s, other);
    }

    #[test]
    fn audio_is_silent_without_sources_or_noise() {
        let c = SynthConfig {
            silence_prob: 1.0,
            offscreen_prob: 0.0,
            noise_snr_db: None,
            ..SynthConfig::default()
        };
        let p = ClipPlan::draw(&c, 0);
        assert!(clip_audio(&p).iter().all(|v| *v == 0.0));
        let c = SynthConfig { silence_prob: 0.0, ..c };
        let p = ClipPlan::draw(&c, 0);
        let a = clip_audio(&p);
        assert_eq!(a.len(), c.samples());
        assert!(sound::rms(&a) > 0.01);
    }
}
