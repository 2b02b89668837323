#!/usr/bin/env bash
# The cluster's wall time on a slow, lossy link against a clean one, side by side: a coordinator
# and simulated workers (each UNet evaluation sleeps --unet-seconds) in a network namespace of
# their own, the workers reaching the coordinator through scripts/bench/delay-proxy.py (the
# kernel here has no netem) with iptables dropping --loss % of the packets on that link.
# Needs root (ip netns, iptables) and python3.
#   scripts/bench/slow-link.sh [--delay MS] [--loss PCT] [--images N] [--steps N]
#                              [--unet-seconds S] [--workers N] [--depths "1 2"] [--bin PATH]
set -euo pipefail
cd "$(dirname "$0")/../.."
delay=200 loss=10 images=24 steps=8 unet=0.25 nworkers=2 depths="1 2" bin=.build/release/sdcluster
while [[ $# -gt 0 ]]; do
  case "$1" in
    --delay) delay="$2"; shift 2 ;;
    --loss) loss="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --unet-seconds) unet="$2"; shift 2 ;;
    --workers) nworkers="$2"; shift 2 ;;
    --depths) depths="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "no $bin: build it (swift build -c release --product sdcluster) or give --bin" >&2; exit 2; }
bin=$(realpath "$bin")
work=$(mktemp -d)
ns=sdc-slowlink-$$
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill -9 "$p" 2>/dev/null || true; done
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
run() { ip netns exec "$ns" "$@"; }

# One run: wall seconds of `submit --wait` for the batch.
one() {  # $1 = slow|clean, $2 = tasks in flight
  local mode=$1 depth=$2 dir="$work/$1-$2"
  mkdir -p "$dir"
  run iptables -F OUTPUT
  local target=17431
  if [[ $mode == slow ]]; then
    ip netns exec "$ns" python3 scripts/bench/delay-proxy.py 17441 127.0.0.1:17431 "$delay" & pids+=($!)
    target=17441
    local p; p=$(awk "BEGIN { print $loss / 100 }")
    run iptables -A OUTPUT -p tcp --dport 17441 -m statistic --mode random --probability "$p" -j DROP
    run iptables -A OUTPUT -p tcp --sport 17441 -m statistic --mode random --probability "$p" -j DROP
  fi
  # Background processes are started with `ip netns exec` itself (it execs the command), so
  # their pids are the processes' own and kill reaches them.
  ip netns exec "$ns" "$bin" coordinator --workers tcp://127.0.0.1:17431 --clients tcp://127.0.0.1:17430 --store "$dir/store" \
    --output "$dir/out" --tasks-in-flight "$depth" > "$dir/coordinator.out" 2> "$dir/coordinator.log" & pids+=($!)
  sleep 1
  for i in $(seq 1 "$nworkers"); do
    ip netns exec "$ns" "$bin" worker --coordinator "tcp://127.0.0.1:$target" --name "w$i" --engine simulated --unet-seconds "$unet" \
      --max-batch 2 > /dev/null 2> "$dir/w$i.log" & pids+=($!)
  done
  for _ in $(seq 1 60); do
    n=$(run "$bin" status --coordinator tcp://127.0.0.1:17430 2>/dev/null | sed -n 's/^workers: //p' || true)
    [[ "${n:-0}" -ge "$nworkers" ]] && break
    sleep 0.5
  done
  seq 0 $((images - 1)) | sed 's/.*/a red circle &/' > "$dir/prompts.txt"
  local start end
  start=$(date +%s.%N)
  run "$bin" submit "$dir/prompts.txt" --coordinator tcp://127.0.0.1:17430 --model simulated --steps "$steps" \
    --width 64 --height 64 --guidance-cutoff 0.5 --wait --out "$dir/got" > /dev/null 2> "$dir/submit.log"
  end=$(date +%s.%N)
  local drops; drops=$(grep -c "gone:" "$dir/coordinator.log" || true)
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
  pids=()
  sleep 0.5
  printf '%s %s %.2f %s\n' "$mode" "$depth" "$(echo "$end - $start" | bc)" "$drops"
}

echo "images $images x $steps steps (cut-off 0.5), $nworkers simulated workers, $unet s per UNet evaluation; slow link: ${delay} ms each way, ${loss}% loss each way" >&2
printf '%-6s %-16s %-10s %s\n' link tasks-in-flight wall-s worker-drops
declare -A wall
for depth in $depths; do
  for mode in clean slow; do
    read -r m d w drops < <(one "$mode" "$depth")
    wall[$mode-$depth]=$w
    printf '%-6s %-16s %-10s %s\n' "$m" "$d" "$w" "$drops"
  done
done
for depth in $depths; do
  echo "tasks in flight $depth: slow / clean = $(awk "BEGIN { printf \"%.2f\", ${wall[slow-$depth]} / ${wall[clean-$depth]} }")x"
done
