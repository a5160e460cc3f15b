#!/usr/bin/env bash
# Issue #22 acceptance: jigsaw (100 permutations) and relative patch position, each trained for
# 15 minutes with its own preset and no other flag (the preset is the recipe), then scored on the
# synthetic world's held-out test files next to an untrained model of the same recipe.
#
#   scripts/acceptance-22.sh [OUT]        OUT defaults to /tmp/acc22; must not hold earlier runs
#   PRETEXT=path/to/pretext scripts/acceptance-22.sh
#   MAX_TIME=90s scripts/acceptance-22.sh /tmp/smoke22     (a smoke run)
#
# Targets: jigsaw held-out permutation accuracy >= 0.6 (chance 0.01); relative position >= 0.6
# (chance 0.125). The world: 400 clips of 2-4 objects 2.5 times the default size, so that objects
# span several cells: they are what ties the tiles of a frame together (the background texture
# alone says little about where a tile lies).
set -euo pipefail

PRETEXT=${PRETEXT:-target/release/pretext}
OUT=${1:-/tmp/acc22}
MAX_TIME=${MAX_TIME:-15m}
EXAMPLES=${EXAMPLES:-800}
WORLD=$OUT/world

mkdir -p "$OUT"
if [ ! -f "$WORLD/annotations.jsonl" ]; then
    "$PRETEXT" synth --out "$WORLD" --clips 400 --seed 5 \
        --split train=0.75,val=0.15,test=0.10 --object-scale 2.5 --objects 2-4
fi

for task in jigsaw relative-position; do
    run=$OUT/$task
    /usr/bin/time -v "$PRETEXT" train --task "$task" --data "$WORLD" --out "$run" \
        --max-time "$MAX_TIME" 2> "$run.time" || { tail -20 "$run.time"; exit 1; }
    ck=$run/checkpoints/best.safetensors
    "$PRETEXT" eval task --checkpoint "$ck" --data "$WORLD" --split test \
        --val-examples "$EXAMPLES" --json > "$run/test.json"
    "$PRETEXT" eval task --checkpoint "$ck" --data "$WORLD" --split test \
        --val-examples "$EXAMPLES" --json --untrained > "$run/test-untrained.json"
done

python3 - "$OUT" <<'EOF'
import json, re, sys
out = sys.argv[1]
targets = {"jigsaw": (0.6, 0.01), "relative-position": (0.6, 0.125)}
for task, (target, chance) in targets.items():
    trained = json.load(open(f"{out}/{task}/test.json"))
    untrained = json.load(open(f"{out}/{task}/test-untrained.json"))
    times = open(f"{out}/{task}.time").read()
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", times))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", times)
    extra = "".join(f", {k} {trained[k]:.3f}" for k in ("top5_accuracy", "balanced_accuracy") if k in trained)
    verdict = "MET" if trained["accuracy"] >= target else "NOT MET"
    print(f"{task}: held-out accuracy {trained['accuracy']:.3f}{extra} on {trained['examples']} "
          f"examples; untrained {untrained['accuracy']:.3f}; chance {chance}; target {target}: "
          f"{verdict} (train wall {wall.group(1) if wall else '?'}, {cpu:.0f} CPU-s)")
EOF
