#!/usr/bin/env bash
# Starts workers on other machines over ssh, from a hosts file (see cluster/hosts.example):
#   scripts/cluster-up.sh cluster/hosts [--model PATH] [--bin PATH]
# On each host, sdcluster must be installed (default /usr/local/bin/sdcluster, or --bin) and the
# model must be at the same PATH (default: the shipped model next to the binary). Each worker
# runs under nohup with its log in ~/sdcluster-worker-N.log and its pid in ~/sdcluster-worker-N.pid
# on that host. COORDINATOR in the environment overrides the file's `coordinator` line.
# Stop them with scripts/cluster-down.sh cluster/hosts.
#
# With --keys DIR (a coordinator run with --curve-secret DIR/coordinator.key
# --authorized-workers DIR/workers): each host makes its own key pair once
# (~/.sdcluster/worker.key, which never leaves it), its public key is copied into DIR/workers/HOST.pub,
# DIR/coordinator.pub is copied to the host, and the workers start with --key and
# --coordinator-key. Send the coordinator SIGHUP afterwards so it reads the new keys.
# SSH and SCP in the environment replace the ssh and scp commands (for tests).
set -euo pipefail
hosts="${1:?usage: scripts/cluster-up.sh HOSTS-FILE [--model PATH] [--bin PATH] [--keys DIR]}"; shift
model="" bin=/usr/local/bin/sdcluster keys=""
ssh_cmd="${SSH:-ssh}" scp_cmd="${SCP:-scp}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ -n "$keys" ]]; then
  [[ -f "$keys/coordinator.pub" ]] || { echo "$keys/coordinator.pub is missing: make it with sdcluster keygen $keys/coordinator" >&2; exit 2; }
  mkdir -p "$keys/workers"
fi
coordinator="${COORDINATOR:-$(awk '$1 == "coordinator" { print $2 }' "$hosts")}"
[[ -n "$coordinator" ]] || { echo "no coordinator address: add 'coordinator tcp://HOST:7431' to $hosts or set COORDINATOR" >&2; exit 2; }
model_arg=""
[[ -n "$model" ]] && model_arg="--model $(printf %q "$model")"
grep -v '^\s*#' "$hosts" | awk 'NF && $1 != "coordinator"' | while read -r host count threads; do
  count="${count:-1}"
  key_args=""
  if [[ -n "$keys" ]]; then
    # The host's own key pair, made there once; only its public half travels.
    $ssh_cmd -n -o BatchMode=yes "$host" "mkdir -p ~/.sdcluster && chmod 700 ~/.sdcluster && \
[ -f ~/.sdcluster/worker.key ] || $(printf %q "$bin") keygen ~/.sdcluster/worker >/dev/null"
    $scp_cmd -q -o BatchMode=yes "$host:.sdcluster/worker.pub" "$keys/workers/${host//[^A-Za-z0-9._-]/_}.pub"
    $scp_cmd -q -o BatchMode=yes "$keys/coordinator.pub" "$host:.sdcluster/coordinator.pub"
    key_args="--key ~/.sdcluster/worker.key --coordinator-key ~/.sdcluster/coordinator.pub"
  fi
  for i in $(seq 1 "$count"); do
    thread_arg=""
    [[ -n "${threads:-}" ]] && thread_arg="--threads $threads"
    # Without an explicit thread count, each worker takes its share of that host's cores.
    remote="t=\${SDCLUSTER_THREADS:-\$(( \$(nproc) / $count ))}; [ \$t -lt 1 ] && t=1; \
nohup $(printf %q "$bin") worker --coordinator $(printf %q "$coordinator") --name \$(hostname)-$i \
${thread_arg:---threads \$t} $model_arg $key_args > ~/sdcluster-worker-$i.log 2>&1 < /dev/null & echo \$! > ~/sdcluster-worker-$i.pid"
    $ssh_cmd -n -o BatchMode=yes "$host" "$remote" && echo "started worker $i on $host" >&2
  done
done
if [[ -n "$keys" ]]; then
  echo "worker keys are in $keys/workers/: send the coordinator SIGHUP (systemctl reload sdcluster-coordinator, or kill -HUP PID) so it admits them" >&2
fi
