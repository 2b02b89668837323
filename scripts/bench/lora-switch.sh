#!/usr/bin/env bash
# What switching LoRA sets costs in `generate`: a prompt file whose requests alternate between
# the plain model and LoRA A (one image each, 1 step, so sampling is a small part), run through
# the release binary; `generate` groups the requests and builds one model per set, and says on
# stderr how long each build took ("loaded ... in X s"): the plain model's build against the
# LoRA one's is what merging adds. The figures go to docs/weights.md.
# Usage: scripts/bench/lora-switch.sh MODEL_DIR LORA.safetensors [SIZE] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
model=$1 lora=$2 size=${3:-512} threads=${4:-2}
bin=.build/release/sdcluster
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$lora" "$dir/bench.safetensors"
name=bench
{
  for i in 1 2 3; do
    printf '{"prompt": "a castle", "seed": %d}\n' "$i"
    printf '{"prompt": "a castle", "seed": %d, "loras": [{"name": "%s", "weight": 0.8}]}\n' "$i" "$name"
  done
} > "$dir/prompts.jsonl"
echo "== $model, LoRA $(basename "$lora"), ${size}x${size}, 1 step, $threads threads" >&2
/usr/bin/time -f "wall %e s, max RSS %M KB" "$bin" generate --prompts "$dir/prompts.jsonl" --model "$model" \
  --lora-dir "$dir" --steps 1 --width "$size" --height "$size" --threads "$threads" -o "$dir/out" 2>&1 >/dev/null \
  | grep -E "loaded|image\(s\) in|wall"
