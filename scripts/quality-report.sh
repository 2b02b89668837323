#!/usr/bin/env bash
# The default model's quality report, measured with sdcluster itself: held-out captions that
# state every attribute (`sdcluster shapes prompts`), `generate` with the defaults (fixed seed),
# judged by `sdcluster shapes judge`; then the same captions at guidance cut-off 0, 0.25, 0.5,
# 0.75 and 1 with late pass uncond and cond (cut-off 1 is plain guidance: one run serves both).
# Prints a markdown table: UNet evaluations per image against agreement per attribute.
#
# Usage: scripts/quality-report.sh [--count 200] [--seed 7] [--image-seed 1000] [--model DIR]
#                                  [--out DIR (default outputs/quality)] [--jobs N (default nproc)]
#                                  [--defaults-only] [--precision fp32|bf16]
#   Runs N generate processes at once, one thread each (small models scale better that way).
#   Needs python3 (standard library only) to print the table. About 25 min on 2 cores for 200.
set -euo pipefail
cd "$(dirname "$0")/.."
count=200; seed=7; image_seed=1000; out=outputs/quality; jobs=$(nproc); model=(); only_defaults=0; precision=fp32
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --image-seed) image_seed="$2"; shift 2 ;;
    --model) model=(--model "$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --defaults-only) only_defaults=1; shift ;;
    --precision) precision="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
swift build -c release --product sdcluster >/dev/null
bin=$PWD/.build/release/sdcluster
mkdir -p "$out"
"$bin" shapes prompts --count "$count" --seed "$seed" > "$out/prompts.txt"

configs=("1 uncond")   # the defaults: plain classifier-free guidance
if [ $only_defaults = 0 ]; then
  for c in 0 0.25 0.5 0.75; do configs+=("$c uncond" "$c cond"); done
fi
run() {  # cutoff late-pass
  local dir="$out/cutoff-$1-$2"
  rm -rf "$dir"; mkdir -p "$dir"
  "$bin" generate --prompts "$out/prompts.txt" --seed "$image_seed" --guidance-cutoff "$1" --late-pass "$2" \
      --threads 1 --precision "$precision" "${model[@]}" -o "$dir" > /dev/null 2> "$dir/generate.log"
  "$bin" shapes judge "$dir" --json > "$dir/judge.json"
  echo "done: cut-off $1, late pass $2 ($(tail -1 "$dir/generate.log"))" >&2
}
running=0
for config in "${configs[@]}"; do
  run $config &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

python3 - "$out" "${configs[@]}" <<'PY'
import json, re, sys
out, configs = sys.argv[1], sys.argv[2:]
attrs = ["background", "color", "shape", "position", "size", "pattern"]
print("| guidance cut-off | late pass | UNet evals / image | " + " | ".join(attrs) + " | all stated |")
print("|---|---|---|" + "---|" * (len(attrs) + 1))
for config in configs:
    cutoff, late = config.split()
    d = f"{out}/cutoff-{cutoff}-{late}"
    report = json.load(open(f"{d}/judge.json"))["report"]
    log = open(f"{d}/generate.log").read()
    m = re.search(r"(\d+) image\(s\) in [\d.]+ s \(([\d.]+) s each\); (\d+) UNet evaluations", log)
    evals = f"{int(m.group(3)) / int(m.group(1)):.0f}" if m else "?"
    cells = []
    for a in attrs:
        t = report["attributes"].get(a, {"stated": 0, "agreed": 0})
        cells.append(f"{100 * t['agreed'] / t['stated']:.1f}%" if t["stated"] else "-")
    late_text = "(both)" if cutoff == "1" else late
    print(f"| {cutoff} | {late_text} | {evals} | " + " | ".join(cells) + f" | {100 * report['all_agreed'] / report['images']:.1f}% |")
PY
