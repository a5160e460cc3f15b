#!/usr/bin/env python3
"""Where does a localisation map put its mass? Cell-level diagnosis on a synthetic world.

    pretext eval localize --checkpoint CK --data WORLD --annotations WORLD/annotations.jsonl \
        --maps maps.jsonl
    python3 scripts/localization_cells.py WORLD/annotations.jsonl maps.jsonl

For every sample with a visible sounding object, each coarse map cell is assigned by its centre
to the sounding object's box, to a silent object's box (and not the sounding one), or to the
background, in the model's view (the centred square of side round(8/9 * shorter side), as
`pretext eval localize` crops it). Printed: the mean map value of each region, how often the
sounding region beats the silent objects and the background, and the per-sample cell AUC
(probability that a sounding-box cell outranks a cell outside it; 0.5 = no ranking). The
median-threshold cIoU needs the *whole* box to outrank the rest, so a map can beat the
distractors on average (a few strong cells) and still score a low cIoU: the cell AUC shows it.

Standard library only.
"""
import json
import sys


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def cell_auc(pos, neg):
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main(annotations, maps):
    clips = {}
    with open(annotations) as f:
        for line in f:
            a = json.loads(line)
            clips[a["file"]] = a
    rows = {"sounding": [], "silent": [], "background": []}
    beats_silent, beats_bg, aucs = [], [], []
    with open(maps) as f:
        for line in f:
            m = json.loads(line)
            name, t = m["name"].rsplit("@", 1)
            a = clips[name]
            i = int(round(float(t) * a["fps"]))
            side = round(min(a["width"], a["height"]) * 8 / 9)
            x0, y0 = (a["width"] - side) // 2, (a["height"] - side) // 2
            h, w, v = m["height"], m["width"], m["values"]

            def boxes(sounding):
                out = []
                for o in a["objects"]:
                    if o["sounding"] == sounding and i < len(o["boxes"]) and o["boxes"][i]:
                        out.append(o["boxes"][i])
                return out

            snd, sil = boxes(True), boxes(False)
            if not snd:
                continue
            inside = lambda b, x, y: b[0] <= x < b[2] and b[1] <= y < b[3]
            region = {"sounding": [], "silent": [], "background": []}
            for r in range(h):
                for c in range(w):
                    x, y = x0 + (c + 0.5) * side / w, y0 + (r + 0.5) * side / h
                    if any(inside(b, x, y) for b in snd):
                        key = "sounding"
                    elif any(inside(b, x, y) for b in sil):
                        key = "silent"
                    else:
                        key = "background"
                    region[key].append(v[r * w + c])
            for k in rows:
                if region[k]:
                    rows[k].append(mean(region[k]))
            s = mean(region["sounding"]) if region["sounding"] else None
            if s is not None and region["silent"]:
                beats_silent.append(s > mean(region["silent"]))
            if s is not None and region["background"]:
                beats_bg.append(s > mean(region["background"]))
            auc = cell_auc(region["sounding"], region["silent"] + region["background"])
            if auc is not None:
                aucs.append(auc)
    if not aucs:
        sys.exit("no sample with a visible sounding object in " + maps)
    print("samples with a visible source: %d" % len(rows["sounding"]))
    print("mean map value: sounding %.3f, silent objects %.3f, background %.3f"
          % tuple(mean(rows[k]) for k in ("sounding", "silent", "background")))
    print("sounding region above silent objects: %.2f of %d; above background: %.2f of %d"
          % (mean(beats_silent), len(beats_silent), mean(beats_bg), len(beats_bg)))
    aucs.sort()
    print("cell AUC (sounding box vs the rest): mean %.3f, median %.3f"
          % (mean(aucs), aucs[len(aucs) // 2]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
