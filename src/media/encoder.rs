//! Writing media files: one video stream from packed RGB24 frames and one mono audio stream from
//! f32 samples, encoded through ffmpeg-next and muxed into MP4, Matroska or WebM.
//!
//! Design:
//! - A [`MediaEncoder`] is created, fed and finished on one thread (FFmpeg contexts are not
//!   `Send`); parallelism belongs *across* files, never inside one, so output bytes do not depend
//!   on the machine's thread count.
//! - Deterministic bytes: every encoder runs with `threads=1` and `AV_CODEC_FLAG_BITEXACT`, and
//!   the muxer with `AVFMT_FLAG_BITEXACT` (`fflags=+bitexact`), so no library version strings or
//!   wall-clock times end up in the file. x264 also runs `cpu-independent` (its AVX-512
//!   macroblock-tree code let uninitialised heap memory into the output, so bytes depended on
//!   which clips a thread had encoded before). Same inputs and same FFmpeg build give the same
//!   bytes, whatever else the process encodes.
//! - Video frames get `pts = index` on a `1/fps` time base; audio frames are cut to the encoder's
//!   `frame_size` with `pts = first sample index` on a `1/rate` time base (the last frame is
//!   zero-padded only when the codec cannot take a short final frame). Packets are rescaled to the
//!   stream time base the muxer picked in `write_header`, both encoders are drained on
//!   [`MediaEncoder::finish`], and the trailer is written.
//! - RGB→YUV 4:2:0 conversion is done here (BT.601, limited range, 2×2 chroma average) rather
//!   than with swscale: it is exact, cheap at these sizes, and what every decoder assumes for
//!   untagged SD video.
//! - The file is written under a temporary sibling name and renamed on success, so a failure
//!   never leaves a half-written file under the final name.

use std::path::{Path, PathBuf};

use ffmpeg::{codec, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::MediaError;

/// The container (and with it, the codecs) of an encoded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// H.264 (libx264) + AAC in MP4.
    #[default]
    Mp4,
    /// H.264 (libx264) + AAC in Matroska.
    Mkv,
    /// VP9 (libvpx-vp9) + Vorbis (libvorbis) in WebM.
    Webm,
}

impl Container {
    /// The file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mkv => "mkv",
            Container::Webm => "webm",
        }
    }

    /// FFmpeg's muxer name.
    fn muxer(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mkv => "matroska",
            Container::Webm => "webm",
        }
    }

    /// FFmpeg's (video, audio) encoder names.
    fn encoders(self) -> (&'static str, &'static str) {
        match self {
            Container::Mp4 | Container::Mkv => ("libx264", "aac"),
            Container::Webm => ("libvpx-vp9", "libvorbis"),
        }
    }
}

impl std::str::FromStr for Container {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mp4" => Ok(Container::Mp4),
            "mkv" | "matroska" => Ok(Container::Mkv),
            "webm" => Ok(Container::Webm),
            other => Err(format!("unknown container {other:?} (expected mp4, mkv or webm)")),
        }
    }
}

/// What to encode: frame size and rate, audio rate, container and quality.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second (integer, constant frame rate).
    pub fps: u32,
    /// Audio sample rate in Hz (mono).
    pub sample_rate: u32,
    /// Container and codecs.
    pub container: Container,
    /// Video quality as a constant-rate factor (x264 CRF 0–51, VP9 CRF 0–63); lower is better.
    pub crf: u32,
    /// Audio bit rate in bits per second.
    pub audio_bitrate: u32,
    /// Keyframe interval in frames.
    pub gop: u32,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            width: 160,
            height: 160,
            fps: 25,
            sample_rate: 16_000,
            container: Container::Mp4,
            crf: 23,
            audio_bitrate: 64_000,
            gop: 25,
        }
    }
}

impl EncoderConfig {
    /// Checks the values; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.width < 16 || self.height < 16 || self.width > 4096 || self.height > 4096 {
            return Err(format!("frame size {}x{} outside 16..=4096", self.width, self.height));
        }
        if self.width % 2 != 0 || self.height % 2 != 0 {
            return Err(format!(
                "frame size {}x{} must be even (4:2:0 chroma)",
                self.width, self.height
            ));
        }
        if !(1..=240).contains(&self.fps) {
            return Err(format!("fps {} outside 1..=240", self.fps));
        }
        if !(8_000..=96_000).contains(&self.sample_rate) {
            return Err(format!("sample rate {} outside 8000..=96000", self.sample_rate));
        }
        if self.crf > 51 {
            return Err(format!("crf {} above 51", self.crf));
        }
        if self.gop == 0 {
            return Err("gop must be at least 1".into());
        }
        Ok(())
    }
}

/// An open output file accepting RGB frames and mono audio; see the module docs.
pub struct MediaEncoder {
    path: PathBuf,
    tmp: PathBuf,
    config: EncoderConfig,
    /// `None` once closed by [`MediaEncoder::finish`].
    octx: Option<format::context::Output>,
    video: encoder::Video,
    audio: encoder::Audio,
    video_tb: Rational,
    audio_tb: Rational,
    video_stream_tb: Rational,
    audio_stream_tb: Rational,
    yuv: frame::Video,
    audio_frame_size: usize,
    audio_format: format::Sample,
    pending_audio: Vec<f32>,
    audio_pts: i64,
    frames: i64,
}

fn ff<'a>(path: &'a Path, context: &'static str) -> impl FnOnce(ffmpeg::Error) -> MediaError + 'a {
    move |source| MediaError::Ffmpeg { path: path.to_path_buf(), context, source }
}

fn encode_err(path: &Path, reason: impl Into<String>) -> MediaError {
    MediaError::Encode { path: path.to_path_buf(), reason: reason.into() }
}

impl MediaEncoder {
    /// Creates `path` (written under a temporary sibling until [`MediaEncoder::finish`]).
    pub fn create(path: &Path, config: &EncoderConfig) -> Result<Self, MediaError> {
        config.validate().map_err(|r| encode_err(path, r))?;
        super::ensure_init();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.partial"));
        let mut octx = format::output_as(&tmp, config.container.muxer())
            .map_err(ff(path, "creating the output file"))?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let (vname, aname) = config.container.encoders();

        // Video encoder.
        let vcodec = encoder::find_by_name(vname)
            .ok_or_else(|| encode_err(path, format!("FFmpeg has no {vname} encoder")))?;
        let video_tb = Rational(1, config.fps as i32);
        let mut venc = codec::context::Context::new_with_codec(vcodec)
            .encoder()
            .video()
            .map_err(ff(path, "allocating the video encoder"))?;
        venc.set_width(config.width);
        venc.set_height(config.height);
        venc.set_format(format::Pixel::YUV420P);
        venc.set_time_base(video_tb);
        venc.set_frame_rate(Some(Rational(config.fps as i32, 1)));
        venc.set_gop(config.gop);
        if global_header {
            venc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut vopts = Dictionary::new();
        vopts.set("threads", "1");
        vopts.set("flags", "+bitexact");
        let crf = config.crf.to_string();
        match config.container {
            Container::Mp4 | Container::Mkv => {
                vopts.set("preset", "veryfast");
                vopts.set("crf", &crf);
                // `cpu-independent` makes x264 use its C macroblock-tree propagation
                // (`mbtree_propagate_cost/list`). With the AVX-512 versions the bottom-right
                // macroblocks depended on uninitialised heap memory (output became stable with
                // MALLOC_PERTURB_, with AVX-512 masked out, or with this flag), i.e. on which
                // clips a thread had encoded before: bytes changed with --threads (issue #26).
                vopts.set("x264-params", "sliced-threads=0:lookahead-threads=1:cpu-independent=1");
            }
            Container::Webm => {
                vopts.set("deadline", "realtime");
                vopts.set("cpu-used", "8");
                vopts.set("b", "0");
                vopts.set("crf", &crf);
                vopts.set("row-mt", "0");
            }
        }
        let video = venc.open_with(vopts).map_err(ff(path, "opening the video encoder"))?;

        // Audio encoder.
        let acodec = encoder::find_by_name(aname)
            .ok_or_else(|| encode_err(path, format!("FFmpeg has no {aname} encoder")))?;
        let audio_format = acodec
            .audio()
            .ok()
            .and_then(|a| a.formats().and_then(|mut f| f.next()))
            .unwrap_or(format::Sample::F32(format::sample::Type::Planar));
        if !matches!(audio_format, format::Sample::F32(_)) {
            return Err(encode_err(path, format!("{aname} does not take f32 samples")));
        }
        let variable_frames =
            acodec.capabilities().contains(codec::Capabilities::VARIABLE_FRAME_SIZE);
        let small_last = acodec.capabilities().contains(codec::Capabilities::SMALL_LAST_FRAME);
        let audio_tb = Rational(1, config.sample_rate as i32);
        let mut aenc = codec::context::Context::new_with_codec(acodec)
            .encoder()
            .audio()
            .map_err(ff(path, "allocating the audio encoder"))?;
        aenc.set_rate(config.sample_rate as i32);
        aenc.set_channel_layout(ffmpeg::ChannelLayout::MONO);
        aenc.set_channels(1);
        aenc.set_format(audio_format);
        aenc.set_time_base(audio_tb);
        aenc.set_bit_rate(config.audio_bitrate as usize);
        if global_header {
            aenc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut aopts = Dictionary::new();
        aopts.set("threads", "1");
        aopts.set("flags", "+bitexact");
        let audio = aenc.open_with(aopts).map_err(ff(path, "opening the audio encoder"))?;
        let mut audio_frame_size = audio.frame_size() as usize;
        if audio_frame_size == 0 || variable_frames {
            audio_frame_size = 1024;
        }
        let _ = small_last;

        {
            let mut vst = octx.add_stream(vcodec).map_err(ff(path, "adding the video stream"))?;
            vst.set_time_base(video_tb);
            vst.set_parameters(&video);
        }
        {
            let mut ast = octx.add_stream(acodec).map_err(ff(path, "adding the audio stream"))?;
            ast.set_time_base(audio_tb);
            ast.set_parameters(&audio);
        }
        let mut mopts = Dictionary::new();
        mopts.set("fflags", "+bitexact");
        octx.write_header_with(mopts).map_err(ff(path, "writing the container header"))?;
        let video_stream_tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(video_tb);
        let audio_stream_tb = octx.stream(1).map(|s| s.time_base()).unwrap_or(audio_tb);
        let yuv = frame::Video::new(format::Pixel::YUV420P, config.width, config.height);
        Ok(MediaEncoder {
            path: path.to_path_buf(),
            tmp,
            config: config.clone(),
            octx: Some(octx),
            video,
            audio,
            video_tb,
            audio_tb,
            video_stream_tb,
            audio_stream_tb,
            yuv,
            audio_frame_size,
            audio_format,
            pending_audio: Vec::new(),
            audio_pts: 0,
            frames: 0,
        })
    }

    /// The configuration this file is encoded with.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Encodes the next video frame: packed RGB24, `width * height * 3` bytes, shown at
    /// `index / fps` seconds.
    pub fn push_frame(&mut self, rgb: &[u8]) -> Result<(), MediaError> {
        let (w, h) = (self.config.width as usize, self.config.height as usize);
        if rgb.len() != w * h * 3 {
            return Err(encode_err(
                &self.path,
                format!("frame has {} bytes, expected {w}x{h}x3 = {}", rgb.len(), w * h * 3),
            ));
        }
        rgb_to_yuv420(rgb, w, h, &mut self.yuv);
        self.yuv.set_pts(Some(self.frames));
        self.frames += 1;
        self.video.send_frame(&self.yuv).map_err(ff(&self.path, "sending a video frame"))?;
        self.drain_video()
    }

    /// Appends mono samples (nominally in [-1, 1]); whole encoder frames are encoded at once,
    /// the rest waits for the next call or [`MediaEncoder::finish`].
    pub fn push_audio(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        self.pending_audio.extend_from_slice(samples);
        let n = self.audio_frame_size;
        let whole = self.pending_audio.len() / n * n;
        if whole == 0 {
            return Ok(());
        }
        let chunk: Vec<f32> = self.pending_audio.drain(..whole).collect();
        for piece in chunk.chunks(n) {
            self.send_audio(piece, n)?;
        }
        Ok(())
    }

    fn send_audio(&mut self, piece: &[f32], frame_len: usize) -> Result<(), MediaError> {
        let mut f = frame::Audio::new(self.audio_format, frame_len, ffmpeg::ChannelLayout::MONO);
        f.set_rate(self.config.sample_rate);
        {
            let plane = f.plane_mut::<f32>(0);
            let m = piece.len().min(plane.len());
            plane[..m].copy_from_slice(&piece[..m]);
            plane[m..].fill(0.0);
        }
        f.set_pts(Some(self.audio_pts));
        self.audio_pts += piece.len() as i64;
        self.audio.send_frame(&f).map_err(ff(&self.path, "sending an audio frame"))?;
        self.drain_audio()
    }

    fn drain_video(&mut self) -> Result<(), MediaError> {
        let mut pkt = Packet::empty();
        loop {
            match self.video.receive_packet(&mut pkt) {
                Ok(()) => {
                    pkt.set_stream(0);
                    // Constant frame rate: every frame lasts one tick of 1/fps. x264 leaves the
                    // duration unset, and without it MP4 ends the track one frame early.
                    pkt.set_duration(1);
                    pkt.rescale_ts(self.video_tb, self.video_stream_tb);
                    write_packet(&mut self.octx, &pkt, &self.path)?;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(e) => return Err(ff(&self.path, "receiving a video packet")(e)),
            }
        }
    }

    fn drain_audio(&mut self) -> Result<(), MediaError> {
        let mut pkt = Packet::empty();
        loop {
            match self.audio.receive_packet(&mut pkt) {
                Ok(()) => {
                    pkt.set_stream(1);
                    pkt.rescale_ts(self.audio_tb, self.audio_stream_tb);
                    write_packet(&mut self.octx, &pkt, &self.path)?;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(e) => return Err(ff(&self.path, "receiving an audio packet")(e)),
            }
        }
    }

    /// Encodes the remaining audio, drains both encoders, writes the trailer and moves the file
    /// to its final name.
    pub fn finish(mut self) -> Result<(), MediaError> {
        let rest = std::mem::take(&mut self.pending_audio);
        if !rest.is_empty() {
            let small_last = self.audio.codec().is_some_and(|c| {
                c.capabilities().contains(codec::Capabilities::SMALL_LAST_FRAME)
                    || c.capabilities().contains(codec::Capabilities::VARIABLE_FRAME_SIZE)
            });
            let len = if small_last { rest.len() } else { self.audio_frame_size };
            self.send_audio(&rest, len)?;
        }
        self.video.send_eof().map_err(ff(&self.path, "flushing the video encoder"))?;
        self.drain_video()?;
        self.audio.send_eof().map_err(ff(&self.path, "flushing the audio encoder"))?;
        self.drain_audio()?;
        let mut octx =
            self.octx.take().ok_or_else(|| encode_err(&self.path, "encoder already closed"))?;
        octx.write_trailer().map_err(ff(&self.path, "writing the trailer"))?;
        drop(octx);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| MediaError::Io { path: self.path.clone(), source: e })
    }
}

impl Drop for MediaEncoder {
    fn drop(&mut self) {
        // Only reached without `finish` (an error path): remove the partial file. After a
        // successful `finish` the temporary name no longer exists and this is a no-op.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn write_packet(
    octx: &mut Option<format::context::Output>,
    pkt: &Packet,
    path: &Path,
) -> Result<(), MediaError> {
    let octx = octx.as_mut().ok_or_else(|| encode_err(path, "encoder already closed"))?;
    pkt.write_interleaved(octx).map_err(ff(path, "writing a packet"))
}

/// BT.601 limited-range RGB24 → YUV 4:2:0 into `out` (which respects FFmpeg's line strides).
fn rgb_to_yuv420(rgb: &[u8], w: usize, h: usize, out: &mut frame::Video) {
    let ys = out.stride(0);
    {
        let y = out.data_mut(0);
        for row in 0..h {
            let src = &rgb[row * w * 3..(row + 1) * w * 3];
            let dst = &mut y[row * ys..row * ys + w];
            for (d, p) in dst.iter_mut().zip(src.chunks_exact(3)) {
                let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
                *d = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
            }
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let us = out.stride(1);
    let vs = out.stride(2);
    let mut u_rows = vec![0u8; cw * ch];
    let mut v_rows = vec![0u8; cw * ch];
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut r, mut g, mut b) = (0i32, 0i32, 0i32);
            for dy in 0..2 {
                let base = ((2 * cy + dy) * w + 2 * cx) * 3;
                for dx in 0..2 {
                    r += rgb[base + dx * 3] as i32;
                    g += rgb[base + dx * 3 + 1] as i32;
                    b += rgb[base + dx * 3 + 2] as i32;
                }
            }
            let (r, g, b) = ((r + 2) >> 2, (g + 2) >> 2, (b + 2) >> 2);
            u_rows[cy * cw + cx] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8;
            v_rows[cy * cw + cx] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8;
        }
    }
    {
        let u = out.data_mut(1);
        for cy in 0..ch {
            u[cy * us..cy * us + cw].copy_from_slice(&u_rows[cy * cw..(cy + 1) * cw]);
        }
    }
    let v = out.data_mut(2);
    for cy in 0..ch {
        v[cy * vs..cy * vs + cw].copy_from_slice(&v_rows[cy * cw..(cy + 1) * cw]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_parses_and_names_extension() {
        assert_eq!("MKV".parse::<Container>(), Ok(Container::Mkv));
        assert_eq!(Container::Webm.extension(), "webm");
        assert!("avi".parse::<Container>().is_err());
    }

    #[test]
    fn odd_sizes_are_rejected() {
        let c = EncoderConfig { width: 33, ..EncoderConfig::default() };
        assert!(c.validate().unwrap_err().contains("even"));
    }

    #[test]
    fn writes_a_file_the_ffmpeg_probe_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.mp4");
        let cfg = EncoderConfig { width: 32, height: 32, ..EncoderConfig::default() };
        let mut enc = MediaEncoder::create(&path, &cfg).unwrap();
        for i in 0..10u8 {
            enc.push_frame(&vec![i * 20; 32 * 32 * 3]).unwrap();
            enc.push_audio(&vec![0.1; 640]).unwrap();
        }
        enc.finish().unwrap();
        let ictx = format::input(&path).unwrap();
        assert_eq!(ictx.streams().count(), 2);
        assert!(!dir.path().join(".x.mp4.partial").exists());
    }
}
