#!/usr/bin/env bash
# Stops the workers scripts/cluster-up.sh started, over ssh, from the same hosts file:
#   scripts/cluster-down.sh cluster/hosts
# SIGTERM makes each worker finish its running task and say DISCONNECT; the coordinator hands
# everything else to the workers that remain.
set -euo pipefail
hosts="${1:?usage: scripts/cluster-down.sh HOSTS-FILE}"
grep -v '^\s*#' "$hosts" | awk 'NF && $1 != "coordinator"' | while read -r host count _; do
  ssh -n -o BatchMode=yes "$host" 'for f in ~/sdcluster-worker-*.pid; do [ -f "$f" ] || continue; kill -TERM "$(cat "$f")" 2>/dev/null; rm -f "$f"; done' \
    && echo "stopped workers on $host" >&2
done
