#!/usr/bin/env python3
"""The usual Python way to make audio-visual correspondence pairs, as the reference for
`pretext bench pipeline`.

Per sample (what a PyTorch Dataset.__getitem__ typically does): pick a file, open it with PyAV,
seek to the frame time and decode forward to the frame displayed there, scale it to SIZE x SIZE
RGB with PyAV's reformat (swscale); open the audio file (the same file for positives, another
file for half of the samples), seek, decode, resample to 16 kHz mono float with
av.AudioResampler, cut the window, and compute the VGGish log-mel with librosa (400/512/160,
64 HTK mel bands 125-7500 Hz, magnitude, log(mel + 0.01)). Single-threaded.

Prints one JSON line: {"samples": N, "wall_s": ..., "cpu_s": ...}.
Needs: av, numpy, librosa (pip install av numpy librosa).
"""
import argparse
import json
import os
import random
import time

import av
import librosa
import numpy as np

VIDEO_EXT = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv",
             ".ogv", ".3gp"}


def discover(inputs):
    out = []
    for p in inputs:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                out += [os.path.join(root, n) for n in names
                        if os.path.splitext(n)[1].lower() in VIDEO_EXT]
        else:
            out.append(p)
    return sorted(set(out))


def duration(path):
    with av.open(path) as c:
        return c.duration / 1e6 if c.duration else float(c.streams.video[0].duration
                                                          * c.streams.video[0].time_base)


def frame_at(path, t, size):
    with av.open(path) as c:
        s = c.streams.video[0]
        # A seek can land on a keyframe past t (PyAV/FFmpeg seek to the nearest index entry on
        # some files); then decode again from the start, as a careful Dataset would.
        for target in (t, 0.0):
            c.seek(int(target / s.time_base), stream=s, backward=True)
            last = None
            for f in c.decode(s):
                if f.time is not None and f.time > t + 1e-6:
                    break
                last = f
            if last is not None:
                return last.to_ndarray(format="rgb24", width=size, height=size)
        raise RuntimeError(f"{path}: no frame at {t}")


def audio_window(path, start, seconds, rate=16000):
    n = int(round(seconds * rate))
    with av.open(path) as c:
        s = c.streams.audio[0]
        c.seek(int(max(start - 0.1, 0) / s.time_base), stream=s, backward=True)
        res = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, t0 = [], None
        for f in c.decode(s):
            for r in res.resample(f):
                if t0 is None:
                    t0 = r.time if r.time is not None else 0.0
                chunks.append(r.to_ndarray().reshape(-1))
            if t0 is not None and t0 + sum(len(x) for x in chunks) / rate >= start + seconds:
                break
        y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        off = int(round((start - (t0 or 0.0)) * rate))
        y = y[max(off, 0):max(off, 0) + n]
        return np.pad(y, (0, n - len(y)))


def vggish_logmel(y, sr=16000):
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=512, win_length=400, hop_length=160,
                                         window="hann", center=False, power=1.0, n_mels=64,
                                         fmin=125, fmax=7500, htk=True, norm=None)
    return np.log(mel + 0.01).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--audio-seconds", type=float, default=1.0)
    ap.add_argument("--task", default="avc", help="only avc: the reference makes AVC pairs")
    a = ap.parse_args()
    if a.task != "avc":
        raise SystemExit(f"the reference makes avc pairs, not {a.task} examples")
    files = discover(a.inputs)
    rng = random.Random(a.seed)
    vggish_logmel(np.zeros(16000, np.float32))  # warm-up: librosa's first call compiles
    t0, c0 = time.perf_counter(), time.process_time()
    durs = {f: duration(f) for f in files}  # an index, as a Dataset would build once
    done = 0
    for _ in range(a.count):
        f = rng.choice(files)
        half = a.audio_seconds / 2
        t = rng.uniform(half, durs[f] - half)
        img = frame_at(f, t, a.size).astype(np.float32) / 255.0
        if rng.random() < 0.5 or len(files) < 2:
            af, at = f, t - half
        else:
            af = rng.choice([g for g in files if g != f])
            at = rng.uniform(0, durs[af] - a.audio_seconds)
        spec = vggish_logmel(audio_window(af, at, a.audio_seconds))
        assert img.shape == (a.size, a.size, 3) and spec.shape[0] == 64
        done += 1
    print(json.dumps({"samples": done, "wall_s": time.perf_counter() - t0,
                      "cpu_s": time.process_time() - c0}))


if __name__ == "__main__":
    main()
