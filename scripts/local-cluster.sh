#!/usr/bin/env bash
# A whole cluster on this machine: one coordinator and N workers, the cores split between the
# workers, every log in one folder.
#
#   scripts/local-cluster.sh N [options] [-- extra worker options]   run in the foreground; Ctrl-C stops all
#   scripts/local-cluster.sh N --detach [options]                    start in the background and return
#   scripts/local-cluster.sh stop [--dir DIR]                        stop a detached cluster
#
# Options: --dir DIR (logs, store, output, pids; default local-cluster/), --model DIR (default:
# the shipped model), --placement auto|split|pack, --port P (clients on P, workers on P+1;
# default 7430), --bind ADDRESS (interface to listen on; default 127.0.0.1, this machine only:
# the cluster has no authentication yet, so '*' exposes it to the network), --engine simulated --unet-seconds S (workers that only sleep), --bin PATH
# (default: .build/release/sdcluster, built if missing), --http HOST:PORT (the coordinator's HTTP
# front door, docs/http.md: A1111's API, /v1/batches, /metrics, a status page).
# Then: sdcluster submit prompts.txt --coordinator tcp://127.0.0.1:7430 --wait
set -euo pipefail
cd "$(dirname "$0")/.."

dir=local-cluster
if [[ "${1:-}" == "stop" ]]; then
  shift
  [[ "${1:-}" == "--dir" ]] && dir="$2"
  [[ -f "$dir/pids" ]] || { echo "no running cluster recorded in $dir/pids" >&2; exit 1; }
  # Workers first (SIGTERM: they finish their task and say DISCONNECT), then the coordinator.
  tac "$dir/pids" | while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    alive=0
    while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$dir/pids"
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  rm -f "$dir/pids"
  echo "stopped the cluster in $dir" >&2
  exit 0
fi

count="${1:?usage: scripts/local-cluster.sh N [options] | stop}"
shift
[[ "$count" =~ ^[0-9]+$ && "$count" -ge 1 ]] || { echo "N must be a number of workers >= 1, not '$count'" >&2; exit 2; }
http="" model="" placement=auto port=7430 bind=127.0.0.1 engine=pipeline unet_seconds=0 detach=0 bin=.build/release/sdcluster
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --placement) placement="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --bind) bind="$2"; shift 2 ;;
    --engine) engine="$2"; shift 2 ;;
    --unet-seconds) unet_seconds="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --http) http="$2"; shift 2 ;;
    --detach) detach=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$bin" ]]; then swift build -c release --product sdcluster; fi
mkdir -p "$dir/logs"
[[ -f "$dir/pids" ]] && { echo "$dir/pids exists: a cluster may be running; run '$0 stop --dir $dir' first" >&2; exit 1; }

cores=$(nproc)
threads=$(( cores / count )); (( threads < 1 )) && threads=1
clients="tcp://127.0.0.1:$port"
workers="tcp://127.0.0.1:$((port + 1))"

"$bin" coordinator --clients "tcp://$bind:$port" --workers "tcp://$bind:$((port + 1))" --store "$dir/store" \
  --output "$dir/output" --placement "$placement" ${http:+--http "$http"} > "$dir/logs/coordinator.out" 2> "$dir/logs/coordinator.log" &
echo $! > "$dir/pids"
model_args=()
[[ -n "$model" ]] && model_args=(--model "$model")
for i in $(seq 1 "$count"); do
  "$bin" worker --coordinator "$workers" --name "local-$i" --threads "$threads" --engine "$engine" \
    --unet-seconds "$unet_seconds" "${model_args[@]}" "${extra[@]}" > "$dir/logs/worker-$i.out" 2> "$dir/logs/worker-$i.log" &
  echo $! >> "$dir/pids"
done
echo "coordinator: clients $clients, workers $workers; $count worker(s) x $threads thread(s); logs in $dir/logs" >&2
echo "submit with: $bin submit PROMPTS --coordinator $clients --wait" >&2
[[ -n "$http" ]] && echo "HTTP: http://$http/ (status page), /sdapi/v1/txt2img, /v1/batches, /metrics" >&2
[[ $detach == 1 ]] && exit 0

trap '"$0" stop --dir "$dir"; exit 0' INT TERM
echo "Ctrl-C stops the cluster" >&2
wait
