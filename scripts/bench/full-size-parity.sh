#!/usr/bin/env bash
# A full-size model of the real architecture (random weights, any family: SD 1.x, SD 2.x, SDXL)
# against diffusers at a small image size for a few steps: `sdcluster generate` and diffusers'
# pipeline (scripts/bench/whole_image_diffusers.py, the class model_index.json names) make the
# same image, with plain guidance and with the guidance cut-off (`--late-pass cond`, diffusers'
# CFG cut-off callback), and the script prints the largest pixel difference of each pair. The
# parity tests check the same on toy-width models; this checks that the full-size configs
# (head counts, transformer depths, widths) load and run as diffusers runs them.
# Random full-size weights make a network whose activations grow layer after layer, so float32
# rounding alone moves pixels: with --fp64-reference (DDIM only; about 8x the model's fp32 size
# in memory: SD 1.x/2.x, not SDXL here) diffusers also runs in float64, and each program's
# distance to that exact image is printed; sdcluster passes when it is no further from it than
# diffusers' own float32 image (+ 1/255). Without it, a pair passes within 2/255.
#
# Usage: scripts/bench/full-size-parity.sh --model DIR [--size PX] [--steps N]
#                                          [--schedulers "ddim euler-a"] [--cutoffs "1 0.5"] [--bin PATH]
#                                          [--fp64-reference]
#   --model: a diffusers folder, e.g. made by scripts/bench/make_random_sd15.py or make_random_sdxl.py.
#   --size:  image size in pixels (default 128; a multiple of 8 x 2^(levels - 1) of the UNet).
#   --steps: denoising steps (default 2).
#   PYTHON:  a Python with torch and diffusers (default python3).
# Exits 1 when a case fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=""; size=128; steps=2; schedulers="ddim"; cutoffs="1 0.5"; bin=""; fp64=0
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --schedulers) schedulers="$2"; shift 2 ;;
    --cutoffs) cutoffs="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --fp64-reference) fp64=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] && [ -d "$model" ] || { echo "give --model DIR, a diffusers folder (see --help)" >&2; exit 2; }
python=${PYTHON:-python3}
"$python" -c "import torch, diffusers, numpy, PIL" 2>/dev/null || { echo "$python cannot import torch, diffusers, numpy and PIL (set PYTHON)" >&2; exit 2; }
if [ -z "$bin" ]; then
  bin=.build/release/sdcluster
  [ -x "$bin" ] || swift build -c release --product sdcluster >/dev/null
fi
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
echo "$(date -u +%FT%TZ) $model, ${size}x${size}, $steps steps; $("$bin" info | sed -n 's/^engine: //p')" >&2
status=0
for scheduler in $schedulers; do
  for cutoff in $cutoffs; do
    name="$scheduler-cutoff-$cutoff"
    "$bin" generate "a red circle on a blue background" --model "$model" --width "$size" --height "$size" \
      --steps "$steps" --scheduler "$scheduler" --guidance-scale 7.5 --guidance-cutoff "$cutoff" --late-pass cond \
      --seed 42 -o "$out/$name-sdcluster.png" > "$out/log" 2>&1 || { cat "$out/log" >&2; echo "sdcluster failed ($name)" >&2; exit 1; }
    "$python" scripts/bench/whole_image_diffusers.py "$model" "$out/$name-diffusers.png" --steps "$steps" --size "$size" \
      --cutoff "$cutoff" --guidance 7.5 --seed 42 --scheduler "$scheduler" > "$out/log" 2>&1 \
      || { cat "$out/log" >&2; echo "diffusers failed ($name)" >&2; exit 1; }
    reference=""
    if [ "$fp64" = 1 ]; then
      "$python" scripts/bench/whole_image_diffusers.py "$model" "$out/$name-fp64.png" --steps "$steps" --size "$size" \
        --cutoff "$cutoff" --guidance 7.5 --seed 42 --scheduler "$scheduler" --dtype float64 > "$out/log" 2>&1 \
        || { cat "$out/log" >&2; echo "diffusers float64 failed ($name)" >&2; exit 1; }
      reference="$out/$name-fp64.png"
    fi
    "$python" - "$name" "$out/$name-sdcluster.png" "$out/$name-diffusers.png" $reference <<'PY' || status=1
import sys
import numpy as np
from PIL import Image
name, ours, theirs = sys.argv[1], *(np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in sys.argv[2:4])
def distance(a, b):
    d = np.abs(a - b)
    return d.max(), f"largest {d.max()}/255, mean {d.mean():.3f}, pixels over 2/255: {(d > 2).any(axis=2).sum()}"
largest, text = distance(ours, theirs)
print(f"{name}: sdcluster vs diffusers fp32: {text}")
if len(sys.argv) < 5:
    sys.exit(0 if largest <= 2 else 1)
exact = np.asarray(Image.open(sys.argv[4]).convert("RGB"), dtype=np.int16)
ours_off, ours_text = distance(ours, exact)
theirs_off, theirs_text = distance(theirs, exact)
print(f"{name}: sdcluster vs diffusers fp64: {ours_text}")
print(f"{name}: diffusers fp32 vs fp64: {theirs_text}")
sys.exit(0 if ours_off <= theirs_off + 1 else 1)
PY
  done
done
exit $status
