//! Every `unsafe` call into FFmpeg that ffmpeg-next does not wrap (or wraps unsoundly) lives here.
//!
//! - [`open_input`]: `avformat_open_input` with an interrupt callback whose state is owned by the
//!   returned [`Demuxer`] (ffmpeg-next's `input_with_interrupt` leaks its closure), so blocking
//!   reads inside FFmpeg give up once the per-file deadline passes.
//! - [`audio_plane`]: the bytes of one audio plane. ffmpeg-next's `Audio::data(i)` uses
//!   `linesize[i]`, which FFmpeg only sets for plane 0, and `plane::<T>()` ignores the channel count
//!   of packed formats; this reads `extended_data` with the real length.
//! - [`stream_layout`]: channel count and layout description from `AVCodecParameters`, without
//!   opening a decoder.
//! - [`container_start_time`]: `AVFormatContext::start_time`, which ffmpeg-next does not expose.
//!
//! Each function documents the invariants it relies on; nothing else in `media` uses `unsafe`.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CString};
use std::path::Path;
use std::ptr;
use std::time::Instant;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi as sys;

/// An opened input whose interrupt-callback state lives exactly as long as the context.
pub(crate) struct Demuxer {
    /// The format context. Declared first so it is dropped (closed) before `_interrupt`.
    pub input: ffmpeg::format::context::Input,
    /// The state the interrupt callback points to; boxed so its address never moves.
    _interrupt: Box<Option<Instant>>,
}

extern "C" fn interrupt_callback(opaque: *mut c_void) -> c_int {
    if opaque.is_null() {
        return 0;
    }
    // SAFETY: `opaque` points into the `Box<Option<Instant>>` owned by the `Demuxer` that owns
    // the format context calling us; the box outlives the context (field drop order).
    let deadline = unsafe { &*(opaque as *const Option<Instant>) };
    match deadline {
        Some(d) if Instant::now() >= *d => 1,
        _ => 0,
    }
}

/// Opens `path` and reads stream info; FFmpeg's blocking I/O is interrupted after `deadline`.
pub(crate) fn open_input(path: &Path, deadline: Option<Instant>) -> Result<Demuxer, ffmpeg::Error> {
    use std::os::unix::ffi::OsStrExt;
    let cpath =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| ffmpeg::Error::InvalidData)?;
    let state: Box<Option<Instant>> = Box::new(deadline);
    // SAFETY: standard avformat open sequence. On `avformat_open_input` failure FFmpeg frees the
    // context itself; on `avformat_find_stream_info` failure we close it. The callback's opaque
    // pointer refers to `state`, which the returned `Demuxer` keeps alive past the context.
    unsafe {
        let mut ps = sys::avformat_alloc_context();
        if ps.is_null() {
            return Err(ffmpeg::Error::Other { errno: sys::ENOMEM });
        }
        (*ps).interrupt_callback = sys::AVIOInterruptCB {
            callback: Some(interrupt_callback),
            opaque: &*state as *const Option<Instant> as *mut c_void,
        };
        let r = sys::avformat_open_input(&mut ps, cpath.as_ptr(), ptr::null_mut(), ptr::null_mut());
        if r != 0 {
            return Err(ffmpeg::Error::from(r));
        }
        let r = sys::avformat_find_stream_info(ps, ptr::null_mut());
        if r < 0 {
            sys::avformat_close_input(&mut ps);
            return Err(ffmpeg::Error::from(r));
        }
        Ok(Demuxer { input: ffmpeg::format::context::Input::wrap(ps), _interrupt: state })
    }
}

/// `AVFormatContext::start_time` in seconds, if known.
pub(crate) fn container_start_time(input: &ffmpeg::format::context::Input) -> Option<f64> {
    // SAFETY: reading a plain field of a live context.
    let st = unsafe { (*input.as_ptr()).start_time };
    (st != sys::AV_NOPTS_VALUE).then(|| st as f64 / f64::from(sys::AV_TIME_BASE))
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
