#!/usr/bin/env bash
# Issue #22 acceptance, colourisation (Zhang et al.): trained with its own preset and no other
# flag for 10 minutes, then scored on the synthetic world's held-out test files next to an
# untrained model of the same recipe. Every report holds the annealed-mean prediction's AuC
# (`auc`: per-pixel ab accuracy over thresholds 0-150, normalised) and the same for two baselines:
# the training prior's mean ab colour everywhere (`auc_mean_colour`, stored with the run) and grey
# (`auc_grey`, ab = 0). The contact sheet of held-out frames (grey input / prediction / original)
# is written beside each report (RUN/eval/colorization-test.png).
#
#   scripts/acceptance-colorization.sh [OUT]     OUT defaults to /tmp/acc-colour
#   PRETEXT=path/to/pretext SEED=1 WORLD_SEED=6 scripts/acceptance-colorization.sh /tmp/acc-colour6
#   MAX_TIME=60s scripts/acceptance-colorization.sh /tmp/smoke     (a smoke run)
#   PIN="taskset -c 1" ...                                          (pin to one core)
#
# Target: the trained model's held-out `auc` above its `auc_mean_colour`. The world is the one of
# scripts/acceptance-22.sh (400 clips, 2-4 objects 2.5 times the default size): an object's class
# fixes its hue (±10°) and its shape and texture tell the class, so colour is predictable from
# the grey picture there; the background's muted colours are drawn per clip and are not.
set -euo pipefail

PRETEXT=${PRETEXT:-target/release/pretext}
OUT=${1:-/tmp/acc-colour}
MAX_TIME=${MAX_TIME:-10m}
EXAMPLES=${EXAMPLES:-800}
SEED=${SEED:-0}
WORLD_SEED=${WORLD_SEED:-5}
PIN=${PIN:-}
WORLD=${WORLD:-$OUT/world}

mkdir -p "$OUT"
if [ ! -f "$WORLD/annotations.jsonl" ]; then
    $PIN "$PRETEXT" synth --out "$WORLD" --clips 400 --seed "$WORLD_SEED" \
        --split train=0.75,val=0.15,test=0.10 --object-scale 2.5 --objects 2-4
fi

run=$OUT/colorization
/usr/bin/time -v $PIN "$PRETEXT" train --task colorization --data "$WORLD" --out "$run" \
    --seed "$SEED" --max-time "$MAX_TIME" > "$run.log" 2> "$run.time" || { tail -20 "$run.time"; exit 1; }
ck=$run/checkpoints/best.safetensors
$PIN "$PRETEXT" eval task --checkpoint "$ck" --data "$WORLD" --split test \
    --val-examples "$EXAMPLES" --json > "$run/test.json"
$PIN "$PRETEXT" eval task --checkpoint "$ck" --data "$WORLD" --split test \
    --val-examples "$EXAMPLES" --json --untrained > "$run/test-untrained.json"

python3 - "$run" <<'PY'
import json, re, sys
run = sys.argv[1]
t = json.load(open(f"{run}/test.json"))
u = json.load(open(f"{run}/test-untrained.json"))
times = open(f"{run}.time").read()
cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", times))
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", times)
verdict = "MET" if t["auc"] > t["auc_mean_colour"] else "NOT MET"
print(f"colorization: held-out AuC {t['auc']:.4f} (step {t['step']}) vs mean colour "
      f"{t['auc_mean_colour']:.4f}, grey {t['auc_grey']:.4f}; untrained {u['auc']:.4f} on "
      f"{t['examples']} examples: {verdict} (train wall {wall.group(1) if wall else '?'}, "
      f"{cpu:.0f} CPU-s); sheet {t.get('contact_sheet')}")
PY
