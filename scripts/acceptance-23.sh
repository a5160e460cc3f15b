#!/usr/bin/env bash
# Issue #23 acceptance: per-layer linear probes, kNN and retrieval for every pretext task on ONE
# synthetic world, next to a random-init trunk and a supervised upper bound.
#
#   scripts/acceptance-23.sh [OUT]            OUT defaults to /tmp/acc23
#   MAX_TIME=5m CORE=1 PRETEXT=target/release/pretext scripts/acceptance-23.sh /tmp/acc23
#   PHASE=train|eval|all (default all): eval reuses the runs train made (and the feature cache).
#
# Each task trains with its own preset and no other flag for MAX_TIME, pinned to one core
# (taskset -c CORE). Probes are trained on the world's train split and scored on its test split
# (held-out files) with --seed 7, a seed no training run used.
set -euo pipefail

PRETEXT=${PRETEXT:-target/release/pretext}
OUT=${1:-/tmp/acc23}
MAX_TIME=${MAX_TIME:-5m}
CORE=${CORE:-1}
PHASE=${PHASE:-all}
TASKS=${TASKS:-avc frame-order rotation jigsaw relative-position}
WORLD=$OUT/world
PIN="taskset -c $CORE"

mkdir -p "$OUT"
if [ ! -f "$WORLD/annotations.jsonl" ]; then
    "$PRETEXT" synth --out "$WORLD" --clips 400 --seed 5 \
        --split train=0.75,val=0.15,test=0.10 --object-scale 2.5 --objects 2-4
fi

if [ "$PHASE" = train ] || [ "$PHASE" = all ]; then
    for task in $TASKS; do
        run=$OUT/$task
        [ -f "$run/checkpoints/best.safetensors" ] && continue
        /usr/bin/time -v $PIN "$PRETEXT" train --task "$task" --data "$WORLD" --out "$run" \
            --max-time "$MAX_TIME" 2> "$run.time" || { tail -20 "$run.time"; exit 1; }
    done
fi

# Probes: every task's trunk (trained, then random init of the same architecture), and the
# supervised upper bound on SUPERVISED tasks' trunks, each trained on the labels for MAX_TIME
# like the pretext runs. LABELS: synth:largest (the largest object's class: what frames show)
# or synth:sounding (the sounding object's class: what the sound tells; frames cannot say which
# visible object sounds). Reports go to TASK/probe-LABELTAG[-untrained|-supervised].
SEED=${SEED:-7}
LABELS=${LABELS:-synth:largest}
SUPERVISED=${SUPERVISED:-rotation}
TAG=${LABELS//:/-}
probe() {   # task variant-flags suffix
    local task=$1 flags=$2 suffix=$3 ck=$OUT/$1/checkpoints/best.safetensors
    local out=$OUT/$task/probe-$TAG$suffix
    [ -f "$out/report.json" ] && return 0
    $PIN "$PRETEXT" eval probe --checkpoint "$ck" --data "$WORLD" --labels "$LABELS" \
        --seed "$SEED" --workers 1 --threads 1 --out "$out" --cache "$OUT/$task/probe-cache" \
        $flags > "$out.log" 2>&1 || { tail -5 "$out.log"; exit 1; }
}
if [ "$PHASE" = eval ] || [ "$PHASE" = all ]; then
    for task in $TASKS; do
        probe "$task" "" ""
        probe "$task" --untrained -untrained
    done
    for task in $SUPERVISED; do
        probe "$task" "--supervised --max-time $MAX_TIME" -supervised
    done
    runs=()
    for task in $TASKS; do runs+=("$OUT/$task/probe-$TAG/report.json"); done
    for task in $TASKS; do runs+=("$OUT/$task/probe-$TAG-untrained/report.json"); done
    for task in $SUPERVISED; do runs+=("$OUT/$task/probe-$TAG-supervised/report.json"); done
    "$PRETEXT" eval compare "${runs[@]}" --out "$OUT/compare-$TAG"
fi
