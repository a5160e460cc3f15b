//! Spectrograms against the reference implementations (issue #3), and `pretext spectrogram`.
//!
//! The goldens under `tests/golden/` were written by `tests/golden/make_golden.py` (librosa,
//! scipy, torchaudio, and VGGish's `mel_features.py`, all in float64); `manifest.json` says which
//! input and how many of its samples produced each output. Every element must match within
//! 1e-4 on these log outputs. No Python is needed here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pretext::features::{
    Affine, Amplitude, Detrend, Filterbank, Framing, Frequency, LogScale, MelConfig, MelNorm,
    MelScale, PadMode, Precision, Preset, Scaling, Spectrogram, SpectrogramConfig, StftConfig,
    Symmetry, Window,
};
use pretext::io::read_npy_f32;

use crate::common::{ffmpeg, run_pretext};

const TOLERANCE: f32 = 1e-4;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The non-preset case: torchaudio MelSpectrogram(reflect, Hamming, HTK, norm None) + dB.
fn torchaudio_config() -> SpectrogramConfig {
    SpectrogramConfig {
        sample_rate: 16_000,
        stft: StftConfig {
            window: Window::Hamming,
            symmetry: Symmetry::Periodic,
            win_length: 400,
            n_fft: 400,
            hop: 160,
            framing: Framing::Fft,
            center: Some(PadMode::Reflect),
            detrend: Detrend::None,
            scaling: Scaling::None,
            amplitude: Amplitude::Power,
            precision: Precision::F64,
        },
        frequency: Frequency::Mel(MelConfig {
            n_mels: 64,
            fmin: 0.0,
            fmax: None,
            filterbank: Filterbank::Librosa { scale: MelScale::Htk, norm: MelNorm::None },
        }),
        log: LogScale::Db { amin: 1e-10, top_db: None },
        normalize: Affine::default(),
    }
}

fn config_for(case: &str) -> SpectrogramConfig {
    match case {
        "torchaudio" => torchaudio_config(),
        name => Preset::from_name(name).expect("manifest names a preset").config(),
    }
}

#[test]
fn every_preset_matches_its_reference_golden() {
    let dir = golden_dir();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("golden manifest"),
    )
    .expect("manifest is JSON");
    let cases = manifest["cases"].as_array().expect("cases array");
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["case"].as_str().expect("case name");
        let input = read_npy_f32(&dir.join(case["input"].as_str().expect("input"))).unwrap();
        let want = read_npy_f32(&dir.join(case["output"].as_str().expect("output"))).unwrap();
        let n = case["samples"].as_u64().expect("samples") as usize;
        let mut spec = Spectrogram::new(config_for(name)).unwrap();
        assert_eq!(
            [spec.shape(n).0, spec.shape(n).1],
            [want.shape[0], want.shape[1]],
            "{name}/{}: shape",
            case["signal"]
        );
        let got = spec.compute(&input.data[..n]).unwrap();
        let (worst, at) = got
            .iter()
            .zip(&want.data)
            .map(|(g, w)| if (g - w).is_nan() { f32::INFINITY } else { (g - w).abs() })
            .enumerate()
            .fold((0.0f32, 0), |(m, i), (j, e)| if e > m { (e, j) } else { (m, i) });
        eprintln!("{name}/{}: max |error| {worst:.2e}", case["signal"]);
        if worst.is_nan() || worst > TOLERANCE {
            failures.push(format!(
                "{name}/{}: max |error| {worst:e} at row {} col {} (got {}, want {})",
                case["signal"],
                at / want.shape[1],
                at % want.shape[1],
                got[at],
                want.data[at]
            ));
        }
        covered.insert(name.to_string());
    }
    assert!(failures.is_empty(), "golden mismatches:\n{}", failures.join("\n"));
    for preset in Preset::ALL {
        assert!(covered.contains(preset.name()), "no golden for preset {preset}");
    }
}

#[test]
fn batch_entry_point_matches_goldens_too() {
    let dir = golden_dir();
    let signals = ["chirp", "clicks", "noise", "real"];
    let inputs: Vec<Vec<f32>> = signals
        .iter()
        .map(|s| read_npy_f32(&dir.join(format!("input_16000_{s}.npy"))).unwrap().data)
        .collect();
    let waves: Vec<&[f32]> = inputs.iter().map(|w| &w[..16_000]).collect();
    let mut spec = Spectrogram::new(Preset::Vggish.config()).unwrap();
    let (f, t) = spec.shape(16_000);
    let mut out = vec![f32::NAN; waves.len() * f * t];
    spec.compute_batch_into(&waves, &mut out).unwrap();
    for (i, s) in signals.iter().enumerate() {
        let want = read_npy_f32(&dir.join(format!("vggish_{s}.npy"))).unwrap();
        let got = &out[i * f * t..(i + 1) * f * t];
        let worst = got
            .iter()
            .zip(&want.data)
            .map(|(g, w)| if (g - w).is_nan() { f32::INFINITY } else { (g - w).abs() })
            .fold(0.0, f32::max);
        assert!(worst <= TOLERANCE, "batch item {s}: max |error| {worst:e}");
    }
}

#[test]
fn cli_writes_npy_and_png_from_a_decoded_clip() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=16000:duration=2",
        "-c:a",
        "pcm_f32le",
        wav.to_str().unwrap(),
    ]);
    let npy = dir.path().join("spec.npy");
    let png = dir.path().join("spec.png");
    let out = run_pretext(&[
        "spectrogram",
        wav.to_str().unwrap(),
        "--start",
        "0.5",
        "--duration",
        "1",
        "--preset",
        "vggish",
        "--out",
        npy.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "pretext spectrogram failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec = read_npy_f32(&npy).unwrap();
    assert_eq!(spec.shape, vec![64, 98]);
    // A 1 kHz tone: the loudest mel band in every frame is the one whose centre is nearest 1 kHz.
    let s = Spectrogram::new(Preset::Vggish.config()).unwrap();
    let nearest = (0..64)
        .min_by(|a, b| {
            let da = (s.row_frequency(*a) - 1000.0).abs();
            let db = (s.row_frequency(*b) - 1000.0).abs();
            da.total_cmp(&db)
        })
        .unwrap();
    for t in 0..98 {
        let loudest =
            (0..64).max_by(|a, b| spec.data[a * 98 + t].total_cmp(&spec.data[b * 98 + t]));
        assert!(
            loudest.unwrap().abs_diff(nearest) <= 1,
            "frame {t}: loudest band {loudest:?}, 1 kHz is band {nearest}"
        );
    }
    let img = image::open(&png).expect("a readable PNG");
    assert!(img.width() >= 300 && img.height() >= 200, "PNG is {}x{}", img.width(), img.height());
}

#[test]
fn cli_rejects_unknown_preset_and_missing_file() {
    let out = run_pretext(&["spectrogram", "/nonexistent.wav", "--out", "/tmp/x.npy"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonexistent"));
    let out = run_pretext(&["spectrogram", "x.wav", "--preset", "mfcc", "--out", "/tmp/x.npy"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mfcc"));
}
