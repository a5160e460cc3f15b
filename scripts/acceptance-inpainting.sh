#!/usr/bin/env bash
# Issue #22 acceptance, inpainting (Context Encoders): the task's own preset and no other flag,
# trained for 10 minutes pinned to one core, then scored on the synthetic world's held-out test
# files next to an untrained model of the same recipe, with the contact sheet of held-out frames.
#
#   scripts/acceptance-inpainting.sh [OUT]       OUT defaults to /tmp/acc-inpainting
#   PRETEXT=path/to/pretext scripts/acceptance-inpainting.sh
#   WORLD_SEED=6 SEED=1 CORE=0 scripts/acceptance-inpainting.sh /tmp/acc-inpainting-6   (the
#       confirming run: another world and another training seed; two such runs can go side by
#       side on two cores)
#   MAX_TIME=60s scripts/acceptance-inpainting.sh /tmp/smoke                 (a smoke run)
#
# Target: held-out mean squared error in the hole at least 30 % below the mean-colour fill (the
# hole filled with the mean colour of the frame's visible context): l2_reduction >= 0.30. The
# world: the jigsaw's (scripts/acceptance-22.sh): 400 clips, 2-4 objects 2.5 times the default
# size, so that holes cut through objects whose rest is visible.
set -euo pipefail

PRETEXT=${PRETEXT:-target/release/pretext}
OUT=${1:-/tmp/acc-inpainting}
MAX_TIME=${MAX_TIME:-10m}
EXAMPLES=${EXAMPLES:-400}
WORLD_SEED=${WORLD_SEED:-5}
CORE=${CORE:-1}
WORLD=${WORLD:-$OUT/world}
SEED_FLAG=()
if [ -n "${SEED:-}" ]; then SEED_FLAG=(--seed "$SEED"); fi

mkdir -p "$OUT"
if [ ! -f "$WORLD/annotations.jsonl" ]; then
    "$PRETEXT" synth --out "$WORLD" --clips 400 --seed "$WORLD_SEED" \
        --split train=0.75,val=0.15,test=0.10 --object-scale 2.5 --objects 2-4
fi

run=$OUT/inpainting
/usr/bin/time -v taskset -c "$CORE" "$PRETEXT" train --task inpainting --data "$WORLD" \
    --out "$run" --max-time "$MAX_TIME" "${SEED_FLAG[@]}" > "$run.log" 2> "$run.time" \
    || { tail -20 "$run.time"; exit 1; }
ck=$run/checkpoints/best.safetensors
"$PRETEXT" eval task --checkpoint "$ck" --data "$WORLD" --split test \
    --val-examples "$EXAMPLES" --json > "$run/test.json"
"$PRETEXT" eval task --checkpoint "$ck" --data "$WORLD" --split test \
    --val-examples "$EXAMPLES" --json --untrained > "$run/test-untrained.json"

python3 - "$run" <<'PY'
import json, re, sys
run = sys.argv[1]
t = json.load(open(f"{run}/test.json"))
u = json.load(open(f"{run}/test-untrained.json"))
times = open(f"{run}.time").read()
cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", times))
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", times)
verdict = "MET" if t["l2_reduction"] >= 0.30 else "NOT MET"
print(f"inpainting (step {t['step']}): held-out l2_reduction {t['l2_reduction']:.3f} "
      f"(hole L2 {t['hole_l2']:.4f} vs mean-colour fill {t['hole_l2_mean_fill']:.4f}, "
      f"mean pixel {t['hole_l2_mean_pixel']:.4f}; PSNR {t['hole_psnr']:.2f} vs "
      f"{t['hole_psnr_mean_fill']:.2f} dB; beats the fill on {t['beats_mean_fill']:.3f}) on "
      f"{t['examples']} examples; untrained {u['l2_reduction']:.3f} (hole L2 {u['hole_l2']:.4f}); "
      f"target 0.30: {verdict} (train wall {wall.group(1) if wall else '?'}, {cpu:.0f} CPU-s)")
print(f"contact sheets: {t.get('contact_sheet')} {u.get('contact_sheet')}")
PY
