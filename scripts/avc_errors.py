#!/usr/bin/env python3
"""Where an AVC model goes wrong on a synthetic world.

Usage: scripts/avc_errors.py PREDICTIONS.jsonl WORLD/annotations.jsonl

PREDICTIONS comes from `pretext eval avc ... --predictions PREDICTIONS.jsonl`. Prints the share
correct of
- easy negatives by donor: same-class (the donor's sounding class is this clip's sounding class:
  only timing can reject it), distractor-class (it is a silent object's class here), other;
- hard negatives;
- positives by the sounding object's class, by the number of onsets in the audio window, and
  by the number of objects in the clip (a silent distractor makes "which object sounds" a
  question of timing).
Standard library only.
"""
import collections
import json
import os
import sys


def main(preds_path, ann_path):
    clips = {}
    for line in open(ann_path):
        c = json.loads(line)
        clips[c["file"]] = c

    def clip(path):
        return clips[os.path.basename(path)]

    def sounding(c):
        return {o["class"] for o in c["objects"] if o["sounding"]}

    def silent(c):
        return {o["class"] for o in c["objects"] if not o["sounding"]}

    tally = collections.defaultdict(lambda: [0, 0])

    def add(key, ok):
        tally[key][0] += int(ok)
        tally[key][1] += 1

    for line in open(preds_path):
        r = json.loads(line)
        ok = r["correct"]
        if r["kind"] == "easy":
            x, y = clip(r["file"]), clip(r["audio_file"])
            if sounding(y) & sounding(x):
                add("easy: donor same class", ok)
            elif sounding(y) & silent(x):
                add("easy: donor = distractor class", ok)
            else:
                add("easy: other", ok)
        elif r["kind"] == "positive":
            c = clip(r["file"])
            src = [o for o in c["objects"] if o["sounding"]]
            add("positive: all", ok)
            if src:
                t0 = r["audio_time"]
                n = sum(1 for t in src[0]["onsets"] if t0 <= t < t0 + 0.96)
                add(f"positive: class {src[0]['class_name']}", ok)
                add(f"positive: onsets in window {min(n, 2)}{'+' if n >= 2 else ''}", ok)
            add(f"positive: {len(c['objects'])} object(s)", ok)
        else:
            add(r["kind"], ok)
    for key, (good, n) in sorted(tally.items()):
        print(f"{key:34s} {good:4d}/{n:<4d} {good / n:.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
