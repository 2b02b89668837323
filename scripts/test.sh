#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (unit, diffusers
# parity, pipeline, cluster on loopback). Usage: scripts/test.sh [extra `swift test` options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
