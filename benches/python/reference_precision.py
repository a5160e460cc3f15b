#!/usr/bin/env python3
"""How far librosa and torchaudio on float32 input land from the same call on float64 (issue #3).

`pretext bench spectrogram` compares pretext with librosa on float32 input and on float64 input.
Pretext's output is within 1e-4 of the float64 references (the goldens, `tests/golden`), so the
comparison at equal output precision is the float64 one, provided float32 librosa cannot meet
that bound. This script measures it: for each preset it runs the benchmark's own librosa and
torchaudio calls (`spectrogram_ref.implementations`) on the golden input signals (chirp, clicks,
noise, real clip) as float32, and the librosa call on the same signals as float64, and prints the
largest |float32 - float64| per preset and signal. Same framing on both sides, so the
difference is precision alone. Torchaudio is compared with librosa float64 only where both frame
alike (same frame count); its framing otherwise differs and is reported as such.

    ~/.cache/pretext/ref-venv/bin/python benches/python/reference_precision.py
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import spectrogram_ref  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "..", "tests", "golden")
RATE = {"vggish": 16000, "l3": 48000, "lvs": 16000, "librosa": 22050}


def main():
    print(f"{'preset':<8} {'signal':<7} {'librosa f32 vs f64':>19} {'torchaudio vs librosa f64':>26}")
    for preset, rate in RATE.items():
        impls = spectrogram_ref.implementations(preset)
        for signal in ["chirp", "clicks", "noise", "real"]:
            x = np.load(os.path.join(GOLDEN, f"input_{rate}_{signal}.npy"))
            batch32 = x.astype(np.float32)[None, :]
            lib64 = np.asarray(impls["librosa (float64 input)"](batch32))
            lib32 = np.asarray(impls["librosa"](batch32))
            torch32 = np.asarray(impls["torchaudio"](batch32))
            d_lib = np.abs(lib32.astype(np.float64) - lib64).max()
            if torch32.shape == lib64.shape:
                d_torch = f"{np.abs(torch32.astype(np.float64) - lib64).max():.2e}"
            else:
                d_torch = f"frames differ {torch32.shape[-1]} vs {lib64.shape[-1]}"
            print(f"{preset:<8} {signal:<7} {d_lib:>19.2e} {d_torch:>26}", flush=True)


if __name__ == "__main__":
    main()
