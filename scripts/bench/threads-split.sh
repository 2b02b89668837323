#!/usr/bin/env bash
# Is one worker with N threads better than N workers with one thread each? Runs the same UNet
# benchmark once with all threads, then as N one-thread processes at the same time, and prints
# the throughput (UNet evaluations per second) of each way and their ratio.
# Usage: scripts/bench/threads-split.sh [N (default: nproc)] [extra `sdcluster bench unet` options]
#   default options: --sizes 32 --batches 2 --repeat 3 --precision fp32
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-$(nproc)}; shift || true
opts=("$@"); [ ${#opts[@]} -eq 0 ] && opts=(--sizes 32 --batches 2 --repeat 3 --precision fp32)
swift build -c release --product sdcluster >/dev/null
bin=.build/release/sdcluster
seconds() { sed -nE 's/^unet .* ([0-9.]+) s .*/\1/p' | head -1; }
one=$("$bin" bench unet --threads "$n" "${opts[@]}" | seconds)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$n"); do "$bin" bench unet --threads 1 "${opts[@]}" > "$dir/$i" & done
wait
awk -v one="$one" -v n="$n" -v dir="$dir" 'BEGIN {
  split("", t); total = 0
  for (i = 1; i <= n; i++) {
    cmd = "sed -nE \"s/^unet .* ([0-9.]+) s .*/\\1/p\" " dir "/" i; cmd | getline s; close(cmd); total += 1 / s
    printf "one-thread process %d: %.3f s per evaluation\n", i, s }
  printf "one process, %d threads: %.3f s per evaluation = %.3f evaluations/s\n", n, one, 1 / one
  printf "%d one-thread processes together: %.3f evaluations/s\n", n, total
  printf "split / together: %.1f%%\n", 100 * total * one }'
