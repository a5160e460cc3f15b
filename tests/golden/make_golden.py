#!/usr/bin/env python3
"""Golden spectrograms for pretext's feature module (issue #3), from the reference code.

Run from the repository root (needs numpy, scipy, librosa, torch, torchaudio and the ffmpeg CLI):

    /root/.cache/pretext/ref-venv/bin/python tests/golden/make_golden.py

It writes, next to itself:
  input_<rate>_<signal>.npy   float32 mono test signals (what the Rust tests feed pretext)
  <case>_<signal>.npy         float32 reference outputs, [freq, time]
  manifest.json               which input (and how many of its samples) each output came from,
                              plus the library versions used

Signals: a linear chirp, a click train, seeded white noise, and a window of a "real" clip that
the ffmpeg CLI synthesises from lavfi sources, encodes to AAC and decodes back to float WAV at
each rate. References are computed in float64 from the float32 inputs, so they carry no FFT
rounding of their own; the Rust side must match them to 1e-4 on log outputs.

Cases (see docs/spectrograms.md):
  vggish    mel_features.py from tensorflow/models research/audioset/vggish, reimplemented
            below function for function (it is ~60 lines of numpy), log_offset 0.01.
  l3        scipy.signal.spectrogram magnitudes (Hann 480, noverlap 240, nfft 512) turned back
            into raw |X|^2, then librosa.power_to_db(amin=1e-10, top_db=None).
  lvs       scipy.signal.spectrogram(x, 16000, nperseg=512, noverlap=274), ln(S + 1e-7) / 12,
            exactly as EZ-VSL/SLAVC's datasets do.
  librosa   librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=22050)).
  torchaudio  a non-preset config exercising reflect padding, Hamming, HTK mel without norm:
            torchaudio MelSpectrogram(16000, n_fft=400, hop=160, n_mels=64, hamming,
            pad_mode='reflect', mel_scale='htk', norm=None) + AmplitudeToDB(top_db=None).
"""

import json
import os
import subprocess
import tempfile

import librosa
import numpy as np
import scipy
import scipy.signal
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20260311
# Seconds of each input: enough frames to exercise every path, small enough to commit.
INPUT_SECONDS = {16000: 1.0, 22050: 0.5, 48000: 0.25}


# ---------------------------------------------------------------------------------------------
# VGGish mel_features.py (tensorflow/models, research/audioset/vggish), reproduced verbatim in
# behaviour: frame / periodic_hann / stft_magnitude / hertz_to_mel /
# spectrogram_to_mel_matrix / log_mel_spectrogram.
_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def frame(data, window_length, hop_length):
    num_samples = data.shape[0]
    num_frames = 1 + int(np.floor((num_samples - window_length) / hop_length))
    shape = (num_frames, window_length) + data.shape[1:]
    strides = (data.strides[0] * hop_length,) + data.strides
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides)


def periodic_hann(window_length):
    return 0.5 - (0.5 * np.cos(2 * np.pi / window_length * np.arange(window_length)))


def stft_magnitude(signal, fft_length, hop_length=None, window_length=None):
    frames = frame(signal, window_length, hop_length)
    window = periodic_hann(window_length)
    windowed_frames = frames * window
    return np.abs(np.fft.rfft(windowed_frames, int(fft_length)))


def hertz_to_mel(frequencies_hertz):
    return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + (frequencies_hertz / _MEL_BREAK_FREQUENCY_HERTZ))


def spectrogram_to_mel_matrix(num_mel_bins=20, num_spectrogram_bins=129, audio_sample_rate=8000,
                              lower_edge_hertz=125.0, upper_edge_hertz=3800.0):
    nyquist_hertz = audio_sample_rate / 2.
    if lower_edge_hertz < 0.0:
        raise ValueError("lower_edge_hertz %.1f must be >= 0" % lower_edge_hertz)
    if lower_edge_hertz >= upper_edge_hertz:
        raise ValueError("lower_edge_hertz %.1f >= upper_edge_hertz %.1f" %
                         (lower_edge_hertz, upper_edge_hertz))
    if upper_edge_hertz > nyquist_hertz:
        raise ValueError("upper_edge_hertz %.1f is greater than Nyquist %.1f" %
                         (upper_edge_hertz, nyquist_hertz))
    spectrogram_bins_hertz = np.linspace(0.0, nyquist_hertz, num_spectrogram_bins)
    spectrogram_bins_mel = hertz_to_mel(spectrogram_bins_hertz)
    band_edges_mel = np.linspace(hertz_to_mel(lower_edge_hertz),
                                 hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    mel_weights_matrix = np.empty((num_spectrogram_bins, num_mel_bins))
    for i in range(num_mel_bins):
        lower_edge_mel, center_mel, upper_edge_mel = band_edges_mel[i:i + 3]
        lower_slope = ((spectrogram_bins_mel - lower_edge_mel) / (center_mel - lower_edge_mel))
        upper_slope = ((upper_edge_mel - spectrogram_bins_mel) / (upper_edge_mel - center_mel))
        mel_weights_matrix[:, i] = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    mel_weights_matrix[0, :] = 0.0
    return mel_weights_matrix


def log_mel_spectrogram(data, audio_sample_rate=8000, log_offset=0.0, window_length_secs=0.025,
                        hop_length_secs=0.010, **kwargs):
    window_length_samples = int(round(audio_sample_rate * window_length_secs))
    hop_length_samples = int(round(audio_sample_rate * hop_length_secs))
    fft_length = 2 ** int(np.ceil(np.log(window_length_samples) / np.log(2.0)))
    spectrogram = stft_magnitude(data, fft_length=fft_length, hop_length=hop_length_samples,
                                 window_length=window_length_samples)
    mel_spectrogram = np.dot(spectrogram, spectrogram_to_mel_matrix(
        num_spectrogram_bins=spectrogram.shape[1], audio_sample_rate=audio_sample_rate, **kwargs))
    return np.log(mel_spectrogram + log_offset)


# ---------------------------------------------------------------------------------------------
# The references, [freq, time] float64.

def ref_vggish(x):
    # vggish_input.waveform_to_examples' parameters (vggish_params.py).
    return log_mel_spectrogram(x, audio_sample_rate=16000, log_offset=0.01,
                               window_length_secs=0.025, hop_length_secs=0.010,
                               num_mel_bins=64, lower_edge_hertz=125.0,
                               upper_edge_hertz=7500.0).T


def ref_l3(x):
    win = scipy.signal.get_window("hann", 480)  # periodic
    _, _, mag = scipy.signal.spectrogram(x, 48000, window=win, nperseg=480, noverlap=240,
                                         nfft=512, detrend=False, scaling="spectrum",
                                         mode="magnitude")
    power = (mag * win.sum()) ** 2  # undo scipy's 1/sum(w) amplitude scaling
    # Cross-check against plain numpy framing.
    frames = frame(x, 480, 240) * win
    direct = np.abs(np.fft.rfft(frames, 512)).T ** 2
    assert np.allclose(power, direct, rtol=1e-9, atol=1e-12), "l3 scipy vs numpy framing"
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)


def ref_lvs(x):
    _, _, s = scipy.signal.spectrogram(x, 16000, nperseg=512, noverlap=274)
    return np.log(s + 1e-7) / 12.0


def ref_librosa(x):
    s = librosa.feature.melspectrogram(y=x, sr=22050, dtype=np.float64)
    return librosa.power_to_db(s)


def ref_torchaudio(x):
    # Built under a float64 default dtype: torchaudio otherwise makes its filterbank with float32
    # linspace/pow, whose rounding alone moves narrow low bands by up to 1e-3 dB.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _ref_torchaudio(x)
    finally:
        torch.set_default_dtype(previous)


def _ref_torchaudio(x):
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, win_length=400, hop_length=160, f_min=0.0, f_max=None,
        n_mels=64, window_fn=torch.hamming_window, power=2.0, center=True, pad_mode="reflect",
        norm=None, mel_scale="htk").to(torch.float64)
    db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
    with torch.no_grad():
        return db(mel(torch.from_numpy(x))).numpy()


# case -> (reference, input rate, samples used from the input)
CASES = {
    "vggish": (ref_vggish, 16000, 16000),
    "l3": (ref_l3, 48000, 12000),
    "lvs": (ref_lvs, 16000, 8000),
    "librosa": (ref_librosa, 22050, 11025),
    "torchaudio": (ref_torchaudio, 16000, 8000),
}


# ---------------------------------------------------------------------------------------------
# Signals.

def real_clip(rate, seconds):
    """A lavfi-made clip (tone sweep + pink noise + beeps), AAC-encoded, decoded by the CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        m4a = os.path.join(tmp, "clip.m4a")
        wav = os.path.join(tmp, "clip.wav")
        quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        subprocess.run(quiet + [
            "-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*(200+300*t)*t):s=48000:d=3",
            "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.15:r=48000:d=3:seed=7",
            "-f", "lavfi", "-i", "sine=frequency=1500:beep_factor=4:sample_rate=48000:duration=3",
            "-filter_complex", "amix=inputs=3:normalize=0",
            "-c:a", "aac", "-b:a", "128k", m4a], check=True)
        subprocess.run(quiet + ["-i", m4a, "-ac", "1", "-ar", str(rate), "-c:a", "pcm_f32le",
                                wav], check=True)
        with open(wav, "rb") as f:
            raw = f.read()
        at = raw.index(b"data") + 8  # the data chunk; its size precedes it
        size = int.from_bytes(raw[at - 4:at], "little")
        data = np.frombuffer(raw[at:at + size], dtype="<f4")
    start = int(1.0 * rate)  # a window starting 1 s in, away from encoder priming
    return data[start:start + int(seconds * rate)].copy()


def signals(rate, seconds):
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    chirp = 0.5 * scipy.signal.chirp(t, f0=50.0, t1=seconds, f1=0.45 * rate, method="linear")
    clicks = np.zeros(n)
    clicks[::max(1, rate // 50)] = 1.0  # 50 clicks per second, full scale
    noise = np.random.default_rng(SEED + rate).standard_normal(n) * 0.3
    return {
        "chirp": chirp.astype(np.float32),
        "clicks": clicks.astype(np.float32),
        "noise": noise.astype(np.float32),
        "real": real_clip(rate, seconds).astype(np.float32),
    }


def main():
    manifest = {
        "generator": "tests/golden/make_golden.py",
        "versions": {
            "numpy": np.__version__, "scipy": scipy.__version__, "librosa": librosa.__version__,
            "torch": torch.__version__, "torchaudio": torchaudio.__version__,
        },
        "cases": [],
    }
    inputs = {}
    for rate, seconds in INPUT_SECONDS.items():
        for name, x in signals(rate, seconds).items():
            fname = f"input_{rate}_{name}.npy"
            np.save(os.path.join(HERE, fname), x)
            inputs[(rate, name)] = (fname, x)
    for case, (fn, rate, n) in CASES.items():
        for name in ["chirp", "clicks", "noise", "real"]:
            fname, x = inputs[(rate, name)]
            out = fn(x[:n].astype(np.float64))
            assert np.all(np.isfinite(out)), f"{case}/{name} has non-finite values"
            oname = f"{case}_{name}.npy"
            np.save(os.path.join(HERE, oname), np.ascontiguousarray(out, dtype=np.float32))
            manifest["cases"].append({
                "case": case, "signal": name, "input": fname, "samples": n,
                "output": oname, "shape": list(out.shape),
            })
            print(f"{oname}: {out.shape} from {fname}[:{n}]")
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
