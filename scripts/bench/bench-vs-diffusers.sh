#!/usr/bin/env bash
# Runs `sdcluster bench` and diffusers on the same SD 1.5 shapes, one after the other in one run,
# and prints ours, diffusers', and the speed ratio per case.
# Usage: scripts/bench/bench-vs-diffusers.sh [unet|text-encoder|vae] [extra sdcluster bench options]
# Needs: a Python with torch + diffusers + transformers (set PYTHON, default: python3); see
# scripts/requirements.txt. Without torch it prints only our figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-unet}; shift || true
python=${PYTHON:-python3}
swift build -c release --product sdcluster >/dev/null
ours=$(mktemp); theirs=$(mktemp)
.build/release/sdcluster bench "$what" "$@" | tee "$ours"
if "$python" -c "import torch, diffusers" 2>/dev/null; then
  "$python" scripts/bench/bench_diffusers.py "$what" "$@" | tee "$theirs"
  echo
  printf '%-28s %10s %12s %8s\n' case sdcluster diffusers speedup
  while IFS= read -r line; do
    label=$(echo "$line" | sed -E 's/ +[0-9.]+ s .*//')
    mine=$(echo "$line" | sed -E 's/.* ([0-9.]+) s .*/\1/')
    other=$(grep -F "$label " "$theirs" | head -1 | sed -E 's/.* ([0-9.]+) s .*/\1/' || true)
    [ -n "$other" ] && printf '%-28s %9.3fs %11.3fs %7.2fx\n' "$label" "$mine" "$other" "$(echo "$other / $mine" | bc -l)"
  done < <(grep -E ' s  ' "$ours")
else
  echo "(torch/diffusers not importable with $python: diffusers figures skipped)" >&2
fi
