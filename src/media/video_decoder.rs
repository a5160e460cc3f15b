//! Video decoding to RGB frames at requested times.
//!
//! Design:
//! - One [`VideoDecoder`] owns its demuxer, decoder and scaler and is used on one thread (FFmpeg
//!   contexts and `SwsContext` are not `Send`-safe); only [`RgbFrame`]s leave it.
//! - Our own packet loop (`Packet::read`, never `packets()`): `send_packet`, then
//!   `receive_frame` until EAGAIN; at end of file `send_eof` and drain. Corrupt packets are
//!   skipped and counted ([`VideoDecoder::corrupt_packets`]); a long run of them is an error.
//! - Damage (issue #26): a packet is damaged when sending it fails, when FFmpeg logs an error
//!   while decoding it (counted by an `ffi::ErrorSink` attached to the codec and format
//!   contexts: concealed slices are only logged), when a frame comes out flagged corrupt or
//!   with `decode_error_flags`, or when the demuxer failed just before reading it. Damage
//!   spreads to every packet sent after it until the next keyframe packet, and to that
//!   keyframe's leading pictures (displayed before it), since they may be predicted from it.
//!   Errors in packets before the first keyframe after a seek, or displayed before it, are seek
//!   artefacts (missing references of an open GOP) and do not count. A requested frame fails
//!   with [`MediaError::Damaged`] when a damaged packet is displayed between the frame returned
//!   and the time asked (the frame shown, or one that should have replaced it), unless the
//!   caller allowed damaged data ([`VideoDecoder::set_allow_damaged`]); every damage seen is
//!   kept in [`VideoDecoder::damage`]. Checksums are verified where codecs carry them.
//! - Time is `best_effort_timestamp × time_base`. The frame "at t" is the one displayed at t: the
//!   last frame with `pts <= t`. The decoder keeps that frame and one frame of look-ahead, so
//!   increasing times decode forward without seeking. A time before the current frame seeks
//!   (AV_TIME_BASE µs, keyframe at or before t), flushes, and decodes forward discarding frames;
//!   if a seek lands past t it retries further back. A later time seeks only when the
//!   demuxer's keyframe index has a keyframe at or before t and more than [`MIN_SEEK_GAIN_S`]
//!   after the current frame (that seek skips decoding the frames in between; smaller steps
//!   always decode forward); without a usable index, when t is more than [`SEEK_AHEAD_S`] ahead.
//! - While decoding towards t, a packet is decoded with `skip_frame = NONREF` when a packet
//!   already sent since the last seek has a pts after its own and still at or before t (or, for
//!   a packet displayed after t, at or before the next time of the same `frames_at` call): a
//!   frame displayed later but still before that time exists, so this one cannot be the frame
//!   asked for, and when nothing references it (B-frames) the decoder drops it unseen. Reference
//!   frames are always decoded, so later frames stay exact.
//! - Early drain: when a request of one `frames_at` call is followed by one that will seek
//!   anyway (or is the last), the decoder is not fed past the frame asked for. Packets are read
//!   ahead, undecoded, until more than [`MAX_REORDER`] of them are displayed after t; the last
//!   pts at or before t then names the frame displayed at t, every non-reference packet displayed
//!   before it is skipped, and once its packet is sent the decoder is drained instead of being
//!   fed the reference frames that would otherwise be decoded only to push it out of the
//!   reorder buffer (then thrown away by the next seek's flush). A drained decoder seeks on its
//!   next request; if a frame's timestamp does not match its packet's, the request is redone
//!   the ordinary way.
//! - Frames go through swscale (bilinear; source matrix and range from each frame, as the CLI's
//!   `scale` filter does) to RGB24 at the planned size in the coded orientation, then are
//!   rotated by the display matrix (see `transform`). A centre crop is cut from the source
//!   before scaling (a view on the decoder's buffers), so only kept pixels are scaled. The
//!   scaler and its output frame are reused and rebuilt when the input size or format changes.
//! - A per-file deadline is checked in every loop and handed to FFmpeg's interrupt callback.
//! - A container claiming more than it holds ends cleanly: asking past the real end gives
//!   [`MediaError::Truncated`] (or `OutOfRange` past the claimed end), never a hang.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;

use super::container::{self, seconds};
use super::damage::{Damage, DamageKind};
use super::deadline::Deadline;
use super::ffi::{self, Demuxer, ErrorSink};
use super::transform::{self, Plan};
use super::{MediaError, VideoStreamInfo};

/// A request more than this many seconds past the current frame seeks instead of decoding
/// forward.
pub const SEEK_AHEAD_S: f64 = 3.0;
/// A later request seeks (instead of decoding forward) only if that skips more than this many
/// seconds of video: the next keyframe at or before it lies this far past the current frame.
/// (Decoding forward to that keyframe only adds the frames in between: a few frames of gain
/// already pay for the seek; 0.2 s decoded 1.7 % fewer frames than 0.5 s on 640×360 H.264.)
pub const MIN_SEEK_GAIN_S: f64 = 0.2;
/// Consecutive failed packets (or read errors) after which decoding gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 64;
/// Slack when comparing times, in seconds (well under any frame duration).
const EPS: f64 = 1e-6;
/// Packets remembered since the last keyframe packet (to spread damage found in a frame to
/// the packets decoded after it); older ones only keep the stream tainted.
const MAX_GOP_MEMORY: usize = 1024;
/// Packets read ahead with a pts after the target before the frame displayed at the target is
/// known from packet timestamps alone: a frame can follow at most this many frames in decode
/// order that it precedes in display order (H.264 and HEVC bound reordering by the 16-frame
/// decoded picture buffer), so once more later-displayed packets than this have been read, no
/// packet still to come is displayed at or before the target.
const MAX_REORDER: usize = 16;

/// How frames are resized to the requested size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResizeMode {
    /// Scale to exactly the requested width × height (aspect ratio may change).
    #[default]
    Stretch,
    /// Scale the shorter side to fit, then centre-crop to the requested size.
    ShorterSideCrop,
}

/// Options for [`VideoDecoder::open`].
#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// Output size (width, height); `None` keeps the native size after rotation.
    pub size: Option<(u32, u32)>,
    /// How to resize when `size` is set.
    pub resize: ResizeMode,
    /// Decoder threads (1 for one-thread-per-worker pipelines).
    pub threads: usize,
    /// Wall-clock budget for all decoding done through this decoder.
    pub deadline: Option<Duration>,
    /// Apply rotation metadata (default true).
    pub apply_rotation: bool,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            size: None,
            resize: ResizeMode::Stretch,
            threads: 1,
            deadline: Some(Duration::from_secs(60)),
            apply_rotation: true,
        }
    }
}

/// One decoded frame: packed RGB24, row-major, no padding.
#[derive(Debug, Clone)]
pub struct RgbFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Presentation time in seconds on the container clock.
    pub pts: f64,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// An empty frame, to be filled by [`VideoDecoder::next_frame_into`].
    pub fn empty() -> Self {
        RgbFrame { width: 0, height: 0, pts: 0.0, data: Vec::new() }
    }
}

/// A decoded (not yet converted) frame and its time.
struct Decoded {
    frame: ffmpeg::frame::Video,
    pts: f64,
}

/// What a scaler was built for: input format and (cropped) size, output size, colours.
type ScalerKey = (Pixel, u32, u32, u32, u32, i32, i32);

/// swscale to RGB24 plus crop and rotation, with buffers reused across frames.
struct Converter {
    size: Option<(u32, u32)>,
    mode: ResizeMode,
    rotation: i32,
    scaler: Option<(scaling::Context, ScalerKey)>,
    scaled: ffmpeg::frame::Video,
    /// A view of the source's crop rectangle (shares the decoder's buffers while scaling).
    source_view: ffmpeg::frame::Video,
    cropped: Vec<u8>,
}

impl Converter {
    fn convert(
        &mut self,
        path: &Path,
        src: &ffmpeg::frame::Video,
        out: &mut RgbFrame,
    ) -> Result<(), MediaError> {
        let (w, h, fmt) = (src.width(), src.height(), src.format());
        container::check_dimensions(path, i64::from(w), i64::from(h))?;
        let plan = Plan::new(w, h, self.rotation, self.size, self.mode);
        let space = ffmpeg::ffi::AVColorSpace::from(src.color_space()) as i32;
        let range = src.color_range();
        let range_code = ffmpeg::ffi::AVColorRange::from(range) as i32;
        let key = (fmt, plan.src_w, plan.src_h, plan.scale_w, plan.scale_h, space, range_code);
        let whole = (plan.src_x, plan.src_y, plan.src_w, plan.src_h) == (0, 0, w, h);
        let direct = whole && fmt == Pixel::RGB24 && plan.scale_w == w && plan.scale_h == h;
        let (plane, stride): (&[u8], usize) = if direct {
            (src.data(0), src.stride(0))
        } else {
            if self.scaler.as_ref().map(|(_, k)| *k) != Some(key) {
                let ctx = scaling::Context::get(
                    fmt,
                    plan.src_w,
                    plan.src_h,
                    Pixel::RGB24,
                    plan.scale_w,
                    plan.scale_h,
                    scaling::Flags::BILINEAR,
                )
                .map_err(|_| MediaError::Unsupported {
                    path: path.to_path_buf(),
                    what: format!("conversion of pixel format {} to RGB24", fmt_name(fmt)),
                })?;
                let mut ctx = ctx;
                let full = match range {
                    ffmpeg::color::Range::JPEG => Some(true),
                    ffmpeg::color::Range::MPEG => Some(false),
                    _ => None,
                };
                super::ffi::set_source_colorspace(&mut ctx, space, full);
                self.scaled = ffmpeg::frame::Video::empty();
                self.scaler = Some((ctx, key));
            }
            if let Some((ctx, _)) = self.scaler.as_mut() {
                let scaled = if whole {
                    ctx.run(src, &mut self.scaled)
                } else {
                    // Scale only the kept rectangle of the source.
                    let rect = (plan.src_x, plan.src_y, plan.src_w, plan.src_h);
                    super::ffi::crop_view(src, &mut self.source_view, rect)
                        .and_then(|()| ctx.run(&self.source_view, &mut self.scaled))
                };
                super::ffi::unref(&mut self.source_view);
                scaled.map_err(|e| MediaError::ffmpeg(path, "scale frame", e))?;
            }
            (self.scaled.data(0), self.scaled.stride(0))
        };
        let (ow, oh) = plan.output_size();
        if plan.rotation == 0 {
            transform::crop_rows(plane, stride, &plan, &mut out.data);
        } else {
            transform::crop_rows(plane, stride, &plan, &mut self.cropped);
            transform::rotate(
                &self.cropped,
                plan.crop_w as usize,
                plan.crop_h as usize,
                plan.rotation,
                &mut out.data,
            );
        }
        out.width = ow;
        out.height = oh;
        Ok(())
    }
}

/// Reads the next packet; also says whether FFmpeg logged an error meanwhile.
fn read_counted(
    sink: &ErrorSink,
    input: &mut ffmpeg::format::context::Input,
    packet: &mut ffmpeg::Packet,
) -> (Result<(), ffmpeg::Error>, bool) {
    let errors = sink.errors();
    let read = {
        let _guard = sink.enter();
        container::read_packet(input, packet)
    };
    (read, sink.errors() > errors)
}

/// Whether a decoder call's error means failure (not "send more" or "no more").
fn is_failure(e: &ffmpeg::Error) -> bool {
    match e {
        ffmpeg::Error::Eof => false,
        ffmpeg::Error::Other { errno } => *errno != ffmpeg::ffi::EAGAIN,
        _ => true,
    }
}

fn fmt_name(fmt: Pixel) -> String {
    format!("{fmt:?}").to_lowercase()
}

/// A video decoder owned by one thread. Sequential reads never re-seek; a request before the
/// current position, or far ahead of it, seeks to the previous keyframe and decodes forward.
pub struct VideoDecoder {
    path: PathBuf,
    info: VideoStreamInfo,
    // Field order matters for drop: the decoder and scaler go before the demuxer.
    decoder: ffmpeg::decoder::Video,
    converter: Converter,
    demuxer: Demuxer,
    stream_index: usize,
    time_base: ffmpeg::Rational,
    frame_duration: f64,
    deadline: Deadline,
    packet: ffmpeg::Packet,
    eof_sent: bool,
    exhausted: bool,
    /// The frame displayed at the last requested time (last frame with pts <= t).
    current: Option<Decoded>,
    /// The frame after `current`, already decoded.
    lookahead: Option<Decoded>,
    spare: Vec<ffmpeg::frame::Video>,
    /// Time of the last frame handed out as RGB, to serve repeats from `last_rgb`.
    last_rgb: Option<RgbFrame>,
    corrupt: u64,
    seeks: u64,
    consecutive_errors: u32,
    last_pts: Option<f64>,
    /// Whether the decoder is positioned at the start of the file (nothing decoded or seeked).
    at_start: bool,
    /// The time being positioned to (`None` outside [`Self::position_at`]): enables skipping.
    target: Option<f64>,
    /// Later times of the current [`Self::frames_at`] call (ascending), after `target`.
    upcoming: Vec<f64>,
    /// Packet pts (seconds) sent to the decoder since the last seek, ascending.
    sent_pts: Vec<f64>,
    /// Whether the codec context currently has `skip_frame = NONREF`.
    skipping: bool,
    /// A packet was decoded with `skip_frame = NONREF` since the last keyframe. H.264 then logs
    /// reference-list errors of its own making ("mmco: unref short failure" when a skipped
    /// frame's memory-management operations are missing), so logged-only errors do not count as
    /// damage until the next keyframe; failed packets and frames flagged corrupt still do.
    skipped_since_key: bool,
    /// Packets sent with `skip_frame = NONREF`.
    skip_sent: u64,
    /// Frames the decoder produced.
    decoded: u64,
    /// Packets of our stream read ahead of the decoder (see `plan_drain`), sent before any
    /// newly read packet.
    queue: VecDeque<ffmpeg::Packet>,
    /// Whether the request being positioned may end by draining the decoder (`frames_at` sets
    /// it when the next request will seek anyway, or for its last request).
    may_drain: bool,
    /// Pts of the packet displayed at the target, once known from the read-ahead: the decoder
    /// is drained right after that packet is sent.
    drain_at: Option<f64>,
    /// The decoder was drained early: it holds nothing more, although the stream goes on, so
    /// the next positioning must seek.
    drained: bool,
    /// Return damaged frames instead of failing with [`MediaError::Damaged`].
    allow_damaged: bool,
    /// Every damage seen so far (bounded).
    damage: Damage,
    /// Packets sent from now on may be predicted from a damaged frame (until a keyframe).
    tainted: bool,
    /// After a keyframe that ended a tainted stretch: its leading pictures (displayed before
    /// it) may still be predicted from the damage.
    tainted_before: Option<f64>,
    /// Pts of the packets sent since the last keyframe packet, in decode order (bounded).
    since_key: Vec<f64>,
    /// Pts of the last packet sent.
    last_sent: Option<f64>,
    /// No keyframe packet has been sent since the last seek (or the start).
    awaiting_key: bool,
    /// The first keyframe after a seek: packets displayed before it are its leading pictures,
    /// whose missing references are the seek's doing, not damage.
    seek_key: Option<f64>,
    /// The demuxer failed (or logged an error) since the last packet of our stream was read.
    read_failed: Option<String>,
    /// Pts of packets read right after a demuxer failure, damaged when sent.
    read_damaged: Vec<f64>,
    /// Pts of the last packet of our stream read from the demuxer.
    last_read: Option<f64>,
    /// Counts FFmpeg's error messages about our contexts. Declared last: dropped after them.
    sink: ErrorSink,
}

impl VideoDecoder {
    /// Opens the best video stream of `path`.
    pub fn open(path: &Path, options: &VideoOptions) -> Result<Self, MediaError> {
        if let Some((w, h)) = options.size {
            container::check_dimensions(path, i64::from(w), i64::from(h))?;
        }
        let deadline = Deadline::after(options.deadline);
        let mut demuxer = container::open_video(path, &deadline)?;
        let sink = ErrorSink::new();
        sink.attach_input(&mut demuxer.input);
        let info = super::probe::video_info(path, &demuxer.input)?
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), kind: "video" })?;
        let stream = demuxer
            .input
            .stream(info.index)
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), kind: "video" })?;
        let time_base = stream.time_base();
        let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| MediaError::ffmpeg(path, "codec parameters", e))?;
        ctx.set_threading(ffmpeg::codec::threading::Config {
            kind: ffmpeg::codec::threading::Type::Frame,
            count: options.threads.max(1),
            ..Default::default()
        });
        sink.attach_codec(&mut ctx);
        ffi::enable_crc_checks(&mut ctx);
        let mut decoder = ctx.decoder();
        decoder.set_packet_time_base(time_base);
        let decoder = decoder.video().map_err(|e| match e {
            ffmpeg::Error::DecoderNotFound => MediaError::Unsupported {
                path: path.to_path_buf(),
                what: format!("video codec {}", info.codec),
            },
            e => MediaError::ffmpeg(path, "open video decoder", e),
        })?;
        let frame_duration = info.avg_fps.or(info.real_fps).map_or(1.0 / 25.0, |f| 1.0 / f);
        let rotation = if options.apply_rotation { info.rotation } else { 0 };
        Ok(VideoDecoder {
            path: path.to_path_buf(),
            stream_index: info.index,
            info,
            decoder,
            converter: Converter {
                size: options.size,
                mode: options.resize,
                rotation,
                scaler: None,
                scaled: ffmpeg::frame::Video::empty(),
                source_view: ffmpeg::frame::Video::empty(),
                cropped: Vec::new(),
            },
            demuxer,
            time_base,
            frame_duration,
            deadline,
            packet: ffmpeg::Packet::empty(),
            eof_sent: false,
            exhausted: false,
            current: None,
            lookahead: None,
            spare: Vec::new(),
            last_rgb: None,
            corrupt: 0,
            seeks: 0,
            consecutive_errors: 0,
            last_pts: None,
            at_start: true,
            target: None,
            upcoming: Vec::new(),
            sent_pts: Vec::new(),
            decoded: 0,
            skipping: false,
            skipped_since_key: false,
            skip_sent: 0,
            queue: VecDeque::new(),
            may_drain: false,
            drain_at: None,
            drained: false,
            allow_damaged: false,
            damage: Damage::new(),
            tainted: false,
            tainted_before: None,
            since_key: Vec::new(),
            last_sent: None,
            awaiting_key: true,
            seek_key: None,
            read_failed: None,
            read_damaged: Vec::new(),
            last_read: None,
            sink,
        })
    }

    /// Returns damaged frames (best effort, as FFmpeg concealed them) instead of failing with
    /// [`MediaError::Damaged`]; what was damaged stays listed in [`Self::damage`].
    pub fn set_allow_damaged(&mut self, allow: bool) {
        self.allow_damaged = allow;
    }

    /// Every damage seen so far, by time (all of it, not only near the frames returned).
    pub fn damage(&self) -> &Damage {
        &self.damage
    }

    /// The stream's time range on the container clock: its first frame's time and, when
    /// known, its end (the stream's duration, or the container's for Matroska and WebM, which
    /// store none per stream). Sample frame times inside it.
    pub fn time_range(&self) -> (f64, Option<f64>) {
        (self.info.start_time, self.duration())
    }

    /// Decodes every frame from the current position to the end without converting any, and
    /// records the stream as truncated when its last frame ends well before the declared end;
    /// returns the frames decoded and the first frame's time and the last one's end.
    pub(crate) fn decode_all(&mut self) -> Result<(u64, Option<f64>, Option<f64>), MediaError> {
        let (mut n, mut first, mut last) = (0u64, None, None);
        while let Some(f) = self.decode_next()? {
            n += 1;
            first.get_or_insert(f.pts);
            last = Some(f.pts);
            self.spare.push(f.frame);
        }
        let end = last.map(|p| p + self.frame_duration);
        if let Some(declared) = self.duration() {
            let data_end = end.unwrap_or(self.info.start_time);
            if data_end < declared - (2.0 * self.frame_duration).max(0.1) {
                self.damage.add("video", DamageKind::Truncated, (data_end, declared), 0.0, || {
                    format!(
                        "the frames end at {data_end:.3}s, the container declares {declared:.3}s"
                    )
                });
            }
        }
        Ok((n, first, end))
    }

    /// `Err(Damaged)` when damage lies between a frame shown at `shown` and the time `t` it is
    /// returned for (unless damaged frames are allowed).
    fn check_damage(&self, shown: f64, t: f64) -> Result<(), MediaError> {
        if self.allow_damaged {
            return Ok(());
        }
        let near = self.damage.touching(shown - EPS, shown.max(t) + EPS);
        if near.is_empty() {
            return Ok(());
        }
        Err(MediaError::Damaged {
            path: self.path.clone(),
            stream: "video",
            start: t,
            end: t,
            damage: near,
        })
    }

    /// Stream parameters.
    pub fn info(&self) -> &VideoStreamInfo {
        &self.info
    }

    /// Packets or frames that failed to decode (or decoded with errors) and were skipped.
    pub fn corrupt_packets(&self) -> u64 {
        self.corrupt
    }

    /// Starts the deadline budget again from now (for long-lived decoders that serve many
    /// requests, e.g. one per clip of a long file).
    pub fn restart_deadline(&mut self) {
        self.deadline = self.deadline.restarted();
        self.demuxer.set_deadline(self.deadline.instant());
    }

    /// Seeks performed so far (sequential requests never seek; useful in tests and telemetry).
    pub fn seeks(&self) -> u64 {
        self.seeks
    }

    /// Packets sent to the decoder as skippable (non-reference frames before a target time).
    pub fn skippable_packets(&self) -> u64 {
        self.skip_sent
    }

    /// Frames the decoder has produced so far (frames it dropped unseen are not counted): the
    /// decoding work spent, as far as a count can tell it.
    pub fn frames_decoded(&self) -> u64 {
        self.decoded
    }

    /// The claimed end of the stream on the container clock, in seconds, when known.
    pub fn duration(&self) -> Option<f64> {
        self.info.duration.map(|d| self.info.start_time + d)
    }

    /// The frame being displayed at time `t` (seconds, container clock).
    pub fn frame_at(&mut self, t: f64) -> Result<RgbFrame, MediaError> {
        if !t.is_finite() {
            return Err(self.out_of_range(t));
        }
        self.position_at(t)?;
        let Some(cur) = self.current.as_ref() else {
            return Err(self.out_of_range(t));
        };
        self.check_damage(cur.pts, t)?;
        if let Some(last) = &self.last_rgb {
            if (last.pts - cur.pts).abs() < EPS {
                return Ok(last.clone());
            }
        }
        let mut out = self.last_rgb.take().unwrap_or_else(RgbFrame::empty);
        let pts = cur.pts;
        self.converter.convert(&self.path, &cur.frame, &mut out)?;
        out.pts = pts;
        self.last_rgb = Some(out.clone());
        Ok(out)
    }

    /// Frames displayed at each of `times` (any order; decoded in sorted order, returned in the
    /// order asked).
    pub fn frames_at(&mut self, times: &[f64]) -> Result<Vec<RgbFrame>, MediaError> {
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
        let mut out: Vec<Option<RgbFrame>> = vec![None; times.len()];
        let sorted: Vec<f64> = order.iter().map(|&i| times[i]).collect();
        for (k, &i) in order.iter().enumerate() {
            // Later times let frames between two requests be skipped when a later one is
            // already known to come before the next request (see `set_skipping`).
            self.upcoming.clear();
            self.upcoming.extend(sorted[k + 1..].iter().copied().filter(|t| t.is_finite()));
            // When the next request will seek past the frames after this one (or there is
            // none), nothing after this request's frame needs decoding: drain early.
            self.may_drain = match self.upcoming.first() {
                Some(&u) => u > times[i] + EPS && self.keyframe_between(times[i], u),
                None => true,
            };
            let r = self.frame_at(times[i]);
            self.may_drain = false;
            self.upcoming.clear();
            out[i] = Some(r?);
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Frames at `fps` over `[start, end)`: the frames displayed at `start + k / fps`.
    pub fn frames_fps(
        &mut self,
        start: f64,
        end: f64,
        fps: f64,
    ) -> Result<Vec<RgbFrame>, MediaError> {
        if !(fps > 0.0 && fps.is_finite() && end.partial_cmp(&start).is_some_and(|o| o.is_ge())) {
            return Err(self.out_of_range(start));
        }
        let n = ((end - start) * fps - EPS).ceil().max(0.0) as usize;
        let times: Vec<f64> = (0..n).map(|k| start + k as f64 / fps).collect();
        self.frames_at(&times)
    }

    /// The next frame in presentation order, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<RgbFrame>, MediaError> {
        let mut out = RgbFrame::empty();
        Ok(self.next_frame_into(&mut out)?.then_some(out))
    }

    /// Like [`Self::next_frame`], but converts into `out`, reusing its buffer; `false` at the end.
    pub fn next_frame_into(&mut self, out: &mut RgbFrame) -> Result<bool, MediaError> {
        if self.drained && self.lookahead.is_none() {
            // Drained early by `frames_at`: position again on the current frame (a seek), so
            // the decoder continues from there.
            if let Some(t) = self.current.as_ref().map(|c| c.pts) {
                self.position_at(t)?;
            }
        }
        let next = match self.lookahead.take() {
            Some(f) => Some(f),
            None => self.decode_next()?,
        };
        let Some(next) = next else {
            return Ok(false);
        };
        if let Err(e) = self.check_damage(next.pts, next.pts) {
            self.set_current(next);
            return Err(e);
        }
        self.converter.convert(&self.path, &next.frame, out)?;
        out.pts = next.pts;
        self.last_rgb = None;
        self.set_current(next);
        Ok(true)
    }

    fn set_current(&mut self, frame: Decoded) {
        if let Some(old) = self.current.replace(frame) {
            self.spare.push(old.frame);
        }
    }

    fn out_of_range(&self, t: f64) -> MediaError {
        let start = self.info.start_time;
        MediaError::OutOfRange {
            path: self.path.clone(),
            kind: "video",
            t,
            start,
            end: self.duration().unwrap_or(f64::INFINITY),
        }
    }

    /// Whether decoding forward from `from` to `t` would cross a keyframe more than
    /// [`MIN_SEEK_GAIN_S`] ahead (so seeking to it is cheaper).
    fn keyframe_between(&self, from: f64, t: f64) -> bool {
        let (num, den) = (self.time_base.numerator(), self.time_base.denominator());
        if num <= 0 || den <= 0 {
            return t > from + SEEK_AHEAD_S;
        }
        let ts = ((t + EPS) * f64::from(den) / f64::from(num)).floor();
        if !ts.is_finite() || ts.abs() > 1e17 {
            return t > from + SEEK_AHEAD_S;
        }
        // The index may end a little before t (its timestamps are decode times, and the last
        // keyframe precedes the last frames): accept a second of slack.
        let slack = (f64::from(den) / f64::from(num)).ceil() as i64;
        let input = &self.demuxer.input;
        match super::ffi::index_keyframe_before(input, self.stream_index, ts as i64, slack) {
            Some(Some(k)) => seconds(k, self.time_base).is_some_and(|k| k > from + MIN_SEEK_GAIN_S),
            Some(None) => false,
            None => t > from + SEEK_AHEAD_S,
        }
    }

    /// Positions `current` on the frame displayed at `t`.
    fn position_at(&mut self, t: f64) -> Result<(), MediaError> {
        self.target = Some(t);
        let r = self.position_at_inner(t);
        self.target = None;
        r
    }

    fn position_at_inner(&mut self, t: f64) -> Result<(), MediaError> {
        let need_seek = self.drained
            || match &self.current {
                Some(cur) => t < cur.pts - EPS || self.keyframe_between(cur.pts, t),
                None => !self.at_start || self.keyframe_between(self.info.start_time, t),
            };
        if need_seek {
            self.seek_before(t)?;
        }
        let expected = if self.may_drain { self.plan_drain(t)? } else { None };
        loop {
            if self.lookahead.is_none() && !self.exhausted {
                self.lookahead = self.decode_next()?;
            }
            match &self.lookahead {
                Some(next) if next.pts <= t + EPS => {
                    if let Some(next) = self.lookahead.take() {
                        self.set_current(next);
                    }
                }
                _ => break,
            }
        }
        self.drain_at = None;
        if let Some(p) = expected.filter(|_| self.drained) {
            if self.current.as_ref().is_some_and(|c| (c.pts - p).abs() < EPS) {
                return Ok(());
            }
            // The frames' timestamps did not follow their packets': position again the
            // ordinary way (the seek this forces makes it exact).
            self.may_drain = false;
            return self.position_at_inner(t);
        }
        match (&self.current, &self.lookahead) {
            (None, Some(first)) => {
                // t lies before the first frame: accept it within one frame of the stream start.
                if t >= first.pts - self.frame_duration - EPS && t >= 0.0 - EPS {
                    if let Some(first) = self.lookahead.take() {
                        self.set_current(first);
                    }
                    Ok(())
                } else {
                    Err(self.out_of_range(t))
                }
            }
            (None, None) => Err(self.past_end(t, None)),
            (Some(cur), None) => {
                // End of stream: t must lie within the last frame's display time.
                let ends_at = cur.pts + self.frame_duration;
                if t < ends_at + EPS {
                    Ok(())
                } else {
                    Err(self.past_end(t, Some(ends_at)))
                }
            }
            (Some(_), Some(_)) => Ok(()),
        }
    }

    fn past_end(&self, t: f64, ends_at: Option<f64>) -> MediaError {
        let ends_at = ends_at.unwrap_or(self.info.start_time);
        match self.duration() {
            Some(claimed) if t < claimed - self.frame_duration => MediaError::Truncated {
                path: self.path.clone(),
                kind: "video",
                t,
                ends_at,
                claimed,
            },
            _ => self.out_of_range(t),
        }
    }

    /// Seeks to a keyframe at or before `t` and decodes the first frame into `lookahead`; backs
    /// off further when the demuxer lands past `t`.
    fn seek_before(&mut self, t: f64) -> Result<(), MediaError> {
        for back in [0.0, 1.0, 4.0, 16.0, f64::INFINITY] {
            self.deadline.check(&self.path)?;
            let target = t - back;
            let ts =
                if target.is_finite() && target > 0.0 { (target * 1e6) as i64 } else { i64::MIN };
            let res = if ts == i64::MIN {
                self.demuxer.input.seek(i64::MIN, ..)
            } else {
                self.demuxer.input.seek(ts, ..ts)
            };
            if let Err(e) = res {
                if self.deadline.expired() {
                    return Err(self.deadline.error(&self.path));
                }
                if ts == i64::MIN {
                    return Err(MediaError::ffmpeg(&self.path, "seek", e));
                }
                continue;
            }
            self.seeks += 1;
            self.decoder.flush();
            self.reset_position();
            self.at_start = ts == i64::MIN;
            self.lookahead = self.decode_next()?;
            match &self.lookahead {
                // Landed past t (MPEG-TS seeks to the next keyframe), or at the very end with
                // nothing left to decode: go further back.
                Some(f) if f.pts > t + EPS && ts != i64::MIN => continue,
                None if ts != i64::MIN => continue,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    fn reset_position(&mut self) {
        if let Some(c) = self.current.take() {
            self.spare.push(c.frame);
        }
        if let Some(c) = self.lookahead.take() {
            self.spare.push(c.frame);
        }
        self.eof_sent = false;
        self.exhausted = false;
        self.last_pts = None;
        self.last_rgb = None;
        self.sent_pts.clear();
        self.queue.clear();
        self.drain_at = None;
        self.drained = false;
        self.tainted = false;
        self.tainted_before = None;
        self.since_key.clear();
        self.last_sent = None;
        self.awaiting_key = true;
        self.seek_key = None;
        self.read_failed = None;
        self.read_damaged.clear();
        self.last_read = None;
    }

    /// Reads packets ahead (without decoding them) until the packet displayed at `t` is known:
    /// the last pts at or before `t` among packets sent since the last seek and read ahead, once
    /// more than [`MAX_REORDER`] of them are displayed after `t` (or the stream ends). Sets
    /// `drain_at` to it and returns it; `None` (no early drain) when a packet lacks a pts, a
    /// read fails, or nothing is displayed at or before `t` or after it.
    fn plan_drain(&mut self, t: f64) -> Result<Option<f64>, MediaError> {
        let pts_of = |p: &ffmpeg::Packet, tb| p.pts().and_then(|ts| seconds(ts, tb));
        let mut later = self.sent_pts.iter().filter(|&&q| q > t + EPS).count();
        for p in &self.queue {
            match pts_of(p, self.time_base) {
                Some(q) if q > t + EPS => later += 1,
                Some(_) => {}
                None => return Ok(None),
            }
        }
        while later <= MAX_REORDER {
            self.deadline.check(&self.path)?;
            let mut packet = ffmpeg::Packet::empty();
            let (read, logged) = read_counted(&self.sink, &mut self.demuxer.input, &mut packet);
            self.after_read(&read, logged);
            match read {
                Ok(()) if packet.stream() == self.stream_index => {
                    self.note_read(packet.pts().or(packet.dts()), packet.is_key());
                    match pts_of(&packet, self.time_base) {
                        Some(q) if q > t + EPS => later += 1,
                        Some(_) => {}
                        None => {
                            self.queue.push_back(packet);
                            return Ok(None);
                        }
                    }
                    self.queue.push_back(packet);
                }
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => break,
                Err(_) => {
                    // Leave read errors to `feed`, which counts them.
                    if self.deadline.expired() {
                        return Err(self.deadline.error(&self.path));
                    }
                    return Ok(None);
                }
            }
        }
        if later == 0 {
            // Nothing is displayed after t: the end of the stream is near, and whether t still
            // lies within the last frame is the ordinary path's question.
            return Ok(None);
        }
        let queued = self.queue.iter().filter_map(|p| pts_of(p, self.time_base));
        let best = self
            .sent_pts
            .iter()
            .copied()
            .chain(queued)
            .filter(|&q| q <= t + EPS)
            .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.max(q))));
        self.drain_at = best;
        Ok(best)
    }

    /// The next frame from the decoder in presentation order, or `None` at the end.
    fn decode_next(&mut self) -> Result<Option<Decoded>, MediaError> {
        if self.exhausted {
            return Ok(None);
        }
        self.at_start = false;
        let mut frame = self.spare.pop().unwrap_or_else(ffmpeg::frame::Video::empty);
        loop {
            self.deadline.check(&self.path)?;
            let errors = self.sink.errors();
            let received = {
                let _guard = self.sink.enter();
                self.decoder.receive_frame(&mut frame)
            };
            let logged = self.sink.errors() > errors && !self.skipped_since_key;
            if logged || received.as_ref().is_err_and(is_failure) {
                // Errors while producing output belong to the packets in flight: the last one.
                if let Some(p) = self.last_sent {
                    self.packet_damaged(p, DamageKind::DecodeError);
                }
            }
            match received {
                Ok(()) => {
                    self.consecutive_errors = 0;
                    self.decoded += 1;
                    let flagged = ffi::frame_damage(&frame);
                    if flagged {
                        self.corrupt += 1;
                    }
                    let pts = frame
                        .timestamp()
                        .and_then(|ts| seconds(ts, self.time_base))
                        .or_else(|| self.last_pts.map(|p| p + self.frame_duration))
                        .unwrap_or(self.info.start_time);
                    self.last_pts = Some(pts);
                    if flagged {
                        self.frame_damaged(pts);
                    }
                    return Ok(Some(Decoded { frame, pts }));
                }
                Err(ffmpeg::Error::Eof) => {
                    self.exhausted = true;
                    self.spare.push(frame);
                    return Ok(None);
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::ffi::EAGAIN => {
                    if self.eof_sent {
                        self.exhausted = true;
                        self.spare.push(frame);
                        return Ok(None);
                    }
                }
                Err(_) => {
                    self.note_error()?;
                    if self.eof_sent {
                        continue;
                    }
                }
            }
            self.feed()?;
        }
    }

    /// Reads packets until one of our stream is sent to the decoder (or EOF is signalled).
    fn feed(&mut self) -> Result<(), MediaError> {
        if let Some(p) = self.drain_at {
            // The packet displayed at the target has been sent: drain instead of decoding on.
            let k = self.sent_pts.partition_point(|&q| q < p - EPS);
            if self.sent_pts.get(k).is_some_and(|&q| q <= p + EPS) {
                self.drain_at = None;
                self.drained = true;
                return self.send_eof();
            }
        }
        if let Some(packet) = self.queue.pop_front() {
            self.packet = packet;
            return self.send_current_packet();
        }
        loop {
            self.deadline.check(&self.path)?;
            let (read, logged) =
                read_counted(&self.sink, &mut self.demuxer.input, &mut self.packet);
            self.after_read(&read, logged);
            match read {
                Ok(()) => {
                    if self.packet.stream() != self.stream_index {
                        continue;
                    }
                    self.note_read(self.packet.pts().or(self.packet.dts()), self.packet.is_key());
                    return self.send_current_packet();
                }
                Err(ffmpeg::Error::Eof) => return self.send_eof(),
                Err(e) => {
                    if self.deadline.expired() {
                        return Err(self.deadline.error(&self.path));
                    }
                    // A read error (truncated data, I/O): count it; a latched error ends the
                    // stream instead of spinning.
                    if matches!(e, ffmpeg::Error::Exit) || self.note_error().is_err() {
                        return self.send_eof();
                    }
                }
            }
        }
    }

    /// Sends `self.packet` (of our stream) with the right `skip_frame`.
    fn send_current_packet(&mut self) -> Result<(), MediaError> {
        self.set_skipping();
        let pts = self
            .packet
            .pts()
            .or(self.packet.dts())
            .and_then(|ts| seconds(ts, self.time_base))
            .or_else(|| self.last_sent.map(|p| p + self.frame_duration))
            .unwrap_or(self.info.start_time);
        let inherited = self.note_sent(pts, self.packet.is_key());
        let errors = self.sink.errors();
        let sent = {
            let _guard = self.sink.enter();
            self.decoder.send_packet(&self.packet)
        };
        let mut failed = false;
        match sent {
            Ok(()) => {}
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::ffi::EAGAIN => {
                // The decoder is full; its frames must be received first. FFmpeg guarantees
                // this does not happen after a receive returned EAGAIN.
            }
            Err(_) => {
                self.corrupt += 1;
                failed = true;
                self.note_error()?;
            }
        }
        if let Some(k) = self.read_damaged.iter().position(|&q| (q - pts).abs() < EPS) {
            self.read_damaged.swap_remove(k);
            self.packet_damaged(pts, DamageKind::ReadError);
        }
        if failed || (self.sink.errors() > errors && !self.skipped_since_key) {
            self.packet_damaged(pts, DamageKind::DecodeError);
        } else if inherited {
            self.packet_damaged(pts, DamageKind::Concealed);
        }
        Ok(())
    }

    /// Notes a demuxer failure (returned or only logged), so the next packet of our stream
    /// counts as damaged.
    fn after_read(&mut self, read: &Result<(), ffmpeg::Error>, logged: bool) {
        let failed = match read {
            Err(ffmpeg::Error::Eof) | Ok(()) => false,
            Err(_) => !self.deadline.expired(),
        };
        if failed || logged {
            self.read_failed.get_or_insert_with(|| self.sink.last_message());
        }
    }

    /// A packet of our stream was read (with timestamp `ts`). If the demuxer failed since the
    /// previous one, packets between the two may be lost (Matroska skips to the next cluster
    /// after a broken element): frames displayed between them are damaged, and so is this
    /// packet unless it is a keyframe (nothing it needs was lost).
    fn note_read(&mut self, ts: Option<i64>, key: bool) {
        let this = ts.and_then(|ts| seconds(ts, self.time_base));
        if let Some(why) = self.read_failed.take() {
            match this {
                Some(p) => {
                    let from = self.last_read.unwrap_or(p);
                    let (a, b) = (from.min(p), from.max(p));
                    let b = if key && b == p { b - EPS } else { b };
                    if b >= a {
                        let join = 1.5 * self.frame_duration;
                        self.damage.add("video", DamageKind::ReadError, (a, b), join, || why);
                    }
                    if !key && self.read_damaged.len() < MAX_GOP_MEMORY {
                        self.read_damaged.push(p);
                    }
                }
                None => self.tainted = true,
            }
        }
        if this.is_some() {
            self.last_read = this;
        }
    }

    /// Bookkeeping for a packet about to be sent; whether it may be predicted from damage.
    fn note_sent(&mut self, pts: f64, key: bool) -> bool {
        if key {
            self.skipped_since_key = false;
            self.tainted_before = self.tainted.then_some(pts);
            self.tainted = false;
            self.since_key.clear();
            self.seek_key = self.awaiting_key.then_some(pts);
            self.awaiting_key = false;
        }
        self.last_sent = Some(pts);
        if self.since_key.len() < MAX_GOP_MEMORY {
            self.since_key.push(pts);
        }
        self.tainted || self.tainted_before.is_some_and(|k| pts < k - EPS)
    }

    /// Whether damage at `pts` is a seek artefact: before the first keyframe after a seek, or
    /// a leading picture of that keyframe.
    fn seek_artefact(&self, pts: f64) -> bool {
        self.awaiting_key || self.seek_key.is_some_and(|k| pts < k - EPS)
    }

    /// Records the packet displayed at `pts` as damaged; what follows it is tainted.
    fn packet_damaged(&mut self, pts: f64, kind: DamageKind) {
        if self.seek_artefact(pts) {
            return;
        }
        let sink = &self.sink;
        let detail = || match kind {
            DamageKind::Concealed => "predicted from a damaged frame".to_string(),
            _ => sink.last_message(),
        };
        self.damage.add("video", kind, (pts, pts), 1.5 * self.frame_duration, detail);
        self.tainted = true;
    }

    /// A frame came out flagged as damaged: it and every packet decoded after its own (until
    /// the next keyframe) are damaged.
    fn frame_damaged(&mut self, pts: f64) {
        if self.seek_artefact(pts) {
            return;
        }
        self.damage.add(
            "video",
            DamageKind::Concealed,
            (pts, pts),
            1.5 * self.frame_duration,
            || "the decoder flagged the frame as corrupt".to_string(),
        );
        if let Some(k) = self.since_key.iter().position(|&q| (q - pts).abs() < EPS) {
            let later: Vec<f64> = self.since_key[k + 1..].to_vec();
            for q in later {
                self.packet_damaged(q, DamageKind::Concealed);
            }
        }
        self.tainted = true;
    }

    /// Sets `skip_frame` for the packet about to be sent: NONREF only when the frame cannot be
    /// the one displayed at the request it comes before. Its pts `p` is at or before the target
    /// `t`, or before a later time `u` of the same [`Self::frames_at`] call (the first at or
    /// after `p`); a packet already sent since the last seek has a pts in `(p, t]` (or `(p, u]`),
    /// so a later frame is displayed at that time, and at every later one.
    fn set_skipping(&mut self) {
        let pts = self.packet.pts().and_then(|p| seconds(p, self.time_base));
        let skip = match (pts, self.target) {
            // The packet displayed at the target is known (read ahead): every other packet
            // displayed before it can go undecoded unless it is referenced.
            (Some(p), Some(_)) if self.drain_at.is_some_and(|d| p < d - EPS) => true,
            (Some(p), Some(t)) => {
                let until = if p <= t + EPS {
                    Some(t)
                } else {
                    let k = self.upcoming.partition_point(|&u| u < p - EPS);
                    self.upcoming.get(k).copied()
                };
                // `sent_pts` is sorted: the first sent pts after p decides.
                let k = self.sent_pts.partition_point(|&q| q <= p + EPS);
                until.is_some_and(|u| self.sent_pts.get(k).is_some_and(|&q| q <= u + EPS))
            }
            _ => false,
        };
        if let Some(p) = pts.filter(|p| p.is_finite()) {
            // Packets come in decode order, close to pts order: insert near the end.
            let k = self.sent_pts.partition_point(|&q| q <= p);
            self.sent_pts.insert(k, p);
        }
        if skip {
            self.skip_sent += 1;
            self.skipped_since_key = true;
        }
        if skip != self.skipping {
            self.decoder.skip_frame(if skip {
                ffmpeg::Discard::NonReference
            } else {
                ffmpeg::Discard::Default
            });
            self.skipping = skip;
        }
    }

    fn send_eof(&mut self) -> Result<(), MediaError> {
        if !self.eof_sent {
            self.eof_sent = true;
            // An error here only means the decoder was already flushed.
            let _ = self.decoder.send_eof();
        }
        Ok(())
    }

    fn note_error(&mut self) -> Result<(), MediaError> {
        self.consecutive_errors += 1;
        if self.consecutive_errors > MAX_CONSECUTIVE_ERRORS {
            return Err(MediaError::Corrupt {
                path: self.path.clone(),
                at_seconds: self.last_pts.unwrap_or(self.info.start_time),
                reason: format!("{MAX_CONSECUTIVE_ERRORS} consecutive undecodable packets"),
            });
        }
        Ok(())
    }
}
