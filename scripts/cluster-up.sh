#!/usr/bin/env bash
# Starts workers on other machines over ssh, from a hosts file (see cluster/hosts.example):
#   scripts/cluster-up.sh cluster/hosts [--model PATH] [--bin PATH]
# On each host, sdcluster must be installed (default /usr/local/bin/sdcluster, or --bin) and the
# model must be at the same PATH (default: the shipped model next to the binary). Each worker
# runs under nohup with its log in ~/sdcluster-worker-N.log and its pid in ~/sdcluster-worker-N.pid
# on that host. COORDINATOR in the environment overrides the file's `coordinator` line.
# Stop them with scripts/cluster-down.sh cluster/hosts.
set -euo pipefail
hosts="${1:?usage: scripts/cluster-up.sh HOSTS-FILE [--model PATH] [--bin PATH]}"; shift
model="" bin=/usr/local/bin/sdcluster
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
coordinator="${COORDINATOR:-$(awk '$1 == "coordinator" { print $2 }' "$hosts")}"
[[ -n "$coordinator" ]] || { echo "no coordinator address: add 'coordinator tcp://HOST:7431' to $hosts or set COORDINATOR" >&2; exit 2; }
model_arg=""
[[ -n "$model" ]] && model_arg="--model $(printf %q "$model")"
grep -v '^\s*#' "$hosts" | awk 'NF && $1 != "coordinator"' | while read -r host count threads; do
  count="${count:-1}"
  for i in $(seq 1 "$count"); do
    thread_arg=""
    [[ -n "${threads:-}" ]] && thread_arg="--threads $threads"
    # Without an explicit thread count, each worker takes its share of that host's cores.
    remote="t=\${SDCLUSTER_THREADS:-\$(( \$(nproc) / $count ))}; [ \$t -lt 1 ] && t=1; \
nohup $(printf %q "$bin") worker --coordinator $(printf %q "$coordinator") --name \$(hostname)-$i \
${thread_arg:---threads \$t} $model_arg > ~/sdcluster-worker-$i.log 2>&1 < /dev/null & echo \$! > ~/sdcluster-worker-$i.pid"
    ssh -n -o BatchMode=yes "$host" "$remote" && echo "started worker $i on $host" >&2
  done
done
