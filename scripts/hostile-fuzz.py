#!/usr/bin/env python3
"""Hostile-media fuzz corpus for issue #26: how many damaged decodes pass as good data.

Three clean sources are made with the ffmpeg CLI from lavfi (testsrc2 + a sine sweep):
MP4 (H.264 + AAC), WebM (VP9 + Opus) and MKV (H.264 + AC-3). From each, mutants are made
reproducibly from --seed: byte flips, zeroed ranges and truncations (equal numbers of each).
Every `pretext` binary given with --bin runs on every mutant:

  probe --json F                          (and, when the binary has it, probe --verify --json F)
  frames F --at 0.5,2.5,4.5 --out D       (PNGs compared with the same binary's clean output)
  audio F --start 0.5 --duration 5 --out W (WAV compared with the same binary's clean output)

and each run is classified:

  error          exit code not 0
  warned         exit 0 and something on stderr (a note or warning about damage)
  ok-identical   exit 0, nothing on stderr, output identical to the clean file's
  ok-tiny        exit 0, nothing on stderr, output different from the clean file's but only
                 just (frames: PSNR >= 40 dB; audio: largest difference < 1e-3, -60 dBFS).
                 AAC's noise substitution draws from a generator that a skipped packet
                 advances differently, so one lost packet changes later noise bands by ~1e-5.
  silent         exit 0, nothing on stderr, output clearly different from the clean file's:
                 a silent corruption (the count this script exists for; target 0)

For probe, "output" is the verdict: a probe that says "ok" about a mutant whose full decode by
the ffmpeg CLI differs from the clean one (`-f framemd5`, or any error the CLI prints) is silent;
"ok" about an undamaged mutant is ok-identical; a JSON status other than "ok" counts as error.
For frames the worst PSNR over the three frames is kept too, so silent corruptions can be split
into visible (< 30 dB) and subtle ones; for audio the largest sample difference.

Only the Python standard library and the ffmpeg CLI are used.

Usage:
  scripts/hostile-fuzz.py --bin base=/path/to/old/pretext --bin new=target/release/pretext \
      [--seed 26] [--per-kind 10] [--work DIR] [--keep]
"""

import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SOURCES = {
    # name: (extension, codec arguments, audio rate)
    "mp4": ("mp4", ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac"], 44100),
    "webm": (
        "webm",
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "25",
         "-b:v", "300k", "-pix_fmt", "yuv420p", "-c:a", "libopus"],
        48000,
    ),
    "mkv": ("mkv", ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "ac3"], 48000),
}
SECONDS = 6
FRAME_TIMES = "0.5,2.5,4.5"
AUDIO_START, AUDIO_DURATION = "0.5", "5"
KINDS = ("flip", "zero", "trunc")


def ffmpeg(args, **kw):
    return subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y"] + args,
                          capture_output=True, **kw)


def make_source(name, work):
    ext, codec, rate = SOURCES[name]
    path = os.path.join(work, f"clean-{name}.{ext}")
    r = ffmpeg(["-loglevel", "error",
                "-f", "lavfi", "-i", f"testsrc2=size=192x144:rate=25:duration={SECONDS}",
                "-f", "lavfi", "-i",
                f"aevalsrc=0.4*sin(2*PI*(300+200*t)*t)|0.3*sin(2*PI*(500+100*t)*t)"
                f":s={rate}:d={SECONDS}",
                *codec, "-shortest", path])
    if r.returncode != 0:
        sys.exit(f"ffmpeg could not make the {name} source: {r.stderr.decode()}")
    return path


def mutate(data, kind, rng):
    """One mutant of `data` and a short description (reproducible from `rng`)."""
    b = bytearray(data)
    n = len(b)
    lo = n // 50  # leave the first 2 % (headers) alone so most mutants reach the decoders
    if kind == "flip":
        k = rng.randint(1, 8)
        spots = sorted(rng.randrange(lo, n) for _ in range(k))
        for p in spots:
            b[p] ^= rng.randint(1, 255)
        return bytes(b), f"flip {k} bytes at {spots[0]}..{spots[-1]}"
    if kind == "zero":
        length = rng.randint(256, 4096)
        p = rng.randrange(lo, n - length)
        b[p:p + length] = bytes(length)
        return bytes(b), f"zero {length} bytes at {p}"
    cut = rng.randint(n * 15 // 100, n * 95 // 100)
    return bytes(b[:cut]), f"truncate to {cut} of {n} bytes"


def framemd5(path):
    """The ffmpeg CLI's per-frame hashes and whether it printed any error."""
    r = ffmpeg(["-v", "error", "-i", path, "-f", "framemd5", "-"])
    lines = [l for l in r.stdout.decode(errors="replace").splitlines() if not l.startswith("#")]
    return lines, bool(r.stderr.strip()) or r.returncode != 0


def png_pixels(path):
    """RGB8 pixels of a non-interlaced PNG as written by pretext (8-bit RGB)."""
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    bpp, stride = 3, width * 3
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b_ = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b_) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b_) // 2) & 255
            elif ft == 4:
                p = a + b_ - c
                pa, pb, pc = abs(p - a), abs(p - b_), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b_ if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, bytes(out)


def psnr(a, b):
    if a[:2] != b[:2]:
        return 0.0
    pa, pb = a[2], b[2]
    se = sum((x - y) * (x - y) for x, y in zip(pa, pb))
    if se == 0:
        return math.inf
    return 10 * math.log10(255 * 255 * len(pa) / se)


def wav_samples(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 12
    while pos < len(data):
        cid, size = struct.unpack("<4sI", data[pos:pos + 8])
        if cid == b"data":
            body = data[pos + 8:pos + 8 + size]
            return struct.unpack(f"<{len(body) // 4}f", body)
        pos += 8 + size + (size & 1)
    return ()


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def has_verify(binary):
    return "--verify" in run([binary, "probe", "--help"])[1]


def do_frames(binary, path, out):
    """Exit code, stderr and the PNG files' bytes (decoded only when compared and different)."""
    shutil.rmtree(out, ignore_errors=True)
    code, _, err = run([binary, "frames", path, "--at", FRAME_TIMES, "--out", out])
    frames = []
    if code == 0:
        for f in sorted(os.listdir(out)):
            with open(os.path.join(out, f), "rb") as fh:
                frames.append(fh.read())
    return code, err.strip(), frames


def frame_psnr(a, b):
    """PSNR of two PNG files' pixels (inf when the files are identical)."""
    if a == b:
        return math.inf
    tmp = tempfile.mkdtemp()
    try:
        pa, pb = os.path.join(tmp, "a.png"), os.path.join(tmp, "b.png")
        for p, data in ((pa, a), (pb, b)):
            with open(p, "wb") as fh:
                fh.write(data)
        return psnr(png_pixels(pa), png_pixels(pb))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def do_audio(binary, path, out):
    if os.path.exists(out):
        os.remove(out)
    code, _, err = run([binary, "audio", path, "--start", AUDIO_START, "--duration",
                        AUDIO_DURATION, "--out", out])
    return code, err.strip(), (wav_samples(out) if code == 0 else ())


def do_probe(binary, path, verify):
    cmd = [binary, "probe", "--json"] + (["--verify"] if verify else []) + [path]
    code, out, err = run(cmd)
    status = None
    for line in out.splitlines():
        try:
            status = json.loads(line).get("status")
        except json.JSONDecodeError:
            pass
    return code, status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append", required=True, metavar="LABEL=PATH")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--per-kind", type=int, default=10, help="mutants per kind per source")
    ap.add_argument("--work", help="working folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    ap.add_argument("--jsonl", help="write one JSON line per run here")
    args = ap.parse_args()
    bins = [tuple(b.split("=", 1)) for b in args.bin]
    work = args.work or tempfile.mkdtemp(prefix="hostile-fuzz-")
    os.makedirs(work, exist_ok=True)
    log = open(args.jsonl, "w") if args.jsonl else None

    # Clean references: sources, the CLI's decode, each binary's outputs.
    clean = {}
    for name in SOURCES:
        path = make_source(name, work)
        md5, errs = framemd5(path)
        assert not errs, f"the clean {name} source decodes with errors"
        refs = {}
        for label, binary in bins:
            fc, ferr, frames = do_frames(binary, path, os.path.join(work, "ref-frames"))
            ac, aerr, samples = do_audio(binary, path, os.path.join(work, "ref.wav"))
            if fc != 0 or ac != 0:
                sys.exit(f"{label} fails on the clean {name} source: {ferr} {aerr}")
            refs[label] = (frames, samples)
        clean[name] = (path, md5, refs)

    # counts[(label, command)][class] = n ; silent details
    counts = {}
    detail = {}

    def count(label, command, cls, note=None):
        counts.setdefault((label, command), {}).setdefault(cls, 0)
        counts[(label, command)][cls] += 1
        if note is not None:
            detail.setdefault((label, command), []).append(note)

    damaged_total = 0
    mutants = 0
    for name, (src, clean_md5, refs) in clean.items():
        data = open(src, "rb").read()
        ext = SOURCES[name][0]
        for kind in KINDS:
            for i in range(args.per_kind):
                rng = random.Random(f"{args.seed}/{name}/{kind}/{i}")
                mutant, what = mutate(data, kind, rng)
                path = os.path.join(work, f"m-{name}-{kind}-{i:02}.{ext}")
                with open(path, "wb") as f:
                    f.write(mutant)
                mutants += 1
                md5, errs = framemd5(path)
                damaged = errs or md5 != clean_md5
                damaged_total += bool(damaged)
                for label, binary in bins:
                    rec = {"mutant": os.path.basename(path), "what": what, "bin": label,
                           "damaged": bool(damaged)}
                    verifies = has_verify(binary)
                    for verify in ([False, True] if verifies else [False]):
                        command = "probe --verify" if verify else "probe"
                        code, status = do_probe(binary, path, verify)
                        if code != 0 or status != "ok":
                            cls = "error"
                        elif damaged:
                            cls = "silent"
                        else:
                            cls = "ok-identical"
                        count(label, command, cls, path if cls == "silent" else None)
                        rec[command] = cls
                    fc, ferr, frames = do_frames(binary, path, os.path.join(work, "frames"))
                    worst = None
                    if fc == 0:
                        ref = refs[label][0]
                        worst = min((frame_psnr(a, b) for a, b in zip(frames, ref)), default=0.0)
                        if len(frames) != len(ref):
                            worst = 0.0
                    if fc != 0:
                        cls = "error"
                    elif ferr:
                        cls = "warned"
                    elif worst == math.inf:
                        cls = "ok-identical"
                    else:
                        cls = "ok-tiny" if worst >= 40 else "silent"
                    count(label, "frames", cls,
                          f"{path} (worst PSNR {worst:.1f} dB)" if cls == "silent" else None)
                    if cls == "silent":
                        count(label, "frames", "silent<30dB" if worst < 30 else "silent>=30dB")
                    if cls == "warned" and worst != math.inf:
                        count(label, "frames", "warned-different")
                    rec["frames"] = cls
                    rec["frames_psnr"] = None if worst in (None, math.inf) else round(worst, 2)
                    ac, aerr, samples = do_audio(binary, path, os.path.join(work, "m.wav"))
                    diff = None
                    if ac == 0:
                        ref = refs[label][1]
                        diff = max((abs(x - y) for x, y in zip(samples, ref)), default=0.0)
                        if len(samples) != len(ref):
                            diff = math.inf
                    if ac != 0:
                        cls = "error"
                    elif aerr:
                        cls = "warned"
                    elif diff == 0:
                        cls = "ok-identical"
                    else:
                        cls = "ok-tiny" if diff < 1e-3 else "silent"
                    if cls == "warned" and diff != 0:
                        count(label, "audio", "warned-different")
                    count(label, "audio", cls,
                          f"{path} (max diff {diff:.4f})" if cls == "silent" else None)
                    rec["audio"] = cls
                    rec["audio_max_diff"] = diff if diff not in (None, math.inf) else None
                    if log:
                        log.write(json.dumps(rec) + "\n")
                        log.flush()
                print(f"{mutants:3} {os.path.basename(path):22} {what}", file=sys.stderr)

    print(f"\n{mutants} mutants ({damaged_total} damaged according to the ffmpeg CLI), "
          f"seed {args.seed}\n")
    classes = ["error", "warned", "ok-identical", "ok-tiny", "silent"]
    print("| binary | command | " + " | ".join(classes) + " |")
    print("|---|---|" + "---:|" * len(classes))
    for (label, command), c in counts.items():
        cells = [str(c.get(k, 0)) for k in classes]
        if command == "frames" and c.get("silent"):
            cells[-1] += f" ({c.get('silent<30dB', 0)} below 30 dB)"
        if c.get("warned-different"):
            cells[1] += f" ({c['warned-different']} differ)"
        print(f"| {label} | {command} | " + " | ".join(cells) + " |")
    for key, notes in detail.items():
        print(f"\nsilent, {key[0]} {key[1]}:", file=sys.stderr)
        for n in notes:
            print(f"  {n}", file=sys.stderr)
    if not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
