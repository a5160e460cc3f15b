//! Every `unsafe` call into FFmpeg that ffmpeg-next does not wrap (or wraps unsoundly) lives here.
//!
//! - [`open_input`]: `avformat_open_input` with an interrupt callback whose state is owned by the
//!   returned [`Demuxer`] (ffmpeg-next's `input_with_interrupt` leaks its closure), so blocking
//!   reads inside FFmpeg give up once the per-file deadline passes. Decoders' opens of MP4 and
//!   Matroska can skip `avformat_find_stream_info` (see [`StreamInfo`]).
//! - [`audio_plane`]: the bytes of one audio plane. ffmpeg-next's `Audio::data(i)` uses
//!   `linesize[i]`, which FFmpeg only sets for plane 0, and `plane::<T>()` ignores the channel count
//!   of packed formats; this reads `extended_data` with the real length.
//! - [`stream_layout`]: channel count and layout description from `AVCodecParameters`, without
//!   opening a decoder.
//! - [`container_start_time`]: `AVFormatContext::start_time`, which ffmpeg-next does not expose.
//! - [`set_source_colorspace`]: tells swscale the source's YCbCr matrix and range, as FFmpeg's
//!   `scale` filter does from each frame, so BT.709 and full-range video convert like the CLI.
//!
//! - [`index_keyframe_before`]: the demuxer's keyframe index entry at or before a timestamp, so
//!   the video decoder seeks only when a keyframe lies between its position and the target.
//! - [`ErrorSink`] and [`install_log_callback`]: FFmpeg reports most damage only as log messages
//!   (an H.264 slice that fails mid-way is concealed and logged, not returned as an error), so
//!   the process-wide log callback counts error messages per decoder. A sink is found from the
//!   context that logs: `opaque` of an `AVCodecContext` (frame-thread copies inherit it) or an
//!   `AVFormatContext`, checked against a registry of live sinks before use, or else the sink
//!   the current thread entered ([`ErrorSink::enter`]). Messages of other contexts are dropped,
//!   as the `Quiet` log level did before.
//! - [`enable_crc_checks`], [`frame_damage`]: `err_recognition` checksum checks on a decoder
//!   (AC-3, MP3 and FLAC carry checksums FFmpeg skips by default) and a frame's corrupt flag and
//!   `decode_error_flags`.
//!
//! Each function documents the invariants it relies on; nothing else in `media` uses `unsafe`.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi as sys;

/// An opened input whose interrupt-callback state lives exactly as long as the context.
///
/// `Cell` makes the type `!Sync`; the format context itself must stay on one thread anyway.
pub(crate) struct Demuxer {
    /// The format context. Declared first so it is dropped (closed) before `_interrupt`.
    pub input: ffmpeg::format::context::Input,
    /// The state the interrupt callback points to; boxed so its address never moves.
    interrupt: Box<Cell<Option<Instant>>>,
}

impl Demuxer {
    /// Moves the instant after which FFmpeg's blocking I/O gives up.
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.interrupt.set(deadline);
    }
}

extern "C" fn interrupt_callback(opaque: *mut c_void) -> c_int {
    if opaque.is_null() {
        return 0;
    }
    // SAFETY: `opaque` points into the `Box<Cell<..>>` owned by the `Demuxer` that owns the
    // format context calling us; the box outlives the context (field drop order). FFmpeg calls
    // back on the thread using the context, the only thread that can reach the Cell.
    let deadline = unsafe { &*(opaque as *const Cell<Option<Instant>>) };
    match deadline.get() {
        Some(d) if Instant::now() >= d => 1,
        _ => 0,
    }
}

/// How much stream information an open needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamInfo {
    /// Always run `avformat_find_stream_info` (probe).
    Full,
    /// A reader of audio only (`AudioOnly`) or video only (`VideoOnly`): skip
    /// `avformat_find_stream_info` when the container is MP4/MOV or Matroska and its header
    /// already gives every stream of that kind what the decoders need (audio: codec, sample
    /// rate, channels, start time; video: codec, size, start time, frame rate).
    /// `find_stream_info` decodes the first frames of *every* stream (~4.7 ms for a 640×360
    /// H.264 file), which the readers never use: the decoders take pixel format, colour and
    /// sample format from the frames they decode. Streams of the other kinds are then marked
    /// discarded so the demuxer does not hand out their packets.
    AudioOnly,
    /// See [`StreamInfo::AudioOnly`].
    VideoOnly,
}

/// Whether an opened context can skip `avformat_find_stream_info` for a reader of `kind`.
///
/// # Safety
/// `ctx` must be a live, opened format context used on this thread.
unsafe fn header_complete(ctx: *mut sys::AVFormatContext, kind: sys::AVMediaType) -> bool {
    let iformat = (*ctx).iformat;
    if iformat.is_null() || (*iformat).name.is_null() {
        return false;
    }
    let name = std::ffi::CStr::from_ptr((*iformat).name).to_string_lossy();
    let trusted = name.split(',').any(|n| n == "mov" || n == "matroska");
    if !trusted || (*ctx).streams.is_null() {
        return false;
    }
    let mut found = 0;
    for i in 0..(*ctx).nb_streams as usize {
        let st = *(*ctx).streams.add(i);
        if st.is_null() || (*st).codecpar.is_null() {
            return false;
        }
        let par = (*st).codecpar;
        if (*par).codec_type != kind {
            continue;
        }
        let common = (*par).codec_id != sys::AVCodecID::AV_CODEC_ID_NONE
            && (*st).start_time != sys::AV_NOPTS_VALUE;
        let complete = match kind {
            sys::AVMediaType::AVMEDIA_TYPE_AUDIO => {
                (*par).sample_rate > 0 && (*par).ch_layout.nb_channels > 0
            }
            _ => {
                (*par).width > 0
                    && (*par).height > 0
                    && (*st).avg_frame_rate.num > 0
                    && (*st).avg_frame_rate.den > 0
            }
        };
        if !(common && complete) {
            return false;
        }
        found += 1;
    }
    found > 0
}

/// Opens `path` and reads stream info (as `info` says); FFmpeg's blocking I/O is interrupted
/// after `deadline`.
pub(crate) fn open_input(
    path: &Path,
    deadline: Option<Instant>,
    info: StreamInfo,
) -> Result<Demuxer, ffmpeg::Error> {
    use std::os::unix::ffi::OsStrExt;
    let cpath =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| ffmpeg::Error::InvalidData)?;
    let state: Box<Cell<Option<Instant>>> = Box::new(Cell::new(deadline));
    // SAFETY: standard avformat open sequence. On `avformat_open_input` failure FFmpeg frees the
    // context itself; on `avformat_find_stream_info` failure we close it. The skip check and
    // the discard flags only read and set fields of the streams the opened context owns. The callback's opaque
    // pointer refers to `state`, which the returned `Demuxer` keeps alive past the context.
    unsafe {
        let mut ps = sys::avformat_alloc_context();
        if ps.is_null() {
            return Err(ffmpeg::Error::Other { errno: sys::ENOMEM });
        }
        (*ps).interrupt_callback = sys::AVIOInterruptCB {
            callback: Some(interrupt_callback),
            opaque: &*state as *const Cell<Option<Instant>> as *mut c_void,
        };
        let r = sys::avformat_open_input(&mut ps, cpath.as_ptr(), ptr::null_mut(), ptr::null_mut());
        if r != 0 {
            return Err(ffmpeg::Error::from(r));
        }
        let only = match info {
            StreamInfo::Full => None,
            StreamInfo::AudioOnly => Some(sys::AVMediaType::AVMEDIA_TYPE_AUDIO),
            StreamInfo::VideoOnly => Some(sys::AVMediaType::AVMEDIA_TYPE_VIDEO),
        };
        if let Some(kind) = only.filter(|k| header_complete(ps, *k)) {
            for i in 0..(*ps).nb_streams as usize {
                let st = *(*ps).streams.add(i);
                if (*(*st).codecpar).codec_type != kind {
                    (*st).discard = sys::AVDiscard::AVDISCARD_ALL;
                }
            }
        } else {
            let r = sys::avformat_find_stream_info(ps, ptr::null_mut());
            if r < 0 {
                sys::avformat_close_input(&mut ps);
                return Err(ffmpeg::Error::from(r));
            }
        }
        Ok(Demuxer { input: ffmpeg::format::context::Input::wrap(ps), interrupt: state })
    }
}

/// What one [`ErrorSink`] has counted.
struct SinkState {
    errors: AtomicU64,
    last: Mutex<String>,
}

/// Addresses of the live sinks' states; the log callback touches a state only while it is
/// listed here, under this lock, and a sink leaves the list (under the lock) before its state
/// is freed.
static SINKS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    /// The sink entered on this thread ([`ErrorSink::enter`]), 0 when none.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

fn sinks() -> std::sync::MutexGuard<'static, Vec<usize>> {
    // A panic while holding the lock cannot leave the list inconsistent.
    SINKS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts the error messages FFmpeg logs about the contexts it is attached to.
///
/// Owned by one decoder; declare it after the FFmpeg contexts it is attached to, so they are
/// closed first (a context that outlives its sink only loses its messages).
pub(crate) struct ErrorSink {
    state: Box<SinkState>,
}

/// While alive, messages from contexts without a sink of their own, logged on this thread,
/// count for the entered sink.
pub(crate) struct SinkGuard {
    previous: usize,
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

impl ErrorSink {
    /// A new sink, registered with the log callback.
    pub(crate) fn new() -> Self {
        let state =
            Box::new(SinkState { errors: AtomicU64::new(0), last: Mutex::new(String::new()) });
        sinks().push(&*state as *const SinkState as usize);
        ErrorSink { state }
    }

    fn addr(&self) -> usize {
        &*self.state as *const SinkState as usize
    }

    /// Error messages counted so far.
    pub(crate) fn errors(&self) -> u64 {
        self.state.errors.load(Ordering::Relaxed)
    }

    /// The last error message counted (empty when none).
    pub(crate) fn last_message(&self) -> String {
        self.state.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Counts messages logged on this thread by contexts without a sink of their own (codec
    /// private contexts) until the guard drops.
    pub(crate) fn enter(&self) -> SinkGuard {
        let previous = CURRENT.with(|c| c.replace(self.addr()));
        SinkGuard { previous }
    }

    /// Attaches the sink to a codec context (before it is opened, so frame-thread copies
    /// inherit it).
    pub(crate) fn attach_codec(&self, ctx: &mut ffmpeg::codec::context::Context) {
        // SAFETY: `ctx` wraps a live AVCodecContext used on this thread; `opaque` is the user's
        // field (FFmpeg never reads it) and ffmpeg-next does not use it.
        unsafe { (*ctx.as_mut_ptr()).opaque = self.addr() as *mut c_void }
    }

    /// Attaches the sink to a demuxer's format context.
    pub(crate) fn attach_input(&self, input: &mut ffmpeg::format::context::Input) {
        // SAFETY: as for `attach_codec`: `opaque` of AVFormatContext is the user's field.
        unsafe { (*input.as_mut_ptr()).opaque = self.addr() as *mut c_void }
    }
}

impl Drop for ErrorSink {
    fn drop(&mut self) {
        let addr = self.addr();
        sinks().retain(|&a| a != addr);
        CURRENT.with(|c| {
            if c.get() == addr {
                c.set(0);
            }
        });
    }
}

/// The sink a message from `avcl` counts for: the context's own (`opaque`) or the thread's.
///
/// # Safety
/// `avcl` is null or points to a struct whose first member is an `AVClass` pointer (the
/// contract of `av_log`).
unsafe fn sink_of(avcl: *mut c_void) -> usize {
    if !avcl.is_null() {
        let class = *(avcl as *const *const sys::AVClass);
        if !class.is_null() {
            if class == sys::avcodec_get_class() {
                let op = (*(avcl as *const sys::AVCodecContext)).opaque;
                if !op.is_null() {
                    return op as usize;
                }
            } else if class == sys::avformat_get_class() {
                let op = (*(avcl as *const sys::AVFormatContext)).opaque;
                if !op.is_null() {
                    return op as usize;
                }
            }
        }
    }
    CURRENT.with(|c| c.get())
}

unsafe extern "C" fn log_callback(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    vl: *mut sys::__va_list_tag,
) {
    if level > sys::AV_LOG_ERROR {
        return;
    }
    // SAFETY: FFmpeg passes `avcl` under `av_log`'s contract (see `sink_of`).
    let addr = unsafe { sink_of(avcl) };
    if addr == 0 {
        return;
    }
    let live = sinks();
    if !live.contains(&addr) {
        return;
    }
    // SAFETY: `addr` is listed, so its state is alive until we release the lock.
    let state = unsafe { &*(addr as *const SinkState) };
    let mut line = [0 as c_char; 256];
    let mut prefix: c_int = 0;
    // SAFETY: `fmt` and `vl` are the arguments FFmpeg gave us, consumed once; the function
    // writes at most `line.len()` bytes including the terminating NUL.
    let text = unsafe {
        sys::av_log_format_line2(avcl, level, fmt, vl, line.as_mut_ptr(), 256, &mut prefix);
        std::ffi::CStr::from_ptr(line.as_ptr()).to_string_lossy()
    };
    let text = text.trim();
    if bookkeeping(text) {
        return;
    }
    state.errors.fetch_add(1, Ordering::Relaxed);
    if !text.is_empty() {
        let mut last = state.last.lock().unwrap_or_else(|p| p.into_inner());
        last.clear();
        last.push_str(text);
    }
}

/// Whether an error-level message only reports reference bookkeeping, not damage: H.264's
/// "mmco: unref short failure" is logged whenever a memory-management operation names a
/// reference frame the decoder does not hold, which is what happens after a seek to a non-IDR
/// keyframe (the frames before it were never decoded) and after non-reference frames were
/// skipped on purpose. Damaged slices produce other messages and flagged frames.
fn bookkeeping(message: &str) -> bool {
    message.contains("mmco: unref short failure")
}

/// Routes FFmpeg's log through [`log_callback`] at error level (once per process).
pub(crate) fn install_log_callback() {
    // SAFETY: both calls only set process-wide logging state; the callback is thread-safe.
    unsafe {
        sys::av_log_set_level(sys::AV_LOG_ERROR);
        sys::av_log_set_callback(Some(log_callback));
    }
}

/// Turns on checksum checks (`AV_EF_CRCCHECK`) of a codec context before it is opened.
pub(crate) fn enable_crc_checks(ctx: &mut ffmpeg::codec::context::Context) {
    // SAFETY: a plain field of a live, not yet opened context.
    unsafe { (*ctx.as_mut_ptr()).err_recognition |= sys::AV_EF_CRCCHECK }
}

/// Whether a decoded frame is flagged as corrupt (`AV_FRAME_FLAG_CORRUPT`) or carries
/// `decode_error_flags` (concealment, missing references, invalid bitstream).
pub(crate) fn frame_damage(frame: &ffmpeg::frame::Frame) -> bool {
    // SAFETY: reading plain fields of a live frame.
    unsafe {
        let f = frame.as_ptr();
        ((*f).flags & sys::AV_FRAME_FLAG_CORRUPT) != 0 || (*f).decode_error_flags != 0
    }
}

/// `AVFormatContext::start_time` in seconds, if known.
pub(crate) fn container_start_time(input: &ffmpeg::format::context::Input) -> Option<f64> {
    // SAFETY: reading a plain field of a live context.
    let st = unsafe { (*input.as_ptr()).start_time };
    (st != sys::AV_NOPTS_VALUE).then(|| st as f64 / f64::from(sys::AV_TIME_BASE))
}

/// The timestamp (stream time base) of the last keyframe the demuxer's index holds at or before
/// `ts` in stream `stream_index`: `Some(None)` when the index has no keyframe that early, and
/// `None` when the index cannot answer (no entries, or its last entry lies more than `slack`
/// before `ts`, as in formats that index only what was read so far).
pub(crate) fn index_keyframe_before(
    input: &ffmpeg::format::context::Input,
    stream_index: usize,
    ts: i64,
    slack: i64,
) -> Option<Option<i64>> {
    // SAFETY: `input` wraps a live context used on this thread; `stream_index` is checked against
    // `nb_streams` before indexing `streams`. The index functions only read the stream's index,
    // and each returned entry pointer is read at once, before any other call on the context.
    unsafe {
        let ctx = input.as_ptr();
        if stream_index >= (*ctx).nb_streams as usize || (*ctx).streams.is_null() {
            return None;
        }
        let st = *(*ctx).streams.add(stream_index);
        if st.is_null() {
            return None;
        }
        let count = sys::avformat_index_get_entries_count(st);
        if count <= 0 {
            return None;
        }
        let last = sys::avformat_index_get_entry(st, count - 1);
        if last.is_null() || (*last).timestamp.saturating_add(slack) < ts {
            return None;
        }
        let e = sys::avformat_index_get_entry_from_timestamp(st, ts, sys::AVSEEK_FLAG_BACKWARD);
        if e.is_null() {
            Some(None)
        } else {
            Some(Some((*e).timestamp))
        }
    }
}

/// Channel count and a layout description ("stereo", "5.1(side)", "2 channels") of a stream.
pub(crate) fn stream_layout(params: &ffmpeg::codec::Parameters) -> (u16, String) {
    // SAFETY: `params` wraps a live AVCodecParameters; `av_channel_layout_describe` writes at most
    // `buf.len()` bytes including the terminating NUL.
    unsafe {
        let p = params.as_ptr();
        let layout = &(*p).ch_layout;
        let channels = u16::try_from(layout.nb_channels.max(0)).unwrap_or(u16::MAX);
        let mut buf = [0u8; 128];
        let r = sys::av_channel_layout_describe(layout, buf.as_mut_ptr().cast(), buf.len());
        let text = if r > 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            format!("{channels} channels")
        };
        (channels, text)
    }
}

/// Sample rate of an audio stream's parameters.
pub(crate) fn stream_sample_rate(params: &ffmpeg::codec::Parameters) -> u32 {
    // SAFETY: reading a plain field of live parameters.
    let r = unsafe { (*params.as_ptr()).sample_rate };
    u32::try_from(r).unwrap_or(0)
}

/// Coded width and height of a video stream's parameters.
pub(crate) fn stream_dimensions(params: &ffmpeg::codec::Parameters) -> (i64, i64) {
    // SAFETY: reading plain fields of live parameters.
    unsafe { (i64::from((*params.as_ptr()).width), i64::from((*params.as_ptr()).height)) }
}

/// The bytes of audio plane `index` (planar: one channel; packed: all channels interleaved).
pub(crate) fn audio_plane(frame: &ffmpeg::frame::Audio, index: usize) -> &[u8] {
    let format = frame.format();
    let planar = format.is_planar();
    let channels = usize::from(frame.channels());
    let planes = if planar { channels } else { 1 };
    if index >= planes {
        return &[];
    }
    let len = frame.samples() * format.bytes() * if planar { 1 } else { channels };
    // SAFETY: for audio, `extended_data` holds one pointer per plane (`planes` of them), each
    // valid for `nb_samples * bytes_per_sample` (× channels when packed) bytes while the frame
    // is alive and unmodified; the returned slice borrows the frame.
    unsafe {
        let f = frame.as_ptr();
        let ext = (*f).extended_data;
        if ext.is_null() || (*f).linesize[0] <= 0 {
            return &[];
        }
        let data = *ext.add(index);
        if data.is_null() {
            return &[];
        }
        let available = usize::try_from((*f).linesize[0]).unwrap_or(0);
        std::slice::from_raw_parts(data, len.min(available))
    }
}

/// Makes `dst` a reference to `src`'s buffers showing only the `w × h` rectangle at `(x, y)`
/// (no pixels are copied; FFmpeg's `av_frame_apply_cropping` moves the plane pointers). The
/// rectangle must lie inside `src`; `x` and `y` should be even for chroma-subsampled formats.
pub(crate) fn crop_view(
    src: &ffmpeg::frame::Video,
    dst: &mut ffmpeg::frame::Video,
    (x, y, w, h): (u32, u32, u32, u32),
) -> Result<(), ffmpeg::Error> {
    if x.checked_add(w).is_none_or(|r| r > src.width())
        || y.checked_add(h).is_none_or(|b| b > src.height())
    {
        return Err(ffmpeg::Error::InvalidData);
    }
    // SAFETY: both wrappers own live AVFrames used on this thread. `av_frame_ref` makes `dst`
    // share `src`'s reference-counted buffers (or copies them if `src` is not refcounted); the
    // crop fields are then set within the frame's size (checked above) and applied, which only
    // moves `dst`'s data pointers and size.
    unsafe {
        let d = dst.as_mut_ptr();
        sys::av_frame_unref(d);
        let r = sys::av_frame_ref(d, src.as_ptr());
        if r < 0 {
            return Err(ffmpeg::Error::from(r));
        }
        (*d).crop_left = x as usize;
        (*d).crop_top = y as usize;
        (*d).crop_right = (src.width() - x - w) as usize;
        (*d).crop_bottom = (src.height() - y - h) as usize;
        let r = sys::av_frame_apply_cropping(d, sys::AV_FRAME_CROP_UNALIGNED as c_int);
        if r < 0 {
            sys::av_frame_unref(d);
            return Err(ffmpeg::Error::from(r));
        }
    }
    Ok(())
}

/// Releases what `frame` references (its buffers go back to their pool).
pub(crate) fn unref(frame: &mut ffmpeg::frame::Video) {
    // SAFETY: `frame` owns a live AVFrame; unref leaves it blank and valid.
    unsafe { sys::av_frame_unref(frame.as_mut_ptr()) }
}

/// Sets the scaler's source YCbCr matrix from an `AVColorSpace` value and, when known, the
/// source range (full = JPEG range), keeping every other colour setting. Mirrors FFmpeg 5.1's
/// `vf_scale` with its default `in_color_matrix=auto`.
pub(crate) fn set_source_colorspace(
    ctx: &mut ffmpeg::software::scaling::Context,
    colorspace: i32,
    full_range: Option<bool>,
) {
    // SAFETY: `ctx` wraps a live SwsContext; the get call writes only through the out-pointers
    // given, and `sws_getCoefficients` returns a pointer to a static table.
    unsafe {
        let sws = ctx.as_mut_ptr();
        let mut inv_table: *mut c_int = ptr::null_mut();
        let mut table: *mut c_int = ptr::null_mut();
        let (mut src_range, mut dst_range) = (0, 0);
        let (mut brightness, mut contrast, mut saturation) = (0, 0, 0);
        let r = sys::sws_getColorspaceDetails(
            sws,
            &mut inv_table,
            &mut src_range,
            &mut table,
            &mut dst_range,
            &mut brightness,
            &mut contrast,
            &mut saturation,
        );
        if r < 0 {
            return; // Not a YCbCr source: nothing to set.
        }
        let coefficients = sys::sws_getCoefficients(colorspace);
        let src_range = full_range.map_or(src_range, c_int::from);
        sys::sws_setColorspaceDetails(
            sws,
            coefficients,
            src_range,
            coefficients,
            dst_range,
            brightness,
            contrast,
            saturation,
        );
    }
}

#[cfg(test)]
mod bookkeeping_tests {
    #[test]
    fn reference_bookkeeping_is_not_damage() {
        assert!(super::bookkeeping("[h264 @ 0x55d0] mmco: unref short failure"));
        assert!(!super::bookkeeping("[h264 @ 0x55d0] error while decoding MB 3 2, bytestream -5"));
        assert!(!super::bookkeeping("[h264 @ 0x55d0] concealing 12 DC, 12 AC, 12 MV errors"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matrix_reader_agrees_with_libavutil() {
        for angle in [0.0, 90.0, -90.0, 180.0, 270.0, 30.0] {
            let mut m = [0i32; 9];
            // SAFETY: `m` is a valid 9-element matrix for both calls.
            let want = unsafe {
                sys::av_display_rotation_set(m.as_mut_ptr(), angle);
                sys::av_display_rotation_get(m.as_ptr())
            };
            let bytes: Vec<u8> = m.iter().flat_map(|v| v.to_ne_bytes()).collect();
            let got = super::super::transform::display_matrix_rotation(&bytes).unwrap();
            assert!((got - want).abs() < 1e-6, "angle {angle}: {got} vs {want}");
        }
    }
}
