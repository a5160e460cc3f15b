#!/usr/bin/env bash
# Peak resident memory of `pretext pairs` and `pretext train` for a small and a large run over
# the same synthetic world (issue #26 §2). Memory that is bounded gives two peaks within 10 %;
# memory kept per example grows with the run. Peaks are GNU time's "maximum resident set size"
# of the whole process. Runs are sequential; nothing else is timed.
#
# Usage: scripts/bench-memory.sh [PRETEXT] [WORLD] [SCRATCH]
#   PRETEXT  the binary (default target/release/pretext)
#   WORLD    a synthetic world, made when missing (default /tmp/w: 160 clips of 4 s, seed 1)
#   SCRATCH  output folders (default /tmp/bench-memory; emptied first)
# Sizes (environment): PAIRS_SMALL=2000 PAIRS_LARGE=20000 STEPS_SMALL=500 STEPS_LARGE=5000
set -euo pipefail
bin=${1:-target/release/pretext}
world=${2:-/tmp/w}
scratch=${3:-/tmp/bench-memory}
pairs_small=${PAIRS_SMALL:-2000}
pairs_large=${PAIRS_LARGE:-20000}
steps_small=${STEPS_SMALL:-500}
steps_large=${STEPS_LARGE:-5000}

[ -e /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 1; }
[ -d "$world" ] || "$bin" synth --out "$world" --clips 160 --seconds 4 --seed 1 >/dev/null
rm -rf "$scratch"
mkdir -p "$scratch"

# Prints the peak RSS in MB of the command; its stderr goes to $scratch/NAME.log.
peak() {
  local name=$1
  shift
  if ! /usr/bin/time -f '%M' -o "$scratch/$name.kb" "$@" >/dev/null 2>"$scratch/$name.log"; then
    echo "failed: $* (see $scratch/$name.log)" >&2
    tail -5 "$scratch/$name.log" >&2
    exit 1
  fi
  awk '{ printf "%.0f", $1 / 1024 }' "$scratch/$name.kb"
}

pairs() {
  peak "pairs-$1" "$bin" pairs "$world" --task avc --count "$1" --out "$scratch/pairs-$1"
  rm -rf "$scratch/pairs-$1" # 224x224 frames: about 0.6 MB per example on disk
}

train() {
  peak "train-$1" "$bin" train --task avc --data "$world" --out "$scratch/train-$1" \
    --model quick --batch 8 --steps "$1" --val-every 100000 --threads 1 --workers 1
}

row() {
  awk -v what="$1" -v a="$2" -v b="$3" -v na="$4" -v nb="$5" \
    'BEGIN { printf "%-6s %8s -> %-8s peak RSS %6d MB -> %6d MB  (%.2fx)\n", what, na, nb, a, b, b / a }'
}

p1=$(pairs "$pairs_small")
p2=$(pairs "$pairs_large")
row pairs "$p1" "$p2" "$pairs_small" "$pairs_large"
t1=$(train "$steps_small")
t2=$(train "$steps_large")
row train "$t1" "$t2" "$steps_small" "$steps_large"
