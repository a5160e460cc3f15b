#!/usr/bin/env bash
# Benchmark for issue #4: `pretext synth` against a reference that only *encodes* the same amount
# of media with the ffmpeg CLI (lavfi testsrc2 + sine, libx264 veryfast CRF 23 threads=1 + AAC,
# one clip per process, as many processes in parallel as pretext uses threads), measured in the
# same run. pretext additionally renders the world and synthesises the sound.
#
# Usage: scripts/bench-synth.sh [CLIPS] [SECONDS] [SIZE] [THREADS]   (defaults 100 5 224x224 all)
set -euo pipefail
clips=${1:-100}
seconds=${2:-5}
size=${3:-224x224}
threads=${4:-$(nproc)}
bin=${PRETEXT:-target/release/pretext}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

measure() { # prints "wall user+sys"
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/time" "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  read -r u s <"$work/time"
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$u + $s" | bc -l)"
}

read -r p_wall p_cpu < <(measure "$bin" synth --out "$work/pretext" --clips "$clips" \
  --seconds "$seconds" --size "$size" --threads "$threads")

ref_clip() {
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=$2:rate=25:duration=$3" \
    -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=$3" \
    -c:v libx264 -preset veryfast -crf 23 -threads 1 -g 25 -pix_fmt yuv420p \
    -c:a aac -b:a 64k -ac 1 "$1"
}
export -f ref_clip
mkdir -p "$work/ref"
read -r r_wall r_cpu < <(measure bash -c "seq -f '%04g' 0 $((clips - 1)) | \
  xargs -P $threads -I{} bash -c 'ref_clip $work/ref/clip_{}.mp4 $size $seconds'")

printf 'clips=%s seconds=%s size=%s threads=%s cores=%s load=%s\n' "$clips" "$seconds" "$size" \
  "$threads" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf '%-26s %10s %12s\n' "" "wall (s)" "CPU (s)"
printf '%-26s %10.2f %12.2f\n' "pretext synth" "$p_wall" "$p_cpu"
printf '%-26s %10.2f %12.2f\n' "ffmpeg CLI encode only" "$r_wall" "$r_cpu"
printf 'ratio pretext/reference: wall %.2f, CPU %.2f\n' "$(echo "$p_wall / $r_wall" | bc -l)" \
  "$(echo "$p_cpu / $r_cpu" | bc -l)"
