#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (unit, diffusers
# parity, pipeline, cluster on loopback), then runs the engine's determinism, parity and
# cluster-vs-generate tests again with oneDNN capped at AVX2 (and so the C kernels on their
# portable code): the paths an AVX2-only CPU takes, checked on a better CPU too. Last, where
# the machine allows network namespaces (root), the short cluster fault test across namespaces
# (scripts/cluster-faults.sh --short: packet loss, a partition, a worker and the coordinator
# SIGKILLed; every image once and identical to `generate`); elsewhere it says why it is skipped.
# Usage: scripts/test.sh [extra `swift test` options for the first run]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Passive OpenMP waiting, as the sdcluster binary sets for itself (see ProcessEnvironment.swift).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
swift build --build-tests
swift test --skip-build "$@"

# The lower ISA path. Skipped only where the CPU is AVX2-class already (the first run was it).
best=$(.build/debug/sdcluster info | sed -n 's/^engine: oneDNN [^ ]* \([^ ]*\) .*/\1/p')
case "$best" in
  avx512*)
    echo "== again with ONEDNN_MAX_CPU_ISA=AVX2 (this CPU's best: $best)" >&2
    ONEDNN_MAX_CPU_ISA=AVX2 swift test --skip-build --filter \
      'ComputeTests|StableDiffusionTests\.(DiffusersParityTests|EndToEndParityTests|PipelineParityTests|PipelineBatchingTests|ImageSizeParityTests|StableDiffusion2ParityTests|SDXLParityTests|ResnetBlockInPlaceTests|DiffusersTextParityTests|PromptEncoderTests|TextualInversionTests|ThreadInvarianceTests|SampleLaneTests|BFloat16ModelTests|LoRAParityTests|LoRAThreadInvarianceTests)|ClusterTests\.(ClusterEndToEndTests|ClusterLoRATests)|DefaultModelTests\.BFloat16FidelityTests'
    ;;
  *) echo "== this CPU's best ISA is $best: the run above took the AVX2-class paths" >&2 ;;
esac

# Faults across hosts: namespaces need root and a kernel (or container) that allows them.
if why=$(scripts/cluster-faults.sh --can-run 2>&1); then
  echo "== cluster fault test across network namespaces (short)" >&2
  scripts/cluster-faults.sh --short
else
  echo "== cluster fault test skipped: $why (scripts/cluster-faults.sh needs root and network namespaces)" >&2
fi
