//! Is a file whole, and does all of it decode? (issue #26)
//!
//! Two levels:
//! - [`structure`], run by every [`super::probe`]: the container's own bookkeeping, from a few
//!   bytes and without decoding. A Matroska/WebM segment, or an MP4 top-level box, that claims
//!   to reach past the end of the file means the file was cut ([`Truncation`]). FFmpeg opens such
//!   files without a word (Matroska keeps its index and duration up front), so without this a
//!   WebM cut to 4 % of its bytes probed as whole.
//! - [`verify`]: decodes every packet of the best video and audio streams through the same
//!   decoders, and so the same damage detection, as `frames` and `audio` (see their module
//!   docs), and lists every damaged stretch by stream, kind and time, including truncation
//!   found from timestamps: a stream whose last decodable frame or sample ends before the end
//!   the container declares. Frames are not converted to RGB and audio is not resampled, so it
//!   costs about one decode of the file.
//!
//! The pipeline runs [`verify`] at index time when asked (`PipelineConfig::verify`), caching the
//! verdict in the manifest like a probe result.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::damage::{Damage, DamageKind};
use super::{AudioDecoder, AudioOptions, MediaError, MediaInfo, VideoDecoder, VideoOptions};

/// The file is shorter than its container says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// Bytes in the file.
    pub file_bytes: u64,
    /// Bytes the container's structure says it has (at least).
    pub expected_bytes: u64,
    /// Where the expected size comes from.
    pub evidence: &'static str,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "truncated: the file has {} of the {} bytes its {} says ({:.1} %)",
            self.file_bytes,
            self.expected_bytes,
            self.evidence,
            100.0 * self.file_bytes as f64 / self.expected_bytes.max(1) as f64
        )
    }
}

/// What decoding one stream to its end found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamCheck {
    /// Video frames, or audio chunks (decoder frames), decoded.
    pub decoded: u64,
    /// Time of the first frame or sample decoded (container clock, seconds).
    pub first: Option<f64>,
    /// End of the last frame or sample decoded.
    pub last_end: Option<f64>,
    /// The end the container declares for the stream, when it declares one.
    pub declared_end: Option<f64>,
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The file.
    pub path: PathBuf,
    /// Every damaged stretch, video first.
    pub damage: Damage,
    /// What the structural check found.
    pub truncation: Option<Truncation>,
    /// The best video stream, when there is one.
    pub video: Option<StreamCheck>,
    /// The best audio stream, when there is one.
    pub audio: Option<StreamCheck>,
}

impl Verification {
    /// Whether the whole file decoded without any damage.
    pub fn is_ok(&self) -> bool {
        self.damage.is_empty() && self.truncation.is_none()
    }

    /// One line: "ok", or every problem found.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.truncation {
            parts.push(t.to_string());
        }
        if !self.damage.is_empty() {
            parts.push(self.damage.summary());
        }
        if parts.is_empty() {
            "ok".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Decodes all of `path` (best video and audio streams) and reports where it is damaged.
/// `deadline` bounds each stream's decode. Errors are those of opening the file (not media,
/// unsupported codec, ...) and the deadline; damage, however bad, is reported, not an error.
pub fn verify(path: &Path, deadline: Option<Duration>) -> Result<Verification, MediaError> {
    let info: MediaInfo = super::probe(path)?;
    let mut damage = Damage::new();
    let video = match &info.video {
        None => None,
        Some(_) => {
            let opts = VideoOptions { deadline, ..VideoOptions::default() };
            let mut dec = VideoDecoder::open(path, &opts)?;
            dec.set_allow_damaged(true);
            let declared_end = dec.time_range().1;
            let scan = dec.decode_all();
            damage.extend(dec.damage());
            let (decoded, first, last_end) =
                fatal_as_damage(scan, &mut damage, "video", declared_end)?;
            Some(StreamCheck { decoded, first, last_end, declared_end })
        }
    };
    let audio = match &info.audio {
        None => None,
        Some(a) => {
            let rate = a.sample_rate.clamp(1, 768_000);
            let opts = AudioOptions { sample_rate: rate, mono: true, deadline };
            let mut dec = AudioDecoder::open(path, &opts)?;
            dec.set_allow_damaged(true);
            let declared_end = dec.time_range().1;
            let scan = dec.decode_all().map(|r| {
                let (first, end) = r.map_or((None, None), |(f, e)| (Some(f), Some(e)));
                (dec.chunks_decoded(), first, end)
            });
            damage.extend(&dec.damage());
            let (decoded, first, last_end) =
                fatal_as_damage(scan, &mut damage, "audio", declared_end)?;
            Some(StreamCheck { decoded, first, last_end, declared_end })
        }
    };
    Ok(Verification { path: path.to_path_buf(), damage, truncation: info.integrity, video, audio })
}

type Scan = (u64, Option<f64>, Option<f64>);

/// A decode that gave up (too many undecodable packets in a row) is damage from where it gave
/// up to the declared end; the deadline and other errors stay errors.
fn fatal_as_damage(
    scan: Result<Scan, MediaError>,
    damage: &mut Damage,
    stream: &'static str,
    declared_end: Option<f64>,
) -> Result<Scan, MediaError> {
    match scan {
        Err(MediaError::Corrupt { at_seconds, reason, .. }) => {
            let end = declared_end.unwrap_or(at_seconds).max(at_seconds);
            damage.add(stream, DamageKind::DecodeError, (at_seconds, end), 0.0, || reason);
            Ok((0, None, None))
        }
        other => other,
    }
}

/// The structural check: `Some` when the container says the file is longer than it is.
/// `format` is FFmpeg's demuxer name ("matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2"); other
/// containers are not checked. Unreadable files give `None` (opening them reports that).
pub fn structure(path: &Path, format: &str) -> Option<Truncation> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let names: Vec<&str> = format.split(',').collect();
    let (expected, evidence) = if names.iter().any(|n| *n == "matroska" || *n == "webm") {
        (matroska_expected_len(&mut file)?, "Matroska segment size")
    } else if names.iter().any(|n| *n == "mov" || *n == "mp4") {
        (mp4_expected_len(&mut file, len)?, "MP4 box sizes")
    } else {
        return None;
    };
    (expected > len).then_some(Truncation { file_bytes: len, expected_bytes: expected, evidence })
}

/// An EBML variable-length integer at the start of `bytes`: (value, length, all value bits set).
fn ebml_vint(bytes: &[u8], keep_marker: bool) -> Option<(u64, usize, bool)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || bytes.len() < len {
        return None;
    }
    let mask = if len == 8 { 0 } else { 0xffu8 >> len };
    let mut v = u64::from(if keep_marker { first } else { first & mask });
    let mut all_ones = first & mask == mask;
    for &b in &bytes[1..len] {
        v = (v << 8) | u64::from(b);
        all_ones &= b == 0xff;
    }
    Some((v, len, all_ones))
}

/// Where the first Matroska segment ends, from its size field (`None` when unknown: live
/// streams write "unknown size").
fn matroska_expected_len(file: &mut std::fs::File) -> Option<u64> {
    const SEGMENT: u64 = 0x1853_8067;
    let mut head = vec![0u8; 4096];
    let n = read_at(file, 0, &mut head)?;
    let head = &head[..n];
    let mut pos = 0usize;
    // The EBML header, then (perhaps after Void elements) the Segment.
    for _ in 0..16 {
        let (id, id_len, _) = ebml_vint(head.get(pos..)?, true)?;
        let (size, size_len, unknown) = ebml_vint(head.get(pos + id_len..)?, false)?;
        let data = (pos + id_len + size_len) as u64;
        if id == SEGMENT {
            return (!unknown).then(|| data.saturating_add(size));
        }
        if unknown {
            return None;
        }
        pos = usize::try_from(data.checked_add(size)?).ok()?;
    }
    None
}

/// Where the last MP4 top-level box ends, when one reaches past `len`; `None` when the boxes
/// fit (or a box header is malformed: not this check's business).
fn mp4_expected_len(file: &mut std::fs::File, len: u64) -> Option<u64> {
    let mut pos = 0u64;
    // Fragmented files have a box pair per fragment; cap the walk all the same.
    for _ in 0..100_000 {
        if pos.checked_add(8)? > len {
            return None;
        }
        let mut h = [0u8; 16];
        let n = read_at(file, pos, &mut h)?;
        if n < 8 {
            return None;
        }
        let size32 = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        let (size, header) = match size32 {
            0 => return None, // extends to the end of the file
            1 if n >= 16 => {
                (u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]), 16)
            }
            1 => return Some(pos + 16),
            s => (s, 8),
        };
        if size < header {
            return None;
        }
        let end = pos.checked_add(size)?;
        if end > len {
            return Some(end);
        }
        pos = end;
        if pos == len {
            return None;
        }
    }
    None
}

/// Reads up to `buf.len()` bytes at `offset`; the count read.
fn read_at(file: &mut std::fs::File, offset: u64, buf: &mut [u8]) -> Option<usize> {
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    #[test]
    fn ebml_integers() {
        assert_eq!(ebml_vint(&[0x81], false), Some((1, 1, false)));
        assert_eq!(ebml_vint(&[0x40, 0x02], false), Some((2, 2, false)));
        assert_eq!(ebml_vint(&[0x1a, 0x45, 0xdf, 0xa3], true), Some((0x1a45_dfa3, 4, false)));
        let unknown = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(ebml_vint(&unknown, false).map(|v| v.2), Some(true));
        assert_eq!(ebml_vint(&[0x00], false), None);
        assert_eq!(ebml_vint(&[0x40], false), None);
    }

    #[test]
    fn matroska_segment_size_against_the_file_length() {
        // EBML header (empty body), then a Segment of 100 bytes, then only 10 of them.
        let mut b = vec![0x1a, 0x45, 0xdf, 0xa3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x80 | 100];
        b.extend([0u8; 10]);
        let (_d, p) = temp("x.mkv", &b);
        let t = structure(&p, "matroska,webm").unwrap();
        assert_eq!((t.file_bytes, t.expected_bytes), (20, 110));
        b.extend([0u8; 90]);
        let (_d, p) = temp("y.webm", &b);
        assert_eq!(structure(&p, "matroska,webm"), None);
        // Unknown size (live): no verdict.
        let live = [0x1a, 0x45, 0xdf, 0xa3, 0x80, 0x18, 0x53, 0x80, 0x67, 0xff, 0, 0];
        let (_d, p) = temp("z.mkv", &live);
        assert_eq!(structure(&p, "matroska,webm"), None);
    }

    #[test]
    fn mp4_boxes_against_the_file_length() {
        let mut b = Vec::new();
        b.extend(16u32.to_be_bytes());
        b.extend(b"ftypisom\0\0\0\0");
        b.extend(1000u32.to_be_bytes());
        b.extend(b"mdat");
        b.extend([0u8; 100]);
        let (_d, p) = temp("x.mp4", &b);
        let t = structure(&p, "mov,mp4,m4a,3gp,3g2,mj2").unwrap();
        assert_eq!((t.file_bytes, t.expected_bytes), (124, 1016));
        assert!(t.to_string().contains("124 of the 1016 bytes"), "{t}");
        b.extend([0u8; 892]);
        let (_d, p) = temp("y.mp4", &b);
        assert_eq!(structure(&p, "mov,mp4,m4a,3gp,3g2,mj2"), None);
        let (_d, p) = temp("z.wav", &b);
        assert_eq!(structure(&p, "wav"), None);
    }
}
