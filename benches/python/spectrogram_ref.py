#!/usr/bin/env python3
"""Reference side of `pretext bench spectrogram` (issue #3): librosa, torchaudio and the recipe's
own reference code computing the same spectrograms on one CPU thread.

Usually launched by the Rust command (`pretext bench spectrogram --python PY`), which sets the
thread environment and parses the JSON lines this prints. Standalone:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python benches/python/spectrogram_ref.py --preset vggish --clips 64 --seconds 1

Each implementation gets the whole batch as one array ([clips, samples]), which is the fastest
way to call both libraries, is warmed up once, and is timed `--repeats` times; the median thread
CPU time (time.thread_time) and wall time give spectrograms per second. Parameters mirror the pretext preset (window, FFT, hop, centring,
mel bank, power, log); where a library frames differently (librosa/torch cut n_fft-sample
frames where VGGish and scipy cut win_length-sample frames) the frame count differs by a few
frames, which the output reports.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def timed(fn, batch, repeats):
    """Median thread-CPU and wall seconds of `repeats` calls after one warm-up."""
    out = fn(batch)  # warm-up (plans, caches, numba JIT)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.thread_time(), time.perf_counter()
        fn(batch)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    return statistics.median(cpu), statistics.median(wall), np.asarray(out).shape


def vggish_numpy():
    """VGGish's own mel_features.py (per clip, as vggish_input does), from the golden script."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "tests", "golden"))
    import make_golden  # noqa: E402

    def run(batch):
        return np.stack([make_golden.ref_vggish(x) for x in batch])

    return run


def implementations(preset):
    import librosa
    import scipy.signal
    import torch
    import torchaudio

    torch.set_num_threads(1)
    T = torchaudio.transforms
    impls = {}
    if preset == "vggish":
        def lib(b):
            s = librosa.feature.melspectrogram(
                y=b, sr=16000, n_fft=512, hop_length=160, win_length=400, center=False,
                power=1.0, n_mels=64, fmin=125.0, fmax=7500.0, htk=True, norm=None)
            return np.log(s + 0.01)
        mel = T.MelSpectrogram(16000, n_fft=512, win_length=400, hop_length=160, f_min=125.0,
                               f_max=7500.0, n_mels=64, power=1.0, center=False, norm=None,
                               mel_scale="htk")
        impls["vggish mel_features.py (numpy)"] = vggish_numpy()
        impls["librosa"] = lib
        impls["torchaudio"] = lambda b: torch.log(mel(torch.from_numpy(b)) + 0.01).numpy()
    elif preset == "l3":
        def lib(b):
            s = np.abs(librosa.stft(b, n_fft=512, hop_length=240, win_length=480,
                                    center=False)) ** 2
            return librosa.power_to_db(s, amin=1e-10, top_db=None)
        spec = T.Spectrogram(n_fft=512, win_length=480, hop_length=240, power=2.0, center=False)
        db = T.AmplitudeToDB(stype="power", top_db=None)
        impls["librosa"] = lib
        impls["torchaudio"] = lambda b: db(spec(torch.from_numpy(b))).numpy()
    elif preset == "lvs":
        tukey = scipy.signal.get_window(("tukey", 0.25), 512)

        def sci(b):
            _, _, s = scipy.signal.spectrogram(b, 16000, nperseg=512, noverlap=274)
            return np.log(s + 1e-7) / 12.0

        def lib(b):
            s = np.abs(librosa.stft(b, n_fft=512, hop_length=238, window=tukey,
                                    center=False)) ** 2
            return np.log(s + 1e-7) / 12.0
        spec = T.Spectrogram(n_fft=512, hop_length=238, power=2.0, center=False,
                             window_fn=lambda n, **kw: torch.from_numpy(tukey).float())
        impls["scipy.signal.spectrogram (reference)"] = sci
        impls["librosa"] = lib
        impls["torchaudio"] = lambda b: (torch.log(spec(torch.from_numpy(b)) + 1e-7) / 12).numpy()
    elif preset == "librosa":
        def lib(b):
            return librosa.power_to_db(librosa.feature.melspectrogram(y=b, sr=22050))
        mel = T.MelSpectrogram(22050, n_fft=2048, hop_length=512, n_mels=128, center=True,
                               pad_mode="constant", norm="slaney", mel_scale="slaney")
        db = T.AmplitudeToDB(stype="power", top_db=80.0)
        impls["librosa"] = lib
        impls["torchaudio"] = lambda b: db(mel(torch.from_numpy(b))).numpy()
    else:
        raise SystemExit(f"unknown preset {preset}")
    # librosa multiplies the frames by its float64 window before the FFT, so on float32 input (its
    # default, the row called "librosa") the FFT runs in float64 too and only the stored
    # spectrum is complex64: it lands within 2e-5 of the float64 call
    # (benches/python/reference_precision.py). That row is the one the target is
    # measured against; this one shows what float64 arrays throughout cost.
    lib32 = impls["librosa"]
    impls["librosa (float64 input)"] = lambda b: lib32(b.astype(np.float64))
    return impls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="vggish", choices=["vggish", "l3", "lvs", "librosa"])
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default=None, help="run only implementations containing this")
    args = ap.parse_args()
    rate = {"vggish": 16000, "l3": 48000, "lvs": 16000, "librosa": 22050}[args.preset]
    n = int(round(args.seconds * rate))
    batch = (np.random.default_rng(0).standard_normal((args.clips, n)) * 0.1).astype(np.float32)
    for name, fn in implementations(args.preset).items():
        if args.only and args.only not in name:
            continue
        cpu, wall, shape = timed(fn, batch, args.repeats)
        print(json.dumps({"name": name, "cpu_specs_per_s": args.clips / cpu,
                          "wall_specs_per_s": args.clips / wall, "shape": list(shape)}),
              flush=True)


if __name__ == "__main__":
    main()
