//! Audio decoding to f32 windows at a requested rate on the container clock.
//!
//! Design:
//! - Two sources produce interleaved f32 chunks at the stream's native rate, each stamped with
//!   its start time on the container clock: Symphonia for PCM, FLAC, Vorbis and ALAC in pure
//!   audio containers (WAV, FLAC, Ogg, AIFF, CAF), and FFmpeg for everything else (AAC, MP3,
//!   Opus, AC-3, MP2, PCM in MOV, ...). AAC and MP3 stay on FFmpeg on purpose: Symphonia 0.6's
//!   MP4 reader ignores edit lists, so AAC priming samples would shift the clock by 1024 samples,
//!   and MP3 start offsets follow a different convention than the video decoder's.
//!   [`AudioBackend`] can force either source (tests, comparisons).
//! - [`AudioDecoder`] keeps a bounded buffer of mono (or all channels) samples covering the window
//!   being read plus the resampler's support. Windows that move forward decode forward; a window
//!   before the buffer or far past it seeks (with pre-roll), so long files are never decoded
//!   whole. Gaps in timestamps become silence; overlaps are dropped; deviations under 3 ms are
//!   container rounding (Matroska stores milliseconds) and are ignored. A consequence: after a
//!   seek into a Matroska file, a window can sit up to 0.5 ms off (the rounding of the packet it
//!   resumes from); decoding forward from the start is exact.
//! - Mono is the channel mean. Resampling is the band-limited [`Resampler`] evaluated exactly at
//!   `start + k / rate`, so a window is `round(duration × rate)` samples on the container clock,
//!   zero where the stream has no samples.
//! - Packet loop, EAGAIN/EOF handling, corrupt-packet counting and the per-file deadline follow
//!   the video decoder.
//! - Damage (issue #26) is recorded by time: packets FFmpeg fails on or logs errors about (an
//!   `ffi::ErrorSink` on the codec and format contexts; checksums are verified where codecs
//!   carry them), frames flagged corrupt, packets read right after a demuxer failure, packets
//!   Symphonia rejects, gaps in the timestamps (samples that would be zero-filled), and a
//!   stream that ends more than [`TRUNCATION_SLACK_S`] before the end its container declares
//!   (a truncated file: the missing stretch up to the declared end). A window touching damage
//!   fails with [`MediaError::Damaged`] unless the caller allowed damaged data
//!   ([`AudioDecoder::set_allow_damaged`]). A window past the declared end is not damage: it is
//!   zero padding, reported in [`AudioClip::padded_after`], and is not decoded at all.
//! - Requests are bounded: a window may hold at most [`MAX_WINDOW_SAMPLES`] samples at the
//!   higher of the two rates (all channels), and start no further than [`MAX_TIME_S`] from 0.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg_next as ffmpeg;

use super::container::{self, seconds};
use super::damage::{Damage, DamageKind};
use super::deadline::Deadline;
use super::ffi::{self, Demuxer, ErrorSink};
use super::resampler::Resampler;
use super::{AudioStreamInfo, MediaError};

/// A window further than this past the decoded buffer seeks instead of decoding forward.
const SEEK_AHEAD_S: f64 = 5.0;
/// Decoding starts this long before a seek target so codecs with overlap settle.
const PREROLL_S: f64 = 0.2;
/// Timestamp deviations up to this (seconds) are treated as rounding, not as gaps or overlaps.
const TIMESTAMP_JITTER_S: f64 = 0.003;
/// Consecutive undecodable packets after which decoding gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 64;
/// Longest window one call may ask for, in seconds (bounds memory).
pub const MAX_WINDOW_S: f64 = 3600.0;
/// Most samples one window may need, counted at the higher of the stream's and the output's
/// rate over all kept channels (2^27 f32 samples: 512 MiB): bounds memory whatever the rates.
pub const MAX_WINDOW_SAMPLES: u64 = 1 << 27;
/// Latest window start accepted, in seconds from 0 either way (about 31 years).
pub const MAX_TIME_S: f64 = 1e9;
/// A stream that ends this much before the end its container declares is truncated (smaller
/// differences are the usual rounding of codec frames and of the container's last timestamp).
pub const TRUNCATION_SLACK_S: f64 = 0.1;

/// Options for [`AudioDecoder::open`].
#[derive(Debug, Clone)]
pub struct AudioOptions {
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Mix to mono by channel mean (default) or keep every channel (interleaved).
    pub mono: bool,
    /// Wall-clock budget for all decoding done through this decoder.
    pub deadline: Option<Duration>,
}

impl Default for AudioOptions {
    fn default() -> Self {
        AudioOptions { sample_rate: 16_000, mono: true, deadline: Some(Duration::from_secs(60)) }
    }
}

/// Which library decodes the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioBackend {
    /// Symphonia for the codecs and containers listed in the module docs, FFmpeg otherwise.
    #[default]
    Auto,
    /// Always FFmpeg.
    Ffmpeg,
    /// Symphonia; fails with `Unsupported` where Symphonia cannot decode the file.
    Symphonia,
}

/// A window of decoded audio.
#[derive(Debug, Clone)]
pub struct AudioClip {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels (1 when mixed to mono).
    pub channels: u16,
    /// Start of the window in seconds on the container clock.
    pub start: f64,
    /// Interleaved samples in [-1, 1]; zero where the stream has no samples.
    pub samples: Vec<f32>,
    /// Seconds at the window's start that lie before the stream starts (zero padding).
    pub padded_before: f64,
    /// Seconds at the window's end that lie past the end of the stream's samples (zero
    /// padding: past the declared end, or, when damaged data is allowed, a truncated stretch).
    pub padded_after: f64,
}

/// Where decoded chunks come from.
enum Source {
    Ffmpeg(FfmpegSource),
    Symphonia(SymphoniaSource),
}

impl Source {
    /// Decodes the next chunk into `out` (interleaved, `channels` wide); returns its start time
    /// (`None`: unknown, continue from the previous chunk) or `Ok(false)` at the end.
    fn next_chunk(
        &mut self,
        out: &mut Vec<f32>,
        channels: usize,
        time: &mut Option<f64>,
    ) -> Result<bool, MediaError> {
        match self {
            Source::Ffmpeg(s) => s.next_chunk(out, channels, time),
            Source::Symphonia(s) => {
                // Symphonia is pure Rust but has panicked on malformed streams before; a panic
                // must not take down a pipeline worker, so it becomes a typed error.
                let path = s.path.clone();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    s.next_chunk(out, channels, time)
                }))
                .unwrap_or_else(|_| {
                    Err(MediaError::Corrupt {
                        path,
                        at_seconds: time.unwrap_or(0.0),
                        reason: "the Symphonia decoder panicked on this stream".into(),
                    })
                })
            }
        }
    }

    /// Seeks to a position at or before `t` (seconds).
    fn seek(&mut self, t: f64) -> Result<(), MediaError> {
        match self {
            Source::Ffmpeg(s) => s.seek(t),
            Source::Symphonia(s) => s.seek(t),
        }
    }

    fn corrupt(&self) -> u64 {
        match self {
            Source::Ffmpeg(s) => s.corrupt,
            Source::Symphonia(s) => s.corrupt,
        }
    }

    fn damage(&self) -> &Damage {
        match self {
            Source::Ffmpeg(s) => &s.damage,
            Source::Symphonia(s) => &s.damage,
        }
    }
}

/// An audio decoder owned by one thread.
pub struct AudioDecoder {
    path: PathBuf,
    info: AudioStreamInfo,
    options: AudioOptions,
    source: Source,
    backend: AudioBackend,
    resampler: Resampler,
    /// Channels kept in `buf` (1 when mixing to mono).
    channels: usize,
    /// Decoded samples at the native rate, interleaved `channels` wide; `buf[0]` is at `buf_t0`.
    buf: Vec<f32>,
    buf_t0: f64,
    /// Whether `buf` continues exactly from the current decoder position.
    positioned: bool,
    exhausted: bool,
    seeks: u64,
    chunk: Vec<f32>,
    scratch: Vec<f32>,
    resampled: Vec<f32>,
    /// Return damaged windows instead of failing with [`MediaError::Damaged`].
    allow_damaged: bool,
    /// Gaps and truncation found here (the source keeps its own decode damage).
    damage: Damage,
    /// Where the stream's samples end, once decoding has reached the end.
    stream_end: Option<f64>,
    /// Chunks (decoder frames) decoded so far.
    chunks: u64,
}

impl AudioDecoder {
    /// Opens the best audio stream of `path`.
    pub fn open(path: &Path, options: &AudioOptions) -> Result<Self, MediaError> {
        Self::open_with_backend(path, options, AudioBackend::Auto)
    }

    /// Opens the best audio stream of `path` with a chosen backend.
    pub fn open_with_backend(
        path: &Path,
        options: &AudioOptions,
        backend: AudioBackend,
    ) -> Result<Self, MediaError> {
        if options.sample_rate == 0 || options.sample_rate > 768_000 {
            return Err(MediaError::InvalidStream {
                path: path.to_path_buf(),
                reason: format!("output sample rate {} Hz is out of range", options.sample_rate),
            });
        }
        let deadline = Deadline::after(options.deadline);
        let demuxer = container::open_audio(path, &deadline)?;
        let info = super::probe::audio_info(&demuxer.input)
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), kind: "audio" })?;
        if info.sample_rate == 0 || info.sample_rate > 768_000 || info.channels == 0 {
            return Err(MediaError::InvalidStream {
                path: path.to_path_buf(),
                reason: format!(
                    "audio stream has {} Hz and {} channels",
                    info.sample_rate, info.channels
                ),
            });
        }
        let container_name = demuxer.input.format().name().to_string();
        let symphonia_ok = symphonia_handles(&container_name, &info.codec);
        let (source, used) = match backend {
            AudioBackend::Ffmpeg => {
                (Source::Ffmpeg(FfmpegSource::new(path, demuxer, &info, deadline)?), backend)
            }
            AudioBackend::Symphonia => {
                drop(demuxer);
                (Source::Symphonia(SymphoniaSource::open(path, &info, deadline)?), backend)
            }
            AudioBackend::Auto if symphonia_ok => {
                match SymphoniaSource::open(path, &info, deadline) {
                    Ok(s) => (Source::Symphonia(s), AudioBackend::Symphonia),
                    Err(_) => (
                        Source::Ffmpeg(FfmpegSource::new(path, demuxer, &info, deadline)?),
                        AudioBackend::Ffmpeg,
                    ),
                }
            }
            AudioBackend::Auto => (
                Source::Ffmpeg(FfmpegSource::new(path, demuxer, &info, deadline)?),
                AudioBackend::Ffmpeg,
            ),
        };
        let channels = if options.mono { 1 } else { usize::from(info.channels) };
        Ok(AudioDecoder {
            path: path.to_path_buf(),
            resampler: Resampler::new(info.sample_rate, options.sample_rate),
            info,
            options: options.clone(),
            source,
            backend: used,
            channels,
            buf: Vec::new(),
            buf_t0: 0.0,
            positioned: true,
            exhausted: false,
            seeks: 0,
            chunk: Vec::new(),
            scratch: Vec::new(),
            resampled: Vec::new(),
            allow_damaged: false,
            damage: Damage::new(),
            stream_end: None,
            chunks: 0,
        })
    }

    /// Chunks (decoder frames, or Symphonia packets) decoded so far.
    pub(crate) fn chunks_decoded(&self) -> u64 {
        self.chunks
    }

    /// Returns damaged windows (zero-filled gaps, noise where FFmpeg concealed errors) instead
    /// of failing with [`MediaError::Damaged`]; the damage stays listed in [`Self::damage`].
    pub fn set_allow_damaged(&mut self, allow: bool) {
        self.allow_damaged = allow;
    }

    /// Every damage seen so far (decode errors, gaps, truncation), by time.
    pub fn damage(&self) -> Damage {
        let mut all = self.source.damage().clone();
        all.extend(&self.damage);
        all
    }

    /// The stream's time range on the container clock: its start and, when known, the end it
    /// declares (its own duration, else Matroska's tag or the container's end).
    pub fn time_range(&self) -> (f64, Option<f64>) {
        (self.info.start_time, self.duration())
    }

    /// Stream parameters (of the source stream, before resampling).
    pub fn info(&self) -> &AudioStreamInfo {
        &self.info
    }

    /// The backend actually decoding (never `Auto`).
    pub fn backend(&self) -> AudioBackend {
        self.backend
    }

    /// Packets that failed to decode and were skipped.
    pub fn corrupt_packets(&self) -> u64 {
        self.source.corrupt()
    }

    /// Starts the deadline budget again from now (for long-lived decoders that serve many
    /// windows, e.g. one per clip of a long file).
    pub fn restart_deadline(&mut self) {
        match &mut self.source {
            Source::Ffmpeg(s) => {
                s.deadline = s.deadline.restarted();
                s.demuxer.set_deadline(s.deadline.instant());
            }
            Source::Symphonia(s) => s.deadline = s.deadline.restarted(),
        }
    }

    /// Seeks performed so far (windows read in increasing order never seek).
    pub fn seeks(&self) -> u64 {
        self.seeks
    }

    /// The claimed end of the stream on the container clock, in seconds, when known.
    pub fn duration(&self) -> Option<f64> {
        self.info.duration.map(|d| self.info.start_time + d)
    }

    /// Samples in `[start, start + duration)` seconds on the container clock, at the output rate:
    /// exactly `round(duration * rate)` frames, zero-padded where the stream has none.
    pub fn read(&mut self, start: f64, duration: f64) -> Result<AudioClip, MediaError> {
        let bad = |reason: String| MediaError::Request { path: self.path.clone(), reason };
        if !(start.is_finite() && start.abs() <= MAX_TIME_S) {
            return Err(bad(format!(
                "window start {start}s is not a time within {MAX_TIME_S:e}s of 0"
            )));
        }
        if !(duration.is_finite() && (0.0..=MAX_WINDOW_S).contains(&duration)) {
            return Err(bad(format!(
                "window length {duration}s is not between 0 and {MAX_WINDOW_S}s"
            )));
        }
        let rate = f64::from(self.options.sample_rate);
        let in_rate = f64::from(self.info.sample_rate);
        let ch = self.channels;
        let worst = (duration * rate.max(in_rate)).ceil() * ch as f64;
        if worst > MAX_WINDOW_SAMPLES as f64 {
            return Err(bad(format!(
                "a {duration}s window at {} Hz ({} Hz in the file) x {ch} channel(s) needs {worst} \
                 samples, over the limit of {MAX_WINDOW_SAMPLES} (512 MiB); ask for a shorter \
                 window, a lower rate, or mono",
                self.options.sample_rate, self.info.sample_rate
            )));
        }
        let n = (duration * rate).round() as usize;
        let end = start + n as f64 / rate;
        let padded_before = (self.info.start_time - start).clamp(0.0, duration);
        if self.duration().is_some_and(|e| start >= e + SEEK_AHEAD_S) {
            // Far past the declared end: nothing to decode, the whole window is padding.
            let samples = vec![0.0f32; n * ch];
            let padded_after = duration - padded_before;
            let sample_rate = self.options.sample_rate;
            return Ok(AudioClip {
                sample_rate,
                channels: ch as u16,
                start,
                samples,
                padded_before,
                padded_after,
            });
        }
        let support = self.resampler.support_seconds();
        let need_from = start - support;
        let need_to = end + support;
        self.fill(need_from, need_to)?;
        if !self.allow_damaged {
            let near = self.damage().touching(need_from, need_to);
            if !near.is_empty() {
                return Err(MediaError::Damaged {
                    path: self.path.clone(),
                    stream: "audio",
                    start,
                    end,
                    damage: near,
                });
            }
        }
        let padded_after =
            self.stream_end.map_or(0.0, |e| (end - e.max(start)).clamp(0.0, duration));

        let mut samples = vec![0.0f32; n * ch];
        for c in 0..ch {
            let channel: &[f32] = if ch == 1 {
                &self.buf
            } else {
                self.scratch.clear();
                self.scratch.extend(self.buf.iter().skip(c).step_by(ch));
                &self.scratch
            };
            self.resampler.resample(channel, self.buf_t0, start, n, &mut self.resampled);
            for (k, v) in self.resampled.iter().enumerate() {
                samples[k * ch + c] = v.clamp(-1.0, 1.0);
            }
        }
        // Keep only what a following window may still need: bounded memory on long files.
        let keep_from = ((need_from - self.buf_t0) * in_rate).floor();
        if keep_from > 0.0 {
            let drop_frames = (keep_from as usize).min(self.buf.len() / ch);
            self.buf.drain(..drop_frames * ch);
            self.buf_t0 += drop_frames as f64 / in_rate;
        }
        Ok(AudioClip {
            sample_rate: self.options.sample_rate,
            channels: ch as u16,
            start,
            samples,
            padded_before,
            padded_after,
        })
    }

    /// End time of the buffered samples.
    fn buf_end(&self) -> f64 {
        self.buf_t0 + (self.buf.len() / self.channels) as f64 / f64::from(self.info.sample_rate)
    }

    /// Makes `buf` cover `[from, to)` as far as the stream has samples.
    fn fill(&mut self, from: f64, to: f64) -> Result<(), MediaError> {
        let in_rate = f64::from(self.info.sample_rate);
        let tolerance = 1.5 / in_rate;
        let have_start = !self.buf.is_empty() || !self.positioned;
        let before_buffer = have_start && from < self.buf_t0 - tolerance;
        let stream_start = self.info.start_time;
        let fresh = self.buf.is_empty() && self.positioned && !self.exhausted;
        let far_ahead = from > self.buf_end() + SEEK_AHEAD_S;
        let at_file_start = fresh && from <= stream_start + SEEK_AHEAD_S;
        if !at_file_start && (before_buffer || far_ahead || (self.buf.is_empty() && !fresh)) {
            // Do not seek back when the buffer already starts at the stream's first sample.
            let already_at_start = !self.buf.is_empty() && self.buf_t0 <= stream_start + tolerance;
            if !(before_buffer && already_at_start && !far_ahead) {
                self.seek_to(from)?;
            }
        }
        while !self.exhausted && self.buf_end() < to {
            self.decode_chunk()?;
            // Decoding forward to a far window (a seek that fell back to the start): drop what
            // lies before it as we go, so memory stays bounded.
            let frames = self.buf.len() / self.channels;
            let before = ((from - self.buf_t0) * in_rate).floor();
            if frames > 1 << 20 && before > 0.0 {
                let drop = (before as usize).min(frames.saturating_sub(1));
                self.buf.drain(..drop * self.channels);
                self.buf_t0 += drop as f64 / in_rate;
            }
        }
        if self.exhausted {
            self.reached_end();
        }
        Ok(())
    }

    /// Decoding reached the end of the stream: remember where the samples end, and record the
    /// stretch up to the declared end as truncation when it is more than rounding.
    fn reached_end(&mut self) {
        let end = if self.buf.is_empty() {
            self.stream_end.unwrap_or(self.info.start_time).max(self.buf_t0)
        } else {
            self.buf_end()
        };
        if self.stream_end.is_some_and(|e| e >= end) {
            return;
        }
        self.stream_end = Some(end);
        if let Some(declared) = self.duration().filter(|d| end < d - TRUNCATION_SLACK_S) {
            self.damage.add("audio", DamageKind::Truncated, (end, declared), 0.0, || {
                format!("the samples end at {end:.3}s, the container declares {declared:.3}s")
            });
        }
    }

    /// Decodes the whole stream (keeping only a sample of buffer), recording its damage;
    /// returns the time of the first sample and the end of the last, or `None` without any.
    pub(crate) fn decode_all(&mut self) -> Result<Option<(f64, f64)>, MediaError> {
        self.seek_to(f64::NEG_INFINITY)?;
        let mut first = None;
        let in_rate = f64::from(self.info.sample_rate);
        while !self.exhausted {
            if first.is_none() && !self.buf.is_empty() {
                first = Some(self.buf_t0);
            }
            // Keep one sample frame so the next chunk's gap is measured from it.
            let frames = self.buf.len() / self.channels;
            if frames > 1 << 16 {
                let drop = frames - 1;
                self.buf.drain(..drop * self.channels);
                self.buf_t0 += drop as f64 / in_rate;
            }
            self.decode_chunk()?;
        }
        self.reached_end();
        Ok(first.map(|f| (f, self.buf_end())))
    }

    fn seek_to(&mut self, from: f64) -> Result<(), MediaError> {
        let stream_start = self.info.start_time;
        for back in [PREROLL_S, 1.0, 4.0, 16.0, f64::INFINITY] {
            let target = from - back;
            let target = if target <= stream_start { f64::NEG_INFINITY } else { target };
            self.source.seek(target)?;
            self.seeks += 1;
            self.buf.clear();
            self.positioned = false;
            self.exhausted = false;
            // Decode one chunk to see where we landed: past `from` (MPEG-TS seeks to the next
            // sync point) or at the very end with nothing left means going further back.
            self.decode_chunk()?;
            let landed_ok = !self.buf.is_empty() && self.buf_t0 <= from;
            if landed_ok || target == f64::NEG_INFINITY {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Decodes one chunk and appends it (mixed) to `buf` at its timestamp.
    fn decode_chunk(&mut self) -> Result<(), MediaError> {
        let src_ch = usize::from(self.info.channels);
        let mut time = None;
        let mut chunk = std::mem::take(&mut self.chunk);
        let more = self.source.next_chunk(&mut chunk, src_ch, &mut time);
        let more = match more {
            Ok(m) => m,
            Err(e) => {
                self.chunk = chunk;
                return Err(e);
            }
        };
        if !more {
            self.exhausted = true;
            self.chunk = chunk;
            return Ok(());
        }
        self.chunks += 1;
        let in_rate = f64::from(self.info.sample_rate);
        let frames = chunk.len() / src_ch;
        let t = match (time, self.buf.is_empty() && !self.positioned) {
            (Some(t), _) => t,
            (None, true) => self.info.start_time,
            (None, false) => self.buf_end(),
        };
        if self.buf.is_empty() {
            self.buf_t0 = t;
            self.positioned = true;
        }
        let expected_frame = ((t - self.buf_t0) * in_rate).round() as i64;
        // Containers round timestamps (Matroska: 1 ms), so small deviations are jitter, not gaps.
        let jitter = ((TIMESTAMP_JITTER_S * in_rate).ceil() as i64).max(1);
        let have = (self.buf.len() / self.channels) as i64;
        let mut skip = 0usize;
        if expected_frame > have + jitter {
            // A gap in the timestamps: silence, and missing samples.
            let gap = (expected_frame - have) as usize;
            let from = self.buf_end();
            self.buf.resize(self.buf.len() + gap * self.channels, 0.0);
            let to = self.buf_end();
            // The chunk after the gap overlaps the lost one (transform codecs): spoiled too.
            let spoiled = to + frames as f64 / in_rate;
            self.damage.add("audio", DamageKind::MissingSamples, (from, spoiled), 1e-3, || {
                format!("{:.1} ms without samples", (to - from) * 1e3)
            });
        } else if expected_frame < have - jitter {
            // Overlap: keep what we have.
            skip = ((have - expected_frame) as usize).min(frames);
        }
        let kept = &chunk[skip * src_ch..frames * src_ch];
        if self.channels == 1 && src_ch > 1 {
            self.buf
                .extend(kept.chunks_exact(src_ch).map(|s| s.iter().sum::<f32>() / src_ch as f32));
        } else {
            // Mono from mono (x / 1 is x) or every channel kept: the samples as they are.
            self.buf.extend_from_slice(kept);
        }
        self.chunk = chunk;
        Ok(())
    }
}

/// Whether the automatic backend choice sends this container/codec to Symphonia.
fn symphonia_handles(container: &str, codec: &str) -> bool {
    let pure_audio = ["wav", "flac", "ogg", "aiff", "caf", "w64"]
        .iter()
        .any(|c| container.split(',').any(|name| name == *c));
    let codec_ok = codec.starts_with("pcm_") || matches!(codec, "flac" | "vorbis" | "alac");
    pure_audio && codec_ok
}

/// Appends `frames` of interleaved f32 converted from an FFmpeg audio frame of any sample format.
fn append_ffmpeg_samples(frame: &ffmpeg::frame::Audio, channels: usize, out: &mut Vec<f32>) {
    use ffmpeg::format::Sample as S;
    let n = frame.samples();
    let frame_ch = usize::from(frame.channels()).max(1);
    let planar = frame.format().is_planar();
    let base = out.len();
    out.resize(base + n * channels, 0.0);
    let bytes = frame.format().bytes();
    let read = |plane: &[u8], i: usize| -> f32 {
        let b = &plane[i * bytes..(i + 1) * bytes];
        match frame.format() {
            S::U8(_) => (f32::from(b[0]) - 128.0) / 128.0,
            S::I16(_) => f32::from(i16::from_ne_bytes([b[0], b[1]])) / 32768.0,
            S::I32(_) => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
            S::I64(_) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (i64::from_ne_bytes(a) as f64 / 9_223_372_036_854_775_808.0) as f32
            }
            S::F32(_) => f32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            S::F64(_) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_ne_bytes(a) as f32
            }
            S::None => 0.0,
        }
    };
    // Channel c: its plane, the step between its samples and its first sample's index.
    let channel = |c: usize| {
        if planar {
            (ffi::audio_plane(frame, c), 1, 0)
        } else {
            (ffi::audio_plane(frame, 0), frame_ch, c)
        }
    };
    if matches!(frame.format(), S::F32(_)) {
        // The common case (AAC, Opus, Vorbis decode to f32): plain copies, no per-sample match.
        for c in 0..channels.min(frame_ch) {
            let (plane, stride, offset) = channel(c);
            let values = plane.chunks_exact(4).skip(offset).step_by(stride).take(n);
            let dst = out[base + c..].iter_mut().step_by(channels);
            for (o, b) in dst.zip(values) {
                *o = f32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        return;
    }
    for c in 0..channels.min(frame_ch) {
        let (plane, stride, offset) = channel(c);
        for i in 0..n {
            let idx = i * stride + offset;
            if (idx + 1) * bytes <= plane.len() {
                out[base + i * channels + c] = read(plane, idx);
            }
        }
    }
}

/// FFmpeg demuxer + decoder producing chunks.
struct FfmpegSource {
    path: PathBuf,
    codec: String,
    decoder: ffmpeg::decoder::Audio,
    demuxer: Demuxer,
    stream_index: usize,
    time_base: ffmpeg::Rational,
    deadline: Deadline,
    packet: ffmpeg::Packet,
    frame: ffmpeg::frame::Audio,
    eof_sent: bool,
    done: bool,
    corrupt: u64,
    consecutive_errors: u32,
    /// Damage found by time.
    damage: Damage,
    /// `[start, end)` of the last packet sent (seconds), to place errors seen later.
    last_packet: Option<(f64, f64)>,
    /// The demuxer failed (or logged an error) since the last packet of our stream was read.
    read_failed: bool,
    /// Counts FFmpeg's error messages about our contexts. Declared last: dropped after them.
    sink: ErrorSink,
}

impl FfmpegSource {
    fn new(
        path: &Path,
        mut demuxer: Demuxer,
        info: &AudioStreamInfo,
        deadline: Deadline,
    ) -> Result<Self, MediaError> {
        let sink = ErrorSink::new();
        sink.attach_input(&mut demuxer.input);
        let stream = demuxer
            .input
            .stream(info.index)
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), kind: "audio" })?;
        let time_base = stream.time_base();
        let decoder = Self::open_decoder(path, &stream, &info.codec, &sink)?;
        Ok(FfmpegSource {
            path: path.to_path_buf(),
            decoder,
            demuxer,
            stream_index: info.index,
            codec: info.codec.clone(),
            time_base,
            deadline,
            packet: ffmpeg::Packet::empty(),
            frame: ffmpeg::frame::Audio::empty(),
            eof_sent: false,
            done: false,
            corrupt: 0,
            consecutive_errors: 0,
            damage: Damage::new(),
            last_packet: None,
            read_failed: false,
            sink,
        })
    }

    /// A fresh decoder for `stream`, reporting to `sink`, with checksum checks on.
    fn open_decoder(
        path: &Path,
        stream: &ffmpeg::format::stream::Stream,
        codec: &str,
        sink: &ErrorSink,
    ) -> Result<ffmpeg::decoder::Audio, MediaError> {
        let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| MediaError::ffmpeg(path, "codec parameters", e))?;
        sink.attach_codec(&mut ctx);
        ffi::enable_crc_checks(&mut ctx);
        let mut decoder = ctx.decoder();
        decoder.set_packet_time_base(stream.time_base());
        decoder.audio().map_err(|e| match e {
            ffmpeg::Error::DecoderNotFound => MediaError::Unsupported {
                path: path.to_path_buf(),
                what: format!("audio codec {codec}"),
            },
            e => MediaError::ffmpeg(path, "open audio decoder", e),
        })
    }

    fn seek(&mut self, t: f64) -> Result<(), MediaError> {
        self.deadline.check(&self.path)?;
        let res = if t.is_finite() {
            let ts = (t * 1e6) as i64;
            self.demuxer.input.seek(ts, ..ts)
        } else {
            self.demuxer.input.seek(i64::MIN, ..)
        };
        if let Err(e) = res {
            if self.deadline.expired() {
                return Err(self.deadline.error(&self.path));
            }
            // Try the start of the file before giving up.
            self.demuxer
                .input
                .seek(i64::MIN, ..)
                .map_err(|_| MediaError::ffmpeg(&self.path, "seek", e))?;
        }
        if t.is_finite() {
            self.decoder.flush();
        } else {
            // Back at the start: a fresh decoder, so start-of-stream state (Opus pre-skip, AAC
            // priming removal) applies again exactly as on the first pass; a flushed decoder
            // would not re-apply it.
            let stream =
                self.demuxer.input.stream(self.stream_index).ok_or_else(|| {
                    MediaError::NoStream { path: self.path.clone(), kind: "audio" }
                })?;
            self.decoder = Self::open_decoder(&self.path, &stream, &self.codec, &self.sink)?;
        }
        self.eof_sent = false;
        self.done = false;
        self.last_packet = None;
        self.read_failed = false;
        Ok(())
    }

    /// Records the packet `[start, end)` as damaged, with FFmpeg's last message. The next
    /// packet's duration counts too: transform codecs (AAC, AC-3, Opus, Vorbis) overlap each
    /// frame with the next, so a lost or garbled frame spoils the start of the following one.
    fn damaged(&mut self, kind: DamageKind, (start, end): (f64, f64)) {
        let sink = &self.sink;
        let end = end + (end - start).max(0.0);
        self.damage.add("audio", kind, (start, end), 1e-3, || sink.last_message());
    }

    fn note_error(&mut self) -> Result<(), MediaError> {
        self.consecutive_errors += 1;
        if self.consecutive_errors > MAX_CONSECUTIVE_ERRORS {
            return Err(MediaError::Corrupt {
                path: self.path.clone(),
                at_seconds: 0.0,
                reason: format!("{MAX_CONSECUTIVE_ERRORS} consecutive undecodable audio packets"),
            });
        }
        Ok(())
    }

    fn next_chunk(
        &mut self,
        out: &mut Vec<f32>,
        channels: usize,
        time: &mut Option<f64>,
    ) -> Result<bool, MediaError> {
        out.clear();
        if self.done {
            return Ok(false);
        }
        loop {
            self.deadline.check(&self.path)?;
            let errors = self.sink.errors();
            let received = {
                let _guard = self.sink.enter();
                self.decoder.receive_frame(&mut self.frame)
            };
            if self.sink.errors() > errors {
                if let Some(range) = self.last_packet {
                    self.damaged(DamageKind::DecodeError, range);
                }
            }
            match received {
                Ok(()) => {
                    self.consecutive_errors = 0;
                    *time = self.frame.timestamp().and_then(|ts| seconds(ts, self.time_base));
                    if ffi::frame_damage(&self.frame) {
                        let rate = f64::from(self.frame.rate().max(1));
                        let from = time.or(self.last_packet.map(|p| p.0));
                        if let Some(t) = from {
                            let end = t + self.frame.samples() as f64 / rate;
                            self.damaged(DamageKind::Concealed, (t, end));
                        }
                    }
                    append_ffmpeg_samples(&self.frame, channels, out);
                    return Ok(true);
                }
                Err(ffmpeg::Error::Eof) => {
                    self.done = true;
                    return Ok(false);
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::ffi::EAGAIN => {
                    if self.eof_sent {
                        self.done = true;
                        return Ok(false);
                    }
                }
                Err(_) => {
                    self.corrupt += 1;
                    if let Some(range) = self.last_packet {
                        self.damaged(DamageKind::DecodeError, range);
                    }
                    self.note_error()?;
                    if self.eof_sent {
                        continue;
                    }
                }
            }
            // Feed one packet of our stream (or EOF).
            loop {
                self.deadline.check(&self.path)?;
                let errors = self.sink.errors();
                let read = {
                    let _guard = self.sink.enter();
                    container::read_packet(&mut self.demuxer.input, &mut self.packet)
                };
                let read_failed = match &read {
                    Ok(()) | Err(ffmpeg::Error::Eof) => false,
                    Err(_) => !self.deadline.expired(),
                };
                if read_failed || self.sink.errors() > errors {
                    self.read_failed = true;
                }
                match read {
                    Ok(()) => {
                        if self.packet.stream() != self.stream_index {
                            continue;
                        }
                        let tb = self.time_base;
                        let start =
                            self.packet.pts().or(self.packet.dts()).and_then(|t| seconds(t, tb));
                        let range = start.map(|s| {
                            let d = seconds(self.packet.duration(), tb).unwrap_or(0.0).max(0.0);
                            (s, s + d)
                        });
                        let range = range.or_else(|| self.last_packet.map(|p| (p.1, p.1)));
                        self.last_packet = range;
                        if std::mem::take(&mut self.read_failed) {
                            if let Some(r) = range {
                                self.damaged(DamageKind::ReadError, r);
                            }
                        }
                        let errors = self.sink.errors();
                        let sent = {
                            let _guard = self.sink.enter();
                            self.decoder.send_packet(&self.packet)
                        };
                        let failed = sent.is_err();
                        if failed || self.sink.errors() > errors {
                            if let Some(r) = range {
                                self.damaged(DamageKind::DecodeError, r);
                            }
                        }
                        if failed {
                            self.corrupt += 1;
                            self.note_error()?;
                        }
                        break;
                    }
                    Err(ffmpeg::Error::Eof) => {
                        self.eof_sent = true;
                        let _ = self.decoder.send_eof();
                        break;
                    }
                    Err(_) => {
                        if self.deadline.expired() {
                            return Err(self.deadline.error(&self.path));
                        }
                        if self.note_error().is_err() {
                            self.eof_sent = true;
                            let _ = self.decoder.send_eof();
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Symphonia format reader + decoder producing chunks.
struct SymphoniaSource {
    path: PathBuf,
    format: Box<dyn symphonia::core::formats::FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    track_id: u32,
    time_base: Option<symphonia::core::units::TimeBase>,
    /// Offset added to Symphonia's track-relative times to reach the container clock.
    clock_offset: f64,
    deadline: Deadline,
    corrupt: u64,
    consecutive_errors: u32,
    interleaved: Vec<f32>,
    /// Damage found by time.
    damage: Damage,
    /// End of the last packet read (seconds), to place errors without a time of their own.
    last_end: Option<f64>,
}

impl SymphoniaSource {
    fn open(path: &Path, info: &AudioStreamInfo, deadline: Deadline) -> Result<Self, MediaError> {
        use symphonia::core::formats::probe::Hint;
        use symphonia::core::formats::{FormatOptions, TrackType};
        use symphonia::core::io::MediaSourceStream;
        let unsupported = |what: String| MediaError::Unsupported { path: path.to_path_buf(), what };
        let file = std::fs::File::open(path)
            .map_err(|source| MediaError::Io { path: path.to_path_buf(), source })?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(&hint, mss, FormatOptions::default(), Default::default())
            .map_err(|e| unsupported(format!("container for Symphonia: {e}")))?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), kind: "audio" })?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| unsupported("audio codec parameters for Symphonia".into()))?;
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &Default::default())
            .map_err(|e| unsupported(format!("audio codec {} for Symphonia: {e}", info.codec)))?;
        if params.sample_rate.is_some_and(|r| r != info.sample_rate) {
            return Err(unsupported(
                "sample rate disagreement between Symphonia and FFmpeg".into(),
            ));
        }
        let track_id = track.id;
        let time_base = track.time_base;
        Ok(SymphoniaSource {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            time_base,
            clock_offset: info.start_time,
            deadline,
            corrupt: 0,
            consecutive_errors: 0,
            interleaved: Vec::new(),
            damage: Damage::new(),
            last_end: None,
        })
    }

    fn seek(&mut self, t: f64) -> Result<(), MediaError> {
        use symphonia::core::formats::{SeekMode, SeekTo};
        use symphonia::core::units::Time;
        self.deadline.check(&self.path)?;
        let rel = if t.is_finite() { (t - self.clock_offset).max(0.0) } else { 0.0 };
        let time = Time::try_from_secs_f64(rel).unwrap_or_default();
        self.format
            .seek(SeekMode::Accurate, SeekTo::Time { time, track_id: Some(self.track_id) })
            .map_err(|e| MediaError::Corrupt {
                path: self.path.clone(),
                at_seconds: rel,
                reason: format!("Symphonia seek failed: {e}"),
            })?;
        self.decoder.reset();
        Ok(())
    }

    fn next_chunk(
        &mut self,
        out: &mut Vec<f32>,
        channels: usize,
        time: &mut Option<f64>,
    ) -> Result<bool, MediaError> {
        use symphonia::core::errors::Error as SErr;
        out.clear();
        loop {
            self.deadline.check(&self.path)?;
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(SErr::ResetRequired) => {
                    self.decoder.reset();
                    continue;
                }
                Err(SErr::IoError(_)) => return Ok(false),
                Err(e) => {
                    self.corrupt += 1;
                    self.consecutive_errors += 1;
                    if let Some(t) = self.last_end {
                        self.damage.add("audio", DamageKind::ReadError, (t, t), 1e-3, || {
                            format!("Symphonia: {e}")
                        });
                    }
                    if self.consecutive_errors > MAX_CONSECUTIVE_ERRORS {
                        return Err(MediaError::Corrupt {
                            path: self.path.clone(),
                            at_seconds: 0.0,
                            reason: format!("Symphonia: {e}"),
                        });
                    }
                    continue;
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let pts = self
                .time_base
                .and_then(|tb| tb.calc_time(packet.pts))
                .map(|t| t.as_secs_f64() + self.clock_offset);
            let end = self
                .time_base
                .and_then(|tb| tb.calc_time(packet.pts.saturating_add(packet.dur)))
                .map(|t| t.as_secs_f64() + self.clock_offset);
            if end.is_some() {
                self.last_end = end;
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    self.consecutive_errors = 0;
                    let ch = buf.spec().channels().count().max(1);
                    buf.copy_to_vec_interleaved(&mut self.interleaved);
                    let frames = self.interleaved.len() / ch;
                    out.resize(frames * channels, 0.0);
                    for f in 0..frames {
                        for c in 0..channels.min(ch) {
                            out[f * channels + c] = self.interleaved[f * ch + c];
                        }
                    }
                    *time = pts;
                    if frames == 0 {
                        continue;
                    }
                    return Ok(true);
                }
                Err(e @ (SErr::DecodeError(_) | SErr::IoError(_))) => {
                    self.corrupt += 1;
                    self.consecutive_errors += 1;
                    if let (Some(a), Some(b)) = (pts, end) {
                        self.damage.add("audio", DamageKind::DecodeError, (a, b), 1e-3, || {
                            format!("Symphonia: {e}")
                        });
                    }
                    if self.consecutive_errors > MAX_CONSECUTIVE_ERRORS {
                        return Err(MediaError::Corrupt {
                            path: self.path.clone(),
                            at_seconds: pts.unwrap_or(0.0),
                            reason: "too many undecodable packets (Symphonia)".into(),
                        });
                    }
                }
                Err(SErr::ResetRequired) => self.decoder.reset(),
                Err(e) => {
                    return Err(MediaError::Corrupt {
                        path: self.path.clone(),
                        at_seconds: pts.unwrap_or(0.0),
                        reason: format!("Symphonia: {e}"),
                    })
                }
            }
        }
    }
}
