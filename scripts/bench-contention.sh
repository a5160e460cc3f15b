#!/usr/bin/env bash
# Training throughput on a busy machine (issue #26 §5): `pretext bench train` samples/s with
# nothing else started, with one and with three competing `yes >/dev/null` processes, for each
# binary given, interleaved round by round so that every ratio compares runs made minutes apart.
# Each round runs, per binary: idle, 1 competitor, 3 competitors. Also records the process's
# CPU seconds (user + sys, GNU time): threads that spin at barriers burn CPU without progress.
# Prints every run, then per binary and condition the medians of samples/s, of the per-round
# ratio to the same binary's idle run, and of CPU seconds.
#
# Usage: scripts/bench-contention.sh [PRETEXT ...]     (default: target/release/pretext)
# Environment: WORLD=/tmp/w (made when missing) ROUNDS=3 STEPS=20
#              ARGS='--threads 2 --workers 1' (the issue's command; ARGS='--workers 1' takes
#              the CPU budget's thread count)
set -euo pipefail
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(target/release/pretext)
world=${WORLD:-/tmp/w}
rounds=${ROUNDS:-3}
steps=${STEPS:-20}
read -r -a extra <<<"${ARGS:---threads 2 --workers 1}"
[ -e /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
[ -d "$world" ] || "${bins[0]}" synth --out "$world" --clips 160 --seconds 4 --seed 1 >/dev/null
work=$(mktemp -d)
pids=()
stop_competitors() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_competitors; rm -rf "$work"' EXIT

for r in $(seq 1 "$rounds"); do
  for b in "${bins[@]}"; do
    for k in 0 1 3; do
      for _ in $(seq 1 "$k"); do
        yes >/dev/null &
        pids+=($!)
      done
      load=$(cut -d' ' -f1 /proc/loadavg)
      /usr/bin/time -f '%U %S' -o "$work/cpu" "$b" bench train --task avc --model quick \
        --data "$world" "${extra[@]}" --steps "$steps" >"$work/out" 2>/dev/null || true
      stop_competitors
      rate=$(sed -n 's/.*: \([0-9.]*\) samples\/s.*/\1/p' "$work/out")
      cpu=$(awk '{ print $1 + $2 }' "$work/cpu")
      echo "round $r  $b  competitors $k  load $load  ${rate:-failed} samples/s  $cpu CPU s"
      echo "$r $b $k ${rate:-0} $cpu" >>"$work/log"
    done
  done
done

echo
printf '%-28s %11s %16s %21s %14s\n' binary competitors "samples/s" "ratio to idle" "CPU seconds"
for b in "${bins[@]}"; do
  for k in 0 1 3; do
    awk -v b="$b" -v k="$k" '
      function median(a, n,   i, j, t) {
        for (i = 1; i < n; i++) for (j = i; j > 0 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2
      }
      $2 == b && $3 == 0 { idle[$1] = $4 }
      $2 == b && $3 == k { rate[$1] = $4; cpu[$1] = $5 }
      END {
        n = 0
        for (r in rate) { v[n] = rate[r]; c[n] = cpu[r]; q[n] = (idle[r] > 0 ? rate[r] / idle[r] : 0); n++ }
        printf "%-28s %11d %16.1f %21.2f %14.1f\n", b, k, median(v, n), median(q, n), median(c, n)
      }' "$work/log"
  done
done
