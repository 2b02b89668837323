#!/usr/bin/env bash
# The whole image, as a user makes it: `sdcluster generate` against diffusers' pipeline on the
# same model and settings (DPM++ 2M Karras, guidance 7.5, 512x512, 25 steps), with the guidance
# cut-off at 0.5 (the conditional pass alone after step k = floor(0.5 * steps), diffusers'
# SDCFGCutoffCallback way, `--late-pass cond`) and at 1 (plain CFG). Times each process from start
# to PNG (model loading included) and its peak RSS, runs the two alternately, and prints a table
# of medians and the ratio diffusers/sdcluster (above 1: sdcluster faster).
#
# Usage: scripts/bench/whole-image.sh [--model DIR] [--steps N] [--size PX] [--threads N]
#                                     [--pairs N] [--cutoffs "0.5 1"] [--bin PATH]
#   --model: a diffusers folder; default /work/sd15-random, made once with
#            `$PYTHON scripts/bench/make_random_sd15.py DIR` (SD 1.5 configs, random weights).
#   --steps: 25 by default; fewer to measure quickly on a small machine (say so when quoting).
#   --pairs: alternating sdcluster/diffusers runs per cut-off (default 1).
#   --bin:   the sdcluster binary (default .build/release/sdcluster, built if missing).
#   PYTHON:  a Python with torch and diffusers (default python3).
# The machine may be shared: quote the ratios of one run, with `uptime`'s load.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=/work/sd15-random; steps=25; size=512; threads=""; pairs=1; cutoffs="0.5 1"; bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --cutoffs) cutoffs="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}
if [ ! -d "$model" ]; then
  echo "no model folder $model: make one with $python scripts/bench/make_random_sd15.py $model" >&2; exit 2
fi
"$python" -c "import torch, diffusers" 2>/dev/null || { echo "$python cannot import torch and diffusers (set PYTHON)" >&2; exit 2; }
if [ -z "$bin" ]; then
  bin=.build/release/sdcluster
  [ -x "$bin" ] || swift build -c release --product sdcluster >/dev/null
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time) for the peak RSS" >&2; exit 2; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
thread_args=(); py_threads=()
[ -n "$threads" ] && { thread_args=(--threads "$threads"); py_threads=(--threads "$threads"); }

echo "$(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg); $("$bin" info | sed -n 's/^engine: //p')" >&2
# run NAME CUTOFF COMMAND...: appends "name|cutoff|seconds|peak KiB|UNet evaluations" to $out/rows
# (both programs print "N UNet evaluations": the same count shows the same work was done).
run() {
  local name=$1 cutoff=$2; shift 2
  /usr/bin/time -f '%e %M' -o "$out/time" "$@" > "$out/log" 2>&1 || { cat "$out/log" >&2; echo "$name failed" >&2; exit 1; }
  read -r seconds kib < "$out/time"
  evaluations=$(grep -oE '[0-9]+ UNet evaluations' "$out/log" | head -1 | cut -d' ' -f1)
  echo "$name cut-off $cutoff: $seconds s, peak RSS $((kib / 1024)) MiB, ${evaluations:-?} UNet evaluations" >&2
  echo "$name|$cutoff|$seconds|$kib|${evaluations:-0}" >> "$out/rows"
}
for ((i = 1; i <= pairs; i++)); do
  for cutoff in $cutoffs; do
    run sdcluster "$cutoff" "$bin" generate "a red circle on a blue background" --model "$model" --width "$size" \
      --height "$size" --steps "$steps" --scheduler dpmpp-2m-karras --guidance-scale 7.5 --guidance-cutoff "$cutoff" \
      --late-pass cond --seed 42 "${thread_args[@]}" -o "$out/sdcluster.png"
    run diffusers "$cutoff" "$python" scripts/bench/whole_image_diffusers.py "$model" "$out/diffusers.png" --steps "$steps" \
      --size "$size" --cutoff "$cutoff" --guidance 7.5 --seed 42 "${py_threads[@]}"
  done
done
"$python" - "$out/rows" "$size" "$steps" <<'EOF'
import statistics, sys
rows = [line.strip().split("|") for line in open(sys.argv[1])]
size, steps = sys.argv[2], sys.argv[3]
print(f"| {size}x{size}, {steps} steps, DPM++ 2M Karras, guidance 7.5 | sdcluster | diffusers | ratio | peak RSS sdcluster / diffusers | UNet evaluations |")
print("| --- | --- | --- | --- | --- | --- |")
for cutoff in dict.fromkeys(r[1] for r in rows):
    def median(name, column):
        return statistics.median(float(r[column]) for r in rows if r[0] == name and r[1] == cutoff)
    ours, theirs = median("sdcluster", 2), median("diffusers", 2)
    label = "plain CFG (cut-off 1)" if float(cutoff) >= 1 else f"cut-off {cutoff}"
    print(f"| {label} | {ours:.1f} s | {theirs:.1f} s | {theirs / ours:.2f}x | "
          f"{median('sdcluster', 3) / 2**20:.2f} / {median('diffusers', 3) / 2**20:.2f} GiB | "
          f"{median('sdcluster', 4):.0f} / {median('diffusers', 4):.0f} |")
EOF
