#!/usr/bin/env bash
# Retrains the default "shapes" model from nothing, resuming wherever a previous run stopped:
#   1. the data set, drawn by sdcluster's own generator (skipped when present),
#   2. the VAE, 3. the latents of the data set, 4. the UNet and text encoder together,
#   5. the export into models/shapes/ (fp16 safetensors, diffusers layout).
# State lives in $SHAPES_STATE (default /work/train-state), data in $SHAPES_DATA
# (default /work/train-data). Run it in the background, e.g.
#   nohup setsid nice -n 15 scripts/train/train_all.sh >> /work/train-state/train.log 2>&1 &
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export SHAPES_DATA="${SHAPES_DATA:-/work/train-data}"
export SHAPES_STATE="${SHAPES_STATE:-/work/train-state}"
python="${PYTHON:-python3}"
mkdir -p "$SHAPES_STATE"

if [ ! -f "$SHAPES_DATA/captions.jsonl" ]; then
    (cd "$repo" && swift build -c release --product sdcluster)
    "$repo/.build/release/sdcluster" shapes dataset --count "${DATASET_COUNT:-30000}" --size 128 --seed 1 --out "$SHAPES_DATA"
fi
# The shipped model's step totals and settings (docs/default-model.md); the shipped run reached
# them in stages (VAE texture terms from step 9194, the UNet continued across that VAE change).
"$python" "$here/train_vae.py" --steps "${VAE_STEPS:-14500}"
"$python" "$here/encode_latents.py" --count "${LATENT_COUNT:-0}"
"$python" "$here/train_unet.py" --steps "${UNET_STEPS:-18000}" --batch 32 --ema 0.995 --sample-every 500
"$python" "$here/export.py" --out "$repo/models/shapes"
