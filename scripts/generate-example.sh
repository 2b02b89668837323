#!/usr/bin/env bash
# The main job on the shipped default model: installs what is missing, builds sdcluster
# (release), and generates a few images into outputs/ (one PNG per prompt, parameters inside).
# Usage: scripts/generate-example.sh [extra `sdcluster generate` options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product sdcluster
.build/release/sdcluster generate \
  "a red circle on a blue background" \
  "a small yellow striped star at the top on a black background" \
  "a large white cross on a green background" \
  --output outputs "$@"
echo "images written to $(pwd)/outputs" >&2
