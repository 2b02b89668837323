#!/usr/bin/env bash
# Peak RSS of a worker serving images: a coordinator and one worker on loopback, the worker
# under GNU time, one batch of images submitted and waited for, then the worker stopped (SIGTERM:
# it finishes and leaves) and its "Maximum resident set size" printed beside the model's
# weights on disk. What docs/performance.md quotes for "a worker serving such images".
#
# Usage: scripts/bench/worker-memory.sh --model DIR|FILE [--size PX] [--steps N] [--count N]
#                                        [--precision fp32|bf16] [--threads N] [--scheduler S] [--bin PATH]
#   defaults: --size 512 --steps 2 --count 1 --precision fp32 --scheduler euler, all cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=""; size=512; steps=2; count=1; precision=fp32; threads=""; scheduler=euler; bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --scheduler) scheduler="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] && [ -e "$model" ] || { echo "give --model DIR|FILE (see --help)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time) for the peak RSS" >&2; exit 2; }
if [ -z "$bin" ]; then
  bin=.build/release/sdcluster
  [ -x "$bin" ] || swift build -c release --product sdcluster >/dev/null
fi
dir=$(mktemp -d)
coordinator=""; worker=""
cleanup() {
  if [ -n "$worker" ]; then pkill -TERM -P "$worker" 2>/dev/null || true; fi
  kill -TERM $coordinator 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
"$bin" coordinator --clients "tcp://127.0.0.1:$port" --workers "tcp://127.0.0.1:$((port + 1))" \
  --store "$dir/store" --output "$dir/output" > "$dir/coordinator.log" 2>&1 &
coordinator=$!
thread_args=(); [ -n "$threads" ] && thread_args=(--threads "$threads")
/usr/bin/time -v -o "$dir/time" "$bin" worker --coordinator "tcp://127.0.0.1:$((port + 1))" --model "$model" \
  --precision "$precision" --name measured "${thread_args[@]}" > "$dir/worker.log" 2>&1 &
worker=$!
start=$(date +%s)
# The worker announces itself once its model is loaded (minutes for SDXL): wait for it.
until "$bin" status --coordinator "tcp://127.0.0.1:$port" 2>/dev/null | grep -q measured; do
  kill -0 "$worker" 2>/dev/null || { cat "$dir/worker.log" >&2; echo "the worker exited" >&2; exit 1; }
  sleep 2
done
"$bin" submit --coordinator "tcp://127.0.0.1:$port" --prompt "a red circle on a blue background" --count "$count" \
  --width "$size" --height "$size" --steps "$steps" --scheduler "$scheduler" --wait --out "$dir/images" \
  || { tail -n 20 "$dir/worker.log" "$dir/coordinator.log" >&2; exit 1; }
# SIGTERM to the worker itself (GNU time's child), so that time reports when it has left.
pkill -TERM -P "$worker" || true; wait "$worker" || true; worker=""
kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time")
weights=$(du -sbL "$model" | cut -f1)
awk -v kib="$kib" -v w="$weights" -v s="$size" -v p="$precision" -v n="$count" -v t=$(( $(date +%s) - start )) 'BEGIN {
  rss = kib * 1024
  printf "worker, %s, %dx%d, %d image(s): peak RSS %.2f GB; weights on disk %.2f GB; difference %+.2f GB; %d s\n", p, s, s, n, rss / 1e9, w / 1e9, (rss - w) / 1e9, t }'
