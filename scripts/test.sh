#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (unit, diffusers
# parity, pipeline, cluster on loopback). Usage: scripts/test.sh [extra `swift test` options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Passive OpenMP waiting, as the sdcluster binary sets for itself (see OpenMPEnvironment.swift).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
swift build --build-tests
swift test --skip-build "$@"
