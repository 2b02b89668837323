#!/usr/bin/env bash
# Measures the cluster on this machine (numbers for docs/cluster.md):
#   scripts/bench-cluster.sh run WORKERS IMAGES [cluster options] [-- submit options]
# starts scripts/local-cluster.sh WORKERS --detach with the cluster options (e.g. --engine
# simulated --unet-seconds 0.2, --placement split, --model DIR), submits IMAGES copies of one
# prompt with the submit options (e.g. --steps 25 --guidance-cutoff 0.5), waits, prints one
# line: workers, images, wall seconds, UNet evaluations, evaluations per second, seconds per
# image; then stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "${1:-}" == "run" ]] || { sed -n 2,8p "$0" >&2; exit 2; }
workers="$2" images="$3"; shift 3
cluster=() submit=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--" ]]; then shift; submit=("$@"); break; fi
  cluster+=("$1"); shift
done
bin=.build/release/sdcluster
dir=$(mktemp -d /tmp/sdcluster-bench.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
scripts/local-cluster.sh "$workers" --detach --dir "$dir" --port "$port" --bin "$bin" "${cluster[@]}" 2>/dev/null
trap 'scripts/local-cluster.sh stop --dir "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
# Wait until every worker is connected.
for _ in $(seq 1 600); do
  n=$("$bin" status --coordinator "tcp://127.0.0.1:$port" 2>/dev/null | sed -n 's/^workers: //p' || true)
  [[ "${n:-0}" == "$workers" ]] && break
  sleep 0.2
done
seq 1 "$images" | sed 's/.*/a red circle on a blue background/' > "$dir/prompts.txt"
start=$(date +%s.%N)
"$bin" submit "$dir/prompts.txt" --coordinator "tcp://127.0.0.1:$port" --wait --out "$dir/got" "${submit[@]}" >/dev/null 2>"$dir/submit.log"
end=$(date +%s.%N)
evals=$(grep -o '"unet_evaluations":[0-9]*' "$dir/got/manifest.jsonl" | cut -d: -f2 | paste -sd+ | bc)
awk -v w="$workers" -v n="$images" -v s="$start" -v e="$end" -v ev="$evals" 'BEGIN {
  t = e - s; printf "workers %d images %d wall %.2f s evaluations %d (%.1f per image) %.1f evaluations/s %.3f s per image\n", w, n, t, ev, ev / n, ev / t, t / n }'
