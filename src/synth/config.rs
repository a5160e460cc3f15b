//! [`SynthConfig`]: everything that decides a synthetic world, validated before any work.
//!
//! The defaults make a good demo: 4 s clips at 160×160, 25 fps, 16 kHz mono audio (the VGGish
//! rate), 1–3 objects of which 1–2 sound, with a light dose of every hard case so a trained
//! model meets them. Each hard-case knob is documented with what it does to the task; see also
//! `docs/synthetic-world.md`. The whole config is recorded in every clip's annotation `params`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::media::Container;

use super::SynthError;

/// Fractions of clips in each split; they must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitRatios {
    /// Training fraction.
    pub train: f64,
    /// Validation fraction.
    pub val: f64,
    /// Test fraction.
    pub test: f64,
}

impl Default for SplitRatios {
    fn default() -> Self {
        SplitRatios { train: 0.7, val: 0.15, test: 0.15 }
    }
}

impl std::str::FromStr for SplitRatios {
    type Err = String;
    /// Parses `train=0.7,val=0.15,test=0.15` (names may appear in any order; missing ones are 0).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut r = SplitRatios { train: 0.0, val: 0.0, test: 0.0 };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("split part {part:?} is not NAME=FRACTION"))?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("split fraction {value:?} is not a number"))?;
            match name.trim() {
                "train" => r.train = v,
                "val" => r.val = v,
                "test" => r.test = v,
                other => {
                    return Err(format!("unknown split {other:?} (expected train, val, test)"))
                }
            }
        }
        r.validate()?;
        Ok(r)
    }
}

impl SplitRatios {
    /// Checks that every fraction is in [0, 1] and that they sum to 1 (±1e-6).
    pub fn validate(&self) -> Result<(), String> {
        for (n, v) in [("train", self.train), ("val", self.val), ("test", self.test)] {
            if !(0.0..=1.0).contains(&v) || !v.is_finite() {
                return Err(format!("split {n}={v} is outside [0, 1]"));
            }
        }
        let sum = self.train + self.val + self.test;
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!("split fractions sum to {sum}, not 1"));
        }
        Ok(())
    }
}

/// Everything that decides a synthetic world. Build with `Default` and struct update syntax,
/// then [`SynthConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// Number of clips.
    pub clips: usize,
    /// Clip duration in seconds.
    pub seconds: f64,
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Audio sample rate in Hz (mono).
    pub sample_rate: u32,
    /// Master seed: clip `i` is generated from the ChaCha stream `(seed, i)` alone.
    pub seed: u64,
    /// Split fractions (assigned by clip, recorded in the annotations).
    pub split: SplitRatios,
    /// Container and codecs.
    pub container: Container,
    /// Video quality (x264/VP9 CRF; lower is better and bigger).
    pub crf: u32,
    /// Worker threads (0 = all cores). Output does not depend on it.
    pub threads: usize,
    /// Fewest objects on screen per clip.
    pub min_objects: usize,
    /// Most objects on screen per clip.
    pub max_objects: usize,
    /// Most sounding objects per clip (at least one sounds unless the clip is silent).
    pub max_sounding: usize,
    /// Probability that a clip also carries a sound whose source is not visible (harder: audio
    /// evidence without a visual counterpart).
    pub offscreen_prob: f64,
    /// Probability that no on-screen object sounds (harder: visual objects without audio).
    pub silence_prob: f64,
    /// Background noise at this SNR in dB relative to the clip's sound; `None` = clean audio.
    pub noise_snr_db: Option<f64>,
    /// Camera pan amplitude in pixels (everything moves together; 0 = static camera).
    pub pan_px: f64,
    /// Probability that a clip shows two objects of the same class of which only one sounds
    /// (harder: only the timing of the pulses tells the sounding one apart).
    pub duplicate_prob: f64,
    /// Multiplier of every object's radius (1 = radii of 8–13 % of the shorter side). Larger
    /// objects make the localisation boxes big enough for the published cIoU protocol (its
    /// median threshold caps cIoU at 2|G|/N). Objects keep the movement range of their unscaled
    /// size, so a big one may be partly cut by the border (its box covers the drawn pixels).
    pub object_scale: f64,
    /// An up direction, as natural video has one: a horizon in the background (a lighter,
    /// cooler sky above a darker, warmer ground, at a random height per clip) and light from
    /// above on every object (its top brighter than its bottom). Off by default, so the default
    /// world (whose textures and most shapes have no up) is unchanged; what the rotation task
    /// (RotNet) needs to have anything to learn.
    pub horizon: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            out: PathBuf::from("synth-out"),
            clips: 20,
            seconds: 4.0,
            width: 160,
            height: 160,
            fps: 25,
            sample_rate: 16_000,
            seed: 0,
            split: SplitRatios::default(),
            container: Container::Mp4,
            crf: 23,
            threads: 0,
            min_objects: 1,
            max_objects: 3,
            max_sounding: 2,
            offscreen_prob: 0.1,
            silence_prob: 0.05,
            noise_snr_db: Some(25.0),
            pan_px: 6.0,
            duplicate_prob: 0.1,
            object_scale: 1.0,
            horizon: false,
        }
    }
}

impl SynthConfig {
    /// Checks every field; the error names the field and the allowed range.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::Config(m));
        if self.clips == 0 || self.clips > 1_000_000 {
            return bad(format!("clips={} must be in 1..=1000000", self.clips));
        }
        if !(0.2..=600.0).contains(&self.seconds) || !self.seconds.is_finite() {
            return bad(format!("seconds={} must be in 0.2..=600", self.seconds));
        }
        if self.width < 32 || self.height < 32 || self.width > 2048 || self.height > 2048 {
            return bad(format!("size {}x{} must be in 32..=2048 each", self.width, self.height));
        }
        if self.width % 2 != 0 || self.height % 2 != 0 {
            return bad(format!("size {}x{} must be even", self.width, self.height));
        }
        if !(1..=120).contains(&self.fps) {
            return bad(format!("fps={} must be in 1..=120", self.fps));
        }
        if !(8_000..=48_000).contains(&self.sample_rate) {
            return bad(format!("rate={} must be in 8000..=48000", self.sample_rate));
        }
        if self.frames() < 2 {
            return bad(format!(
                "seconds={} at fps={} gives fewer than 2 frames",
                self.seconds, self.fps
            ));
        }
        self.split.validate().map_err(SynthError::Config)?;
        if self.crf > 51 {
            return bad(format!("crf={} must be at most 51", self.crf));
        }
        if self.min_objects == 0 || self.min_objects > self.max_objects || self.max_objects > 6 {
            return bad(format!(
                "objects {}..={} must satisfy 1 <= min <= max <= 6",
                self.min_objects, self.max_objects
            ));
        }
        if self.max_sounding == 0 || self.max_sounding > 2 {
            return bad(format!("max_sounding={} must be 1 or 2", self.max_sounding));
        }
        for (n, p) in [
            ("offscreen_prob", self.offscreen_prob),
            ("silence_prob", self.silence_prob),
            ("duplicate_prob", self.duplicate_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(format!("{n}={p} must be a probability in [0, 1]"));
            }
        }
        if let Some(snr) = self.noise_snr_db {
            if !(-20.0..=100.0).contains(&snr) {
                return bad(format!("noise SNR {snr} dB must be in -20..=100"));
            }
        }
        if !(self.object_scale > 0.0 && self.object_scale <= 4.0) {
            return bad(format!("object_scale={} must be in (0, 4]", self.object_scale));
        }
        let max_pan = f64::from(self.width.min(self.height)) / 8.0;
        if !(0.0..=max_pan).contains(&self.pan_px) {
            return bad(format!(
                "pan={} px must be in 0..={max_pan} (1/8 of the frame)",
                self.pan_px
            ));
        }
        Ok(())
    }

    /// Frames per clip.
    pub fn frames(&self) -> usize {
        (self.seconds * f64::from(self.fps)).round() as usize
    }

    /// Audio samples per clip (exactly the video duration).
    pub fn samples(&self) -> usize {
        (self.frames() as f64 * f64::from(self.sample_rate) / f64::from(self.fps)).round() as usize
    }

    /// The `pretext synth` flags that reproduce this world (every option except `--out` and
    /// `--threads`, which do not change the data).
    pub fn to_args(&self) -> Vec<String> {
        let s = self.split;
        let mut a = vec![
            format!("--clips {}", self.clips),
            format!("--seconds {}", self.seconds),
            format!("--size {}x{}", self.width, self.height),
            format!("--fps {}", self.fps),
            format!("--rate {}", self.sample_rate),
            format!("--seed {}", self.seed),
            format!("--split train={},val={},test={}", s.train, s.val, s.test),
            format!("--container {}", self.container.extension()),
            format!("--crf {}", self.crf),
            format!("--objects {}-{}", self.min_objects, self.max_objects),
            format!("--max-sounding {}", self.max_sounding),
            format!("--offscreen {}", self.offscreen_prob),
            format!("--silence {}", self.silence_prob),
        ];
        a.push(match self.noise_snr_db {
            Some(v) => format!("--noise-snr {v}"),
            None => "--noise-snr none".to_string(),
        });
        a.push(format!("--pan {}", self.pan_px));
        a.push(format!("--duplicate {}", self.duplicate_prob));
        // Only when set, so the README of a default-scale world is unchanged.
        if self.object_scale != 1.0 {
            a.push(format!("--object-scale {}", self.object_scale));
        }
        if self.horizon {
            a.push("--horizon".to_string());
        }
        a
    }

    /// Media file name of clip `index`.
    pub fn file_name(&self, index: usize) -> String {
        format!("clip_{index:04}.{}", self.container.extension())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SynthConfig::default().validate().unwrap();
    }

    #[test]
    fn split_parses_and_rejects_bad_sums() {
        let s: SplitRatios = "train=0.8,test=0.2".parse().unwrap();
        assert_eq!((s.train, s.val, s.test), (0.8, 0.0, 0.2));
        assert!("train=0.8,val=0.3".parse::<SplitRatios>().unwrap_err().contains("sum"));
        assert!("dev=1".parse::<SplitRatios>().is_err());
    }

    #[test]
    fn bad_values_name_the_field() {
        let c = SynthConfig { silence_prob: 1.5, ..SynthConfig::default() };
        assert!(c.validate().unwrap_err().to_string().contains("silence_prob"));
        let c = SynthConfig { width: 31, ..SynthConfig::default() };
        assert!(c.validate().is_err());
    }
}
