//! Decode workers. Each worker owns its FFmpeg contexts (created on its thread, never sent) and
//! takes whole [`Job`]s: it opens the job's file once, cuts every frame the file owes in time
//! order (one forward pass with seeks only across gaps), then every audio window in time order.
//! Audio of easy negatives comes from other files, each opened once per job.
//!
//! Tasks that pick frames from motion (frame order) first run one sequential pass over the file
//! at thumbnail size to build its [`MotionProfile`].
//!
//! A media error on a file quarantines it and drops the examples that need it (the drop notices
//! travel on so the reorder buffer can advance); the worker carries on with the next job.
//! Damaged windows are media errors too (`MediaError::Damaged`). Before a job's examples
//! leave, every file they draw on (own video and audio, donor audio) is checked against the
//! quarantine once more, so a file another worker quarantined meanwhile is not used again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::sampler::{decode_rng, Job};
use super::{
    channel, IndexEntry, InputSpec, MotionProfile, PipelineError, Progress, Quarantine, SampleSpec,
    StageStats, TaskData,
};
use crate::media::{
    AudioDecoder, AudioOptions, MediaError, ResizeMode, RgbFrame, VideoDecoder, VideoOptions,
};

/// Thumbnail side used for motion scores.
const MOTION_SIDE: u32 = 32;

/// A decoded example, or the notice that it was dropped.
#[derive(Debug)]
pub enum Decoded {
    /// Frames (in the spec's order) and the audio window (empty for vision-only tasks).
    Sample {
        /// The plan, with `video_times` filled.
        spec: SampleSpec,
        /// Decoded frames.
        frames: Vec<RgbFrame>,
        /// Mono audio at the preset's rate.
        audio: Vec<f32>,
    },
    /// The example could not be cut (a file it needs is quarantined).
    Dropped {
        /// Its sequence number.
        seq: u64,
    },
}

/// What every decode worker shares.
pub struct DecodeContext<'a> {
    /// Usable files.
    pub index: &'a [IndexEntry],
    /// The task.
    pub task: &'a dyn TaskData,
    /// What the model sees: decode size, audio rate and window length.
    pub input: &'a InputSpec,
    /// Per-file decode budget.
    pub deadline: Duration,
    /// The quarantine list.
    pub quarantine: &'a Quarantine,
    /// Live counters.
    pub progress: &'a Progress,
}

/// Runs one decode worker until its input ends or the run stops.
pub fn run(
    ctx: &DecodeContext<'_>,
    rx: &Receiver<Job>,
    tx: &Sender<Decoded>,
    cancel: &AtomicBool,
) -> Result<StageStats, PipelineError> {
    let mut st = StageStats::new("decode");
    while let Some(job) = channel::recv(rx, cancel, &mut st) {
        let t0 = Instant::now();
        let out = decode_job(ctx, job, cancel)?;
        st.busy(t0.elapsed());
        ctx.progress.files_done.fetch_add(1, Ordering::Relaxed);
        // An endless stream whose every file has been quarantined would plan examples forever
        // and drop them all: stop with the reason instead.
        let nothing = out.iter().all(|d| matches!(d, Decoded::Dropped { .. }));
        if nothing && ctx.index.iter().all(|e| ctx.quarantine.contains(&e.path)) {
            return Err(PipelineError::NoFiles {
                given: ctx.index.len(),
                quarantined: ctx.index.len(),
            });
        }
        for d in out {
            if matches!(d, Decoded::Sample { .. }) {
                st.items += 1;
            }
            if !channel::send(tx, d, cancel, &mut st) {
                return Ok(st);
            }
        }
    }
    Ok(st)
}

fn quarantine(ctx: &DecodeContext<'_>, path: &Path, err: &MediaError) -> Result<(), PipelineError> {
    if ctx.quarantine.add(path, &err.to_string(), err.kind(), "decode")? {
        ctx.progress.errors.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn drop_all(specs: Vec<SampleSpec>) -> Vec<Decoded> {
    specs.into_iter().map(|s| Decoded::Dropped { seq: s.seq }).collect()
}

/// Cuts every example of `job`. Media errors quarantine files; only quarantine I/O is fatal.
pub fn decode_job(
    ctx: &DecodeContext<'_>,
    job: Job,
    cancel: &AtomicBool,
) -> Result<Vec<Decoded>, PipelineError> {
    let entry = &ctx.index[job.file];
    let path = entry.path.as_path();
    if ctx.quarantine.contains(path) || cancel.load(Ordering::Relaxed) {
        return Ok(drop_all(job.specs));
    }
    let (mut specs, frames) = match video_pass(ctx, entry, job.specs) {
        Ok(v) => v,
        Err((specs, e)) => {
            quarantine(ctx, path, &e)?;
            return Ok(drop_all(specs));
        }
    };
    // Audio windows, grouped by source file (own file first), each in time order.
    let mut audio: Vec<Option<Vec<f32>>> = vec![None; specs.len()];
    if ctx.task.needs_audio() {
        let mut by_file: BTreeMap<(bool, usize), Vec<usize>> = BTreeMap::new();
        for (i, s) in specs.iter().enumerate() {
            if let (Some(a), Some(_)) = (s.audio, frames[i].as_ref()) {
                by_file.entry((a.file != job.file, a.file)).or_default().push(i);
            }
        }
        for ((_, f), mut idx) in by_file {
            let apath = ctx.index[f].path.as_path();
            if ctx.quarantine.contains(apath) {
                continue;
            }
            idx.sort_by(|&a, &b| audio_start(&specs[a]).total_cmp(&audio_start(&specs[b])));
            match read_audio(ctx, apath, &specs, &idx) {
                Ok(clips) => {
                    for (i, c) in idx.into_iter().zip(clips) {
                        audio[i] = Some(c);
                    }
                }
                Err(e) => {
                    quarantine(ctx, apath, &e)?;
                    if f == job.file {
                        return Ok(drop_all(specs));
                    }
                }
            }
        }
    }
    let needs_audio = ctx.task.needs_audio();
    // Files quarantined while this job ran (by another worker) are not used in any role.
    if ctx.quarantine.contains(path) {
        return Ok(drop_all(specs));
    }
    let quarantined =
        |s: &SampleSpec| s.audio.is_some_and(|a| ctx.quarantine.contains(&ctx.index[a.file].path));
    let mut out = Vec::with_capacity(specs.len());
    for ((spec, fr), au) in specs.drain(..).zip(frames).zip(audio) {
        if quarantined(&spec) {
            out.push(Decoded::Dropped { seq: spec.seq });
            continue;
        }
        match (fr, au) {
            (Some(frames), Some(audio)) => out.push(Decoded::Sample { spec, frames, audio }),
            (Some(frames), None) if !needs_audio || spec.audio.is_none() => {
                out.push(Decoded::Sample { spec, frames, audio: Vec::new() })
            }
            _ => out.push(Decoded::Dropped { seq: spec.seq }),
        }
    }
    Ok(out)
}

fn audio_start(s: &SampleSpec) -> f64 {
    s.audio.map(|a| a.start).unwrap_or(0.0)
}

type VideoOut = (Vec<SampleSpec>, Vec<Option<Vec<RgbFrame>>>);

/// Chooses frames (motion pass when the task needs it) and decodes them in time order.
fn video_pass(
    ctx: &DecodeContext<'_>,
    entry: &IndexEntry,
    mut specs: Vec<SampleSpec>,
) -> Result<VideoOut, (Vec<SampleSpec>, MediaError)> {
    let path = entry.path.as_path();
    let mut ok = vec![true; specs.len()];
    if ctx.task.needs_motion() {
        let motion = match motion_profile(path, ctx.deadline) {
            Ok(m) => m,
            Err(e) => return Err((specs, e)),
        };
        for (i, s) in specs.iter_mut().enumerate() {
            let mut rng = decode_rng(s);
            ok[i] = ctx.task.choose_frames(s, &motion, &mut rng);
        }
    }
    let opts = VideoOptions {
        size: Some((ctx.input.decode_side(), ctx.input.decode_side())),
        resize: ResizeMode::ShorterSideCrop,
        threads: 1,
        deadline: Some(ctx.deadline),
        apply_rotation: true,
    };
    let mut dec = match VideoDecoder::open(path, &opts) {
        Ok(d) => d,
        Err(e) => return Err((specs, e)),
    };
    // A quarter frame past the grid time lands inside the intended frame's display interval.
    let nudge = 0.25 / entry.fps;
    let mut wanted: Vec<(f64, usize, usize)> = Vec::new();
    for (i, s) in specs.iter().enumerate().filter(|(i, _)| ok[*i]) {
        for (k, t) in s.video_times.iter().enumerate() {
            wanted.push((*t + nudge, i, k));
        }
    }
    wanted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let times: Vec<f64> = wanted.iter().map(|w| w.0).collect();
    let decoded = dec.frames_at(&times);
    ctx.progress.video_frames_decoded.fetch_add(dec.frames_decoded(), Ordering::Relaxed);
    ctx.progress.video_seeks.fetch_add(dec.seeks(), Ordering::Relaxed);
    let decoded = match decoded {
        Ok(f) => f,
        Err(e) => return Err((specs, e)),
    };
    let mut frames: Vec<Option<Vec<Option<RgbFrame>>>> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| ok[i].then(|| vec![None; s.video_times.len()]))
        .collect();
    for ((_, i, k), f) in wanted.into_iter().zip(decoded) {
        if let Some(slot) = frames[i].as_mut().and_then(|v| v.get_mut(k)) {
            *slot = Some(f);
        }
    }
    let frames = frames
        .into_iter()
        .map(|v| v.and_then(|v| v.into_iter().collect::<Option<Vec<_>>>()))
        .collect();
    Ok((specs, frames))
}

/// One sequential pass at thumbnail size.
pub fn motion_profile(path: &Path, deadline: Duration) -> Result<MotionProfile, MediaError> {
    let opts = VideoOptions {
        size: Some((MOTION_SIDE, MOTION_SIDE)),
        resize: ResizeMode::Stretch,
        threads: 1,
        deadline: Some(deadline),
        apply_rotation: false,
    };
    let mut dec = VideoDecoder::open(path, &opts)?;
    let mut m = MotionProfile::new();
    let mut f = RgbFrame::empty();
    while dec.next_frame_into(&mut f)? {
        m.push_rgb(f.pts, &f.data);
    }
    Ok(m)
}

fn read_audio(
    ctx: &DecodeContext<'_>,
    path: &Path,
    specs: &[SampleSpec],
    idx: &[usize],
) -> Result<Vec<Vec<f32>>, MediaError> {
    let opts = AudioOptions {
        sample_rate: ctx.input.sample_rate(),
        mono: true,
        deadline: Some(ctx.deadline),
    };
    let mut dec = AudioDecoder::open(path, &opts)?;
    idx.iter()
        .map(|&i| dec.read(audio_start(&specs[i]), ctx.input.clip_seconds).map(|c| c.samples))
        .collect()
}
