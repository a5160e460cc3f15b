//! 32-bit float WAV (WAVE_FORMAT_IEEE_FLOAT) writing and reading, interleaved channels.

use std::path::Path;

use super::{write_atomic, IoError};

/// Writes interleaved f32 samples as a float WAV file, atomically.
pub fn write_wav_f32(
    path: &Path,
    rate: u32,
    channels: u16,
    samples: &[f32],
) -> Result<(), IoError> {
    let data_len = (samples.len() * 4) as u32;
    let mut out = Vec::with_capacity(58 + samples.len() * 4);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(50 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    out.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * channels as u32 * 4).to_le_bytes());
    out.extend_from_slice(&(channels * 4).to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // cbSize
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&((samples.len() / channels.max(1) as usize) as u32).to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    write_atomic(path, &out)
}

/// Reads a float-32 or PCM-16 WAV file: `(rate, channels, interleaved samples)`.
pub fn read_wav_f32(path: &Path) -> Result<(u32, u16, Vec<f32>), IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    let bad = |reason: &str| IoError::Format {
        path: path.to_path_buf(),
        format: "wav",
        reason: reason.to_string(),
    };
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("missing RIFF/WAVE header"));
    }
    let (mut fmt, mut rate, mut channels, mut bits) = (0u16, 0u32, 0u16, 0u16);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body =
            bytes.get(at + 8..(at + 8 + len).min(bytes.len())).ok_or_else(|| bad("chunk"))?;
        if id == b"fmt " && body.len() >= 16 {
            fmt = u16::from_le_bytes([body[0], body[1]]);
            channels = u16::from_le_bytes([body[2], body[3]]);
            rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            bits = u16::from_le_bytes([body[14], body[15]]);
            if fmt == 0xFFFE && body.len() >= 26 {
                fmt = u16::from_le_bytes([body[24], body[25]]);
            }
        } else if id == b"data" {
            let samples = match (fmt, bits) {
                (3, 32) => body
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                (1, 16) => body
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0)
                    .collect(),
                _ => return Err(bad(&format!("unsupported sample format {fmt}/{bits} bits"))),
            };
            return Ok((rate, channels, samples));
        }
        at += 8 + len + (len & 1);
    }
    Err(bad("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let s: Vec<f32> = (0..100).map(|i| (i as f32 * 0.1).sin()).collect();
        write_wav_f32(&path, 16000, 1, &s).unwrap();
        let (rate, ch, back) = read_wav_f32(&path).unwrap();
        assert_eq!((rate, ch), (16000, 1));
        assert_eq!(back, s);
    }
}
