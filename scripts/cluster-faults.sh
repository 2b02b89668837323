#!/usr/bin/env bash
# Fault tests across hosts: a coordinator, two workers and a client, each in its own network
# namespace (its own address, joined by veth pairs to a bridge in a hub namespace), run one batch
# on the shipped shapes model while the network and the processes fail:
#   - every link loses packets (iptables `statistic` match: each namespace drops that share of
#     what it sends) and is slowed (tc netem delay where the kernel has netem, else a tbf rate
#     cap, which delays only by queueing) for the whole run;
#   - worker1 is cut off from the coordinator (iptables DROP both ways) and healed;
#   - worker2 is SIGKILLed, then started again;
#   - the coordinator is SIGKILLed mid-batch and started again on the same store, while the
#     client's `submit --wait` keeps waiting;
#   - then, on a small tmpfs of its own: the disk under a coordinator's store and output fills
#     up mid-batch (every finished image must be held, STATUS must say so, nothing may fail or
#     be lost) and is freed again; a read-only output folder is refused at start, and a
#     read-only `submit --out` before anything is submitted;
#   - (long run) scripts/bench/slow-link.sh: a batch's wall time at 200 ms each way and 10% loss
#     against a clean link (the target is 1.3x), printed, not judged as pass or fail.
# Then every image must have arrived exactly once (files and manifest lines, in the client's
# folder and the coordinator's) with the pixels of `sdcluster generate` of the same requests run
# outside the namespaces (`sdcluster compare-images`: decoded pixels, not the text chunks).
# Prints a summary (images, faults and when, lost, duplicates, differing, recovery times) and
# exits 1 when an image is lost, duplicated, differs, or the batch hangs.
#
#   scripts/cluster-faults.sh            the long run: 48 images, 20% loss, a 30 s partition
#   scripts/cluster-faults.sh --short    the short run of scripts/test.sh (about 1-2 minutes)
#   scripts/cluster-faults.sh --can-run  exit 0 when this machine can run it, else say why (exit 1)
#   scripts/cluster-faults.sh --help     the options
#
# Needs root, `ip netns`, veth and bridge links, iptables with the statistic match, tc, and
# tmpfs mounts (scripts/install-deps.sh installs iptables). Where the kernel has no netem, the
# delay comes from scripts/bench/delay-proxy.py (python3) on every link to the coordinator. Everything it makes (namespaces, links, rules,
# processes) is removed on exit, also on failure or Ctrl-C; the rules live inside its own
# namespaces, the machine's own tables are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
  cat <<'EOF'
usage: scripts/cluster-faults.sh [--short] [options]
  --short            the short run (scripts/test.sh): 32+ images of 10 steps, 10% loss,
                     a 15 s partition (longer than the 10 s liveness), restarts after 1 s
  --images N         images in the batch (default: long at least 48, short at least 32, more
                     on a fast machine: a timed `generate` of 8 images sizes the batch so that
                     about 60 s (short) or 120 s (long) of work is left for the faults)
  --steps N          denoising steps per image (long: 20, short: 10)
  --loss PCT         packet loss on every link, each direction, in percent (long: 20, short: 10)
  --delay MS         one-way delay per link (long: 40, short: 20): tc netem where the kernel
                     has it, else scripts/bench/delay-proxy.py on every link to the coordinator
  --rate RATE        tc rate cap per link when the kernel has no netem (tbf; long: 2mbit,
                     short: 4mbit)
  --partition S      seconds worker1 is cut off (long: 30, short: 15)
  --max-batch N      each worker's --max-batch (default 2: the coordinator samples at most
                     2 x the sum, 8 images, at once, so images finish one after another)
  --restart-after S  seconds a killed worker or coordinator stays down (long: 5, short: 1)
  --timeout S        give up on the batch this long after the last fault (long: 600, short: 120)
  --bin PATH         the sdcluster binary (default .build/debug/sdcluster, built if missing)
  --keep             keep the work folder (logs, stores, images) also when everything passed
  --can-run          only check that this machine can run the test (root, namespaces, iptables)
  -h, --help         this text
EOF
}

short=0 keep=0 can_run=0
images="" steps="" loss="" delay="" rate="" partition="" restart_after="" timeout="" max_batch=2
bin=.build/debug/sdcluster
while [[ $# -gt 0 ]]; do
  case "$1" in
    --short) short=1; shift ;;
    --images) images="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --loss) loss="$2"; shift 2 ;;
    --delay) delay="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --partition) partition="$2"; shift 2 ;;
    --restart-after) restart_after="$2"; shift 2 ;;
    --max-batch) max_batch="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --can-run) can_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
images_given=${images:+1}
if [[ $short == 1 ]]; then
  min_images=32 work_seconds=60
  : "${images:=32}" "${steps:=10}" "${loss:=10}" "${delay:=20}" "${rate:=4mbit}" "${partition:=15}" "${restart_after:=1}" "${timeout:=120}"
  mode=short
else
  min_images=48 work_seconds=120
  : "${images:=48}" "${steps:=20}" "${loss:=20}" "${delay:=40}" "${rate:=2mbit}" "${partition:=30}" "${restart_after:=5}" "${timeout:=600}"
  mode=long
fi
for v in images steps partition timeout max_batch; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -ge 1 ]] || { echo "--${v} must be a whole number >= 1, not '${!v}'" >&2; exit 2; }
done
[[ "$images" -ge 8 ]] || { echo "--images must be at least 8: the faults need images left to interrupt" >&2; exit 2; }
[[ "$loss" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v l="$loss" 'BEGIN { exit !(l < 100) }' || { echo "--loss must be a percentage below 100, not '$loss'" >&2; exit 2; }
[[ "$delay" =~ ^[0-9]+$ ]] || { echo "--delay must be whole milliseconds, not '$delay'" >&2; exit 2; }
[[ "$restart_after" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "--restart-after must be seconds, not '$restart_after'" >&2; exit 2; }

# ---- can this machine run it?
tag="sdf$$"                      # every namespace's name starts with this: runs do not collide
hub="$tag-hub"
declare -A ns=([coordinator]="$tag-coord" [worker1]="$tag-w1" [worker2]="$tag-w2" [client]="$tag-client")
declare -A addr=([coordinator]=10.77.0.1 [worker1]=10.77.0.11 [worker2]=10.77.0.12 [client]=10.77.0.21)
roles=(coordinator worker1 worker2 client)

why_not() {
  [[ $(id -u) == 0 ]] || { echo "not root"; return; }
  for tool in ip iptables tc; do command -v "$tool" >/dev/null || { echo "no $tool (scripts/install-deps.sh installs iptables)"; return; }; done
  local probe="$tag-probe"
  ip netns add "$probe" 2>/dev/null || { echo "'ip netns add' failed (no network namespaces here)"; return; }
  local problem=""
  if ! ip -n "$probe" link add p0 type veth peer name p1 2>/dev/null; then problem="no veth links"
  elif ! ip -n "$probe" link add b0 type bridge 2>/dev/null; then problem="no bridge links"
  elif ! ip netns exec "$probe" iptables -w -A OUTPUT -m statistic --mode random --probability 0.5 -j DROP 2>/dev/null; then
    problem="iptables in a namespace, or its statistic match, does not work"
  else
    local dir; dir=$(mktemp -d)
    if mount -t tmpfs -o size=64k tmpfs "$dir" 2>/dev/null; then umount "$dir"; else problem="cannot mount a tmpfs (the full-disk test needs one)"; fi
    rmdir "$dir"
  fi
  ip netns del "$probe" 2>/dev/null || true
  echo "$problem"
}
problem=$(why_not)
if [[ $can_run == 1 ]]; then
  [[ -z "$problem" ]] && { echo "this machine can run the fault test"; exit 0; }
  echo "$problem"; exit 1
fi
[[ -z "$problem" ]] || { echo "cannot run the fault test here: $problem" >&2; exit 1; }

# ---- clean-up: processes by their pids, then the namespaces (their links and rules go with them)
work=$(mktemp -d /tmp/sdcluster-faults.XXXXXX)
pids=()
mounts=()
passed=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for role in "${roles[@]}" hub; do
    local name=${ns[$role]:-$hub}
    if ip netns pids "$name" >/dev/null 2>&1; then
      for pid in $(ip netns pids "$name"); do kill -KILL "$pid" 2>/dev/null || true; done
    fi
  done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for role in "${roles[@]}"; do ip netns del "${ns[$role]}" 2>/dev/null || true; done
  ip netns del "$hub" 2>/dev/null || true
  for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done
  if [[ $passed == 1 && $keep == 0 ]]; then rm -rf "$work"; else echo "work folder (logs, stores, images): $work" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

if [[ ! -x "$bin" ]]; then swift build --product sdcluster; fi
bin=$(realpath "$bin")
model="$root/models/shapes"

say() { printf '%7.1f s  %s\n' "$(elapsed)" "$*" >&2; }
started_at=$EPOCHREALTIME
elapsed() { awk -v a="$started_at" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the requests, and the reference images from `generate`, outside the namespaces
prompts=("a red circle on a blue background" "a large white cross on a green background"
         "a small yellow striped star at the top on a black background" "a blue square at the bottom on a white background"
         "a large green triangle on a red background" "a small white circle on the left on a black background")
write_prompts() {
  for i in $(seq 0 $(($1 - 1))); do
    printf '{"prompt": "%s", "seed": %d, "steps": %d}\n' "${prompts[i % ${#prompts[@]}]}" $((1000 + i)) "$steps"
  done > "$2"
}
# A fast machine finishes a fixed batch before the faults are through (a false failure): unless
# --images was given, time `generate` of 8 images and size the batch to about work_seconds of
# work (the two 1-thread workers make images at about generate's 2-thread rate).
if [[ -z "$images_given" ]]; then
  write_prompts 8 "$work/calibration.jsonl"
  calibration_started=$EPOCHREALTIME
  "$bin" generate --prompts "$work/calibration.jsonl" --model "$model" -o "$work/calibration" > /dev/null 2> "$work/calibration.log" \
    || { tail -5 "$work/calibration.log" >&2; echo "generate failed" >&2; exit 1; }
  images=$(awk -v a="$calibration_started" -v b="$EPOCHREALTIME" -v w="$work_seconds" -v m="$min_images" \
    'BEGIN { per = (b - a) / 8; n = int(w / per + 0.999); if (n < m) n = m; if (n > 400) n = 400; print n }')
  say "calibration: generate of 8 images took $(since "$calibration_started") s, so $images images"
fi
write_prompts "$images" "$work/prompts.jsonl"
say "mode $mode: $images images of $steps steps; work folder $work"
say "reference: sdcluster generate of the same requests (outside the namespaces)"
"$bin" generate --prompts "$work/prompts.jsonl" --model "$model" -o "$work/reference" > "$work/generate.out" 2> "$work/generate.log" \
  || { tail -5 "$work/generate.log" >&2; echo "generate failed" >&2; exit 1; }

# ---- the network: a bridge in the hub namespace, one veth pair per host
ip netns add "$hub"
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 up
for role in "${roles[@]}"; do
  n=${ns[$role]}
  ip netns add "$n"
  ip -n "$hub" link add "to-$role" type veth peer name eth0 netns "$n"
  ip -n "$hub" link set "to-$role" master br0 up
  ip -n "$n" addr add "${addr[$role]}/24" dev eth0
  ip -n "$n" link set eth0 up
  ip -n "$n" link set lo up
done
probability=$(awk -v l="$loss" 'BEGIN { printf "%.4f", l / 100 }')
shaping=""
for role in "${roles[@]}"; do
  n=${ns[$role]}
  if [[ "$probability" != 0.0000 ]]; then
    ip netns exec "$n" iptables -w -A OUTPUT -o eth0 -m statistic --mode random --probability "$probability" -j DROP
  fi
  if [[ "$delay" -gt 0 ]] && tc -n "$n" qdisc add dev eth0 root netem delay "${delay}ms" 2>/dev/null; then
    shaping="netem delay ${delay} ms each way"
  elif tc -n "$n" qdisc add dev eth0 root tbf rate "$rate" burst 32kbit latency 2s; then
    shaping="no netem in this kernel: tbf rate cap $rate per link (delay by queueing only), instead of a ${delay} ms delay"
  else
    shaping="no delay: this kernel has neither the netem nor the tbf qdisc"
  fi
done
# Without netem, real latency from a delaying TCP proxy in the coordinator's namespace: every
# worker and client connects through it (its own connections to the coordinator stay local).
clients_endpoint="tcp://${addr[coordinator]}:7430"
workers_endpoint="tcp://${addr[coordinator]}:7431"
clients_connect=$clients_endpoint
workers_connect=$workers_endpoint
if [[ "$shaping" != netem* && "$delay" -gt 0 ]]; then
  if command -v python3 >/dev/null; then
    for port in 7430 7431; do
      ip netns exec "${ns[coordinator]}" python3 "$root/scripts/bench/delay-proxy.py" $((port + 10)) "${addr[coordinator]}:$port" "$delay" "${addr[coordinator]}" \
        > /dev/null 2>> "$work/delay-proxy.log" &
      pids+=("$!")
      disown "$!"
    done
    clients_connect="tcp://${addr[coordinator]}:7440"
    workers_connect="tcp://${addr[coordinator]}:7441"
    shaping="$shaping; and ${delay} ms each way on every link to the coordinator (scripts/bench/delay-proxy.py)"
  else
    shaping="$shaping; no python3 for scripts/bench/delay-proxy.py, so no added delay"
  fi
fi
say "network: 4 namespaces on a bridge; loss ${loss}% per link and direction (iptables statistic); $shaping"

# ---- helpers
# Polls CONDITION (a command) every 0.2 s for up to SECONDS; returns 1 on timeout.
wait_until() {
  local seconds=$1; shift
  local until
  until=$(awk -v t="$EPOCHREALTIME" -v s="$seconds" 'BEGIN { printf "%.3f", t + s }')
  while ! "$@"; do
    awk -v t="$EPOCHREALTIME" -v u="$until" 'BEGIN { exit !(t > u) }' && return 1
    sleep 0.2
  done
}
log_lines() { wc -l < "$work/coordinator.log"; }
# The coordinator logged PATTERN (grep -E) after line FROM of its log.
logged_after() { tail -n +"$(($1 + 1))" "$work/coordinator.log" | grep -qE "$2"; }
delivered() { if [[ -f "$work/client/manifest.jsonl" ]]; then wc -l < "$work/client/manifest.jsonl"; else echo 0; fi; }
delivered_more_than() { [[ $(delivered) -gt $1 ]]; }
client_running() { [[ ! -f "$work/client.rc" ]]; }
client_ended() { [[ -f "$work/client.rc" ]]; }
# Gone, or a zombie (its sockets and store lock are released either way).
dead() { [[ ! -e /proc/$1 ]] || grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat" 2>/dev/null; }
# PID is sdcluster itself (`ip netns exec` execs it), not a shell around it: a SIGKILL must hit it.
is_sdcluster() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$bin" ]]; }
faults=()
recoveries=()
failure=""
fault() { faults+=("$(printf '%6.1f s  %s' "$(elapsed)" "$*")"); say "FAULT: $*"; }
recovered() { recoveries+=("$(printf '%-62s %6s s' "$1" "$2")"); say "recovered: $1 after $2 s"; }
fail() { say "FAILED: $*"; [[ -n "$failure" ]] || failure="$*"; }
# Seconds from EVENT ($EPOCHREALTIME then) to the first line of LOG after line FROM matching
# PATTERN, read from the line's own time stamp (UTC HH:MM:SS.mmm), so that waiting for one
# thing does not delay the measurement of another. logged_since: the same in the coordinator's log.
logged_since_in() {
  local stamp
  stamp=$(tail -n +"$(($3 + 1))" "$1" | grep -m1 -E "$4" | cut -d' ' -f1)
  awk -v e="$2" -v s="$stamp" 'BEGIN {
    split(s, f, ":"); d = f[1] * 3600 + f[2] * 60 + f[3] - (e % 86400)
    if (d < -43200) d += 86400
    printf "%.1f", d }'
}
logged_since() { logged_since_in "$work/coordinator.log" "$@"; }
# Waits up to SECONDS for PATTERN in the coordinator's log after line FROM; records the time
# from EVENT to it as LABEL's recovery. Returns 1 when it did not come.
recovery_logged() {
  local seconds=$1 label=$2 event=$3 from=$4 pattern=$5
  wait_until "$seconds" logged_after "$from" "$pattern" || return 1
  recovered "$label" "$(logged_since "$event" "$from" "$pattern")"
}
sigkill() {
  kill -KILL "$1"
  wait_until 10 dead "$1" || { echo "process $1 survived SIGKILL" >&2; exit 1; }
}

# ---- the cluster: each process started by `ip netns exec` directly, so that $! is its pid
coordinator_pid=""
# Starts the coordinator and waits until it listens; fails when it does not (e.g. store locked).
start_coordinator() {
  local from
  from=$(log_lines 2>/dev/null || echo 0)
  ip netns exec "${ns[coordinator]}" "$bin" coordinator --clients "$clients_endpoint" --workers "$workers_endpoint" \
    --store "$work/store" --output "$work/coordinator-output" --log-level debug >> "$work/coordinator.out" 2>> "$work/coordinator.log" &
  coordinator_pid=$!
  pids+=("$coordinator_pid")
  disown "$coordinator_pid"     # no "Killed" line from bash when the test kills it
  if ! wait_until 30 logged_after "$from" "info coordinator: listening"; then
    tail -5 "$work/coordinator.log" >&2
    echo "the coordinator did not start (its log is above)" >&2
    exit 1
  fi
  is_sdcluster "$coordinator_pid" || { echo "pid $coordinator_pid is not the coordinator" >&2; exit 1; }
}
declare -A worker_pid
start_worker() {
  ip netns exec "${ns[$1]}" "$bin" worker --coordinator "$workers_connect" --name "$1" --threads 1 --model "$model" \
    --max-batch "$max_batch" >> "$work/$1.log" 2>&1 &
  worker_pid[$1]=$!
  pids+=("$!")
  disown "$!"
}
touch "$work/coordinator.log"
start_coordinator
start_worker worker1
start_worker worker2
both_ready() { [[ $(grep -cE "worker worker[12] ready" "$work/coordinator.log") -ge 2 ]]; }
wait_until 60 both_ready || { tail -5 "$work/coordinator.log" "$work"/worker*.log >&2; echo "the workers did not connect" >&2; exit 1; }
for w in worker1 worker2; do is_sdcluster "${worker_pid[$w]}" || { echo "pid ${worker_pid[$w]} is not $w" >&2; exit 1; }; done
say "coordinator and 2 workers connected (workers --threads 1 --max-batch $max_batch)"

client_started=$EPOCHREALTIME
# Its exit status goes to client.rc.
(
  rc=0
  ip netns exec "${ns[client]}" "$bin" submit "$work/prompts.jsonl" --coordinator "$clients_connect" --wait --out "$work/client" \
    --give-up-after 300 > "$work/client.out" 2> "$work/client.log" || rc=$?
  echo "$rc" > "$work/client.rc"
) &
pids+=("$!")
disown "$!"
say "client submitted the batch from its own namespace"

# A fault needs images left to interrupt: a finding (not a pass) when the batch ended first.
need_work() {
  if ! client_running || [[ $(delivered) -ge $((images - 1)) ]]; then
    fail "the batch was (nearly) done before '$1'; give it more work (--images, --steps)"
    return 1
  fi
}

# ---- the faults, one after another, each once the cluster has recovered from the last
run_faults() {
  local from count

  # 1. worker1 cut off from the coordinator (both directions), then healed.
  wait_until 120 delivered_more_than 0 || { fail "no image arrived within 120 s of the submit"; return; }
  need_work "the partition" || return
  from=$(log_lines)
  ip netns exec "${ns[coordinator]}" iptables -w -I INPUT 1 -s "${addr[worker1]}" -j DROP
  ip netns exec "${ns[coordinator]}" iptables -w -I OUTPUT 1 -d "${addr[worker1]}" -j DROP
  local cut=$EPOCHREALTIME
  fault "worker1 partitioned from the coordinator for ${partition} s ($(delivered) of $images images delivered)"
  recovery_logged "$partition" "partition: coordinator gave up on worker1, its tasks re-sent" "$cut" "$from" "worker worker1 gone" || true
  sleep "$(awk -v p="$partition" -v c="$cut" -v t="$EPOCHREALTIME" 'BEGIN { r = p - (t - c); printf "%.2f", (r > 0 ? r : 0) }')"
  need_work "the heal" || return
  from=$(log_lines)
  ip netns exec "${ns[coordinator]}" iptables -w -D INPUT -s "${addr[worker1]}" -j DROP
  ip netns exec "${ns[coordinator]}" iptables -w -D OUTPUT -d "${addr[worker1]}" -j DROP
  local healed=$EPOCHREALTIME
  fault "partition healed ($(delivered) of $images delivered)"
  recovery_logged 60 "partition: worker1 READY again (after the heal)" "$healed" "$from" "worker worker1 ready" \
    || { fail "worker1 did not reconnect within 60 s of the heal"; return; }
  if ! recovery_logged 60 "partition: worker1 given work again (after the heal)" "$healed" "$from" "sent task [^ ]+ to worker1:"; then
    need_work "worker1's first task after the heal" || return
    fail "worker1 got no task within 60 s of the heal"; return
  fi

  # 2. worker2 SIGKILLed just after a task was sent to it, then started again.
  from=$(log_lines)
  wait_until 30 logged_after "$from" "sent task [^ ]+ to worker2:" || true
  need_work "the worker SIGKILL" || return
  from=$(log_lines)
  sigkill "${worker_pid[worker2]}"
  local killed=$EPOCHREALTIME
  count=$(delivered)
  fault "worker2 SIGKILLed ($count of $images delivered)"
  if wait_until 60 delivered_more_than "$count"; then recovered "worker kill: next image delivered (after the kill)" "$(since "$killed")"
  else need_work "the image after the worker kill" || return; fail "no image delivered within 60 s of the worker kill"; return; fi
  recovery_logged 30 "worker kill: coordinator gave up on worker2, its tasks re-sent" "$killed" "$from" "worker worker2 gone" \
    || fail "the coordinator did not notice worker2's death within 30 s"
  sleep "$(awk -v p="$restart_after" -v c="$killed" -v t="$EPOCHREALTIME" 'BEGIN { r = p - (t - c); printf "%.2f", (r > 0 ? r : 0) }')"
  need_work "the worker restart" || return
  from=$(log_lines)
  local restarted=$EPOCHREALTIME
  start_worker worker2
  fault "worker2 started again ($(since "$killed") s after the kill)"
  if ! recovery_logged 60 "worker kill: the new worker2 given work (after its start)" "$restarted" "$from" "sent task [^ ]+ to worker2:"; then
    need_work "the new worker2's first task" || return
    fail "the restarted worker2 got no task within 60 s"; return
  fi

  # 3. The coordinator SIGKILLed mid-batch (once two more images came with both workers back,
  # halfway to the next: images are mid-sampling) and started again on the same store.
  count=$(delivered)
  wait_until 60 delivered_more_than $((count + 1)) || true
  local last=$EPOCHREALTIME
  count=$(delivered)
  wait_until 30 delivered_more_than "$count" || true
  sleep "$(awk -v l="$last" -v t="$EPOCHREALTIME" 'BEGIN { printf "%.2f", (t - l) / 2 }')"
  need_work "the coordinator SIGKILL" || return
  sigkill "$coordinator_pid"
  local down=$EPOCHREALTIME
  count=$(delivered)
  fault "coordinator SIGKILLed ($count of $images delivered)"
  sleep "$restart_after"
  from=$(log_lines)
  local up=$EPOCHREALTIME
  start_coordinator
  local resumed
  resumed=$(tail -n +"$((from + 1))" "$work/coordinator.log" | grep -oE "resuming [0-9]+ unfinished image\(s\), [0-9]+ from a checkpoint" || echo "resuming nothing")
  fault "coordinator started again on the same store after $(awk -v a="$down" -v b="$up" 'BEGIN { printf "%.1f", b - a }') s: $resumed"
  if wait_until 60 delivered_more_than "$count"; then recovered "coordinator restart: next image reached the client (after its start)" "$(since "$up")"
  else need_work "the image after the coordinator restart" || return; fail "no image reached the client within 60 s of the coordinator restart"; return; fi
  recovery_logged 60 "coordinator restart: its first image finished (after its start)" "$up" "$from" "image [^ ]+ done:" || true
  # Each worker must be given work again, as far as there is work: with one unfinished image
  # left, one worker may well get all of it.
  local unfinished given=0
  unfinished=$(echo "$resumed" | grep -oE '^resuming [0-9]+' | grep -oE '[0-9]+' || echo 0)
  for w in worker1 worker2; do
    recovery_logged 30 "coordinator restart: $w given work (after its start)" "$up" "$from" "sent task [^ ]+ to $w:" \
      && given=$((given + 1))
  done
  local wanted=$(( unfinished < 2 ? unfinished : 2 ))
  [[ $given -ge $wanted ]] || fail "$given of the 2 workers got a task within 30 s of the coordinator restart ($unfinished unfinished image(s) resumed)"
}

run_faults

# ---- the end of the batch
client_status=""
last_fault=$EPOCHREALTIME
if [[ -z "$failure" ]] || client_running; then
  if wait_until "$timeout" client_ended; then
    client_status=$(cat "$work/client.rc")
  else
    fail "the batch did not end within $timeout s of the last fault (a hang: $(delivered) of $images delivered)"
    ip netns exec "${ns[client]}" "$bin" status --coordinator "$clients_connect" >&2 || true
  fi
fi
batch_done=$EPOCHREALTIME
[[ -n "$client_status" && "$client_status" != 0 ]] && fail "submit --wait exited with status $client_status: $(tail -3 "$work/client.log" | tr '\n' ' ')"
say "batch ended $(since "$client_started") s after the submit ($(awk -v a="$last_fault" -v b="$batch_done" 'BEGIN { printf "%.1f", b - a }') s after the last fault)"

# ---- checks: every image once, in the client's folder and the coordinator's; pixels as generate's
batch=$(head -1 "$work/client.out" 2>/dev/null || true)
# Manifest LINE COUNT, distinct indexes, lost (0..N-1 not there), duplicated lines, files missing.
check_folder() {
  local folder=$1 manifest=$1/manifest.jsonl
  local lines=0 unique=0 lost=0 missing_files=0 pngs=0
  if [[ -f "$manifest" ]]; then
    lines=$(wc -l < "$manifest")
    unique=$(grep -o '"index":[0-9]*' "$manifest" | sort -u | wc -l)
    for i in $(seq 0 $((images - 1))); do grep -q "\"index\":$i," "$manifest" || lost=$((lost + 1)); done
    while read -r file; do [[ -f "$folder/$file" ]] || missing_files=$((missing_files + 1)); done \
      < <(grep -o '"file":"[^"]*"' "$manifest" | cut -d'"' -f4)
  else
    lost=$images
  fi
  pngs=$(find "$folder" -maxdepth 1 -name '*.png' 2>/dev/null | wc -l)
  echo "$lines $unique $lost $((lines - unique)) $missing_files $pngs"
}
read -r c_lines c_unique c_lost c_dups c_missing c_pngs < <(check_folder "$work/client")
read -r s_lines s_unique s_lost s_dups s_missing s_pngs < <(check_folder "$work/coordinator-output/$batch")
differing=0
compare_line=""
for side in client "coordinator-output/$batch"; do
  if [[ -d "$work/$side" ]]; then
    "$bin" compare-images --quiet "$work/$side" "$work/reference" > "$work/compare-${side//\//-}.txt" 2>&1 || true
    d=$(grep -cE ': (differs|unreadable)' "$work/compare-${side//\//-}.txt" || true)
    [[ "$side" == client ]] && { differing=$d; compare_line=$(tail -1 "$work/compare-client.txt"); }
    [[ "$d" -gt 0 ]] && fail "$d image(s) in $side differ from generate's (see $work/compare-${side//\//-}.txt)"
  fi
done
[[ $c_lost -gt 0 ]] && fail "$c_lost image(s) never reached the client"
[[ $c_dups -gt 0 ]] && fail "$c_dups duplicate manifest line(s) in the client's folder"
[[ $c_missing -gt 0 || $c_pngs -ne $images ]] && fail "the client's folder has $c_pngs PNGs for $images images ($c_missing listed but missing)"
[[ $s_lost -gt 0 || $s_dups -gt 0 || $s_missing -gt 0 || $s_pngs -ne $images ]] \
  && fail "the coordinator's folder: $s_lost lost, $s_dups duplicate line(s), $s_missing listed but missing, $s_pngs PNGs"
# Informational: images the coordinator finished more than once (allowed: a crash between the PNG
# and its durable record redoes the image, with the same bytes).
redone=$(grep -oE "image [^ ]+/[0-9]+ done" "$work/coordinator.log" | sort | uniq -d | wc -l)
gone=$(grep -c "worker worker[12] gone" "$work/coordinator.log" || true)
deadlines=$(grep -c "passed its deadline" "$work/coordinator.log" || true)
# ---- the disk: a coordinator whose store and output sit on a small tmpfs that fills up mid-batch
# (everything on the coordinator namespace's loopback: this is about the disk, not the network)
disk_images=8
disk_summary=()
disk_note() { disk_summary+=("$*"); say "disk: $*"; }
disk_faults() {
  local disk="$work/small-disk" ro="$work/read-only" from rc
  mkdir -p "$disk" "$ro"
  mount -t tmpfs -o size=32m tmpfs "$disk" && mounts+=("$disk")
  mount -t tmpfs -o size=64k,ro tmpfs "$ro" && mounts+=("$ro")
  local run=(ip netns exec "${ns[coordinator]}" "$bin")
  local c_end=tcp://127.0.0.1:7460 w_end=tcp://127.0.0.1:7461

  # A read-only output folder is refused at start, naming the folder.
  rc=0
  "${run[@]}" coordinator --clients "$c_end" --workers "$w_end" --store "$work/ro-store" --output "$ro/out" \
    > /dev/null 2> "$work/ro-coordinator.log" & local ro_pid=$!
  pids+=("$ro_pid")
  if wait_until 15 dead "$ro_pid"; then
    wait "$ro_pid" 2>/dev/null || rc=$?
    if [[ $rc != 0 ]] && grep -q "$ro" "$work/ro-coordinator.log"; then
      disk_note "read-only --output refused at start (exit $rc): $(grep -m1 "$ro" "$work/ro-coordinator.log" | cut -c1-160)"
    else fail "a read-only --output: exit $rc, and the message does not name the folder: $(tail -2 "$work/ro-coordinator.log")"; fi
  else
    kill -KILL "$ro_pid" 2>/dev/null || true
    fail "a coordinator with a read-only --output did not refuse to start"
  fi

  # The coordinator on the small disk, one worker, and a client waiting for 8 images.
  "${run[@]}" coordinator --clients "$c_end" --workers "$w_end" --store "$disk/store" --output "$disk/out" --log-level debug \
    > /dev/null 2> "$work/disk-coordinator.log" & pids+=("$!"); disown "$!"
  wait_until 30 grep -q "info coordinator: listening" "$work/disk-coordinator.log" || { fail "the small-disk coordinator did not start: $(tail -2 "$work/disk-coordinator.log")"; return; }
  "${run[@]}" worker --coordinator "$w_end" --name disk-worker --model "$model" --max-batch 2 >> "$work/disk-worker.log" 2>&1 & pids+=("$!"); disown "$!"
  wait_until 60 grep -q "worker disk-worker ready" "$work/disk-coordinator.log" || { fail "the small-disk worker did not connect: $(tail -2 "$work/disk-worker.log")"; return; }

  # A read-only client folder is refused before anything is submitted.
  rc=0
  "${run[@]}" submit "$work/prompts.jsonl" --coordinator "$c_end" --wait --out "$ro/images" > "$work/ro-submit.out" 2> "$work/ro-submit.log" || rc=$?
  if [[ $rc != 0 && ! -s "$work/ro-submit.out" ]] && grep -q "$ro" "$work/ro-submit.log"; then
    disk_note "read-only submit --out refused before submitting (exit $rc): $(grep -m1 "$ro" "$work/ro-submit.log" | cut -c1-160)"
  else fail "a read-only submit --out: exit $rc, output '$(cat "$work/ro-submit.out")', message: $(tail -2 "$work/ro-submit.log")"; fi

  head -n "$disk_images" "$work/prompts.jsonl" > "$work/disk-prompts.jsonl"
  ( rc=0
    "${run[@]}" submit "$work/disk-prompts.jsonl" --coordinator "$c_end" --wait --out "$work/disk-client" --give-up-after 300 \
      > "$work/disk-client.out" 2> "$work/disk-client.log" || rc=$?
    echo "$rc" > "$work/disk-client.rc" ) & pids+=("$!"); disown "$!"
  disk_delivered() { if [[ -f "$work/disk-client/manifest.jsonl" ]]; then wc -l < "$work/disk-client/manifest.jsonl"; else echo 0; fi; }
  disk_more_than() { [[ $(disk_delivered) -gt $1 ]]; }
  wait_until 120 disk_more_than 1 || { fail "disk: no image within 120 s"; return; }

  # Fill the disk to the last byte.
  from=$(wc -l < "$work/disk-coordinator.log")
  dd if=/dev/zero of="$disk/filler" bs=16k 2>/dev/null || true
  local full=$EPOCHREALTIME count
  count=$(disk_delivered)
  fault "the small disk under the store and output is full ($count of $disk_images delivered)"
  disk_logged() { tail -n +"$((from + 1))" "$work/disk-coordinator.log" | grep -qE "$1"; }
  if wait_until 120 disk_logged "held in memory"; then
    disk_note "coordinator: $(tail -n +"$((from + 1))" "$work/disk-coordinator.log" | grep -m1 "held in memory" | cut -d' ' -f2- | cut -c1-220)"
  else fail "disk: the coordinator did not report the full disk within 120 s"; fi
  local problem
  problem=$("${run[@]}" status --coordinator "$c_end" 2>&1 | grep -m1 "^PROBLEM" || true)
  [[ -n "$problem" ]] && disk_note "status: $(echo "$problem" | cut -c1-200)" || fail "disk: status shows no PROBLEM line while the disk is full"
  # Let it sit full for a while: nothing may fail, the client keeps waiting.
  sleep 8
  [[ -f "$work/disk-client.rc" ]] && fail "disk: the client ended while the disk was full: $(tail -2 "$work/disk-client.log")"
  disk_logged "image [^ ]+ failed" && fail "disk: an image failed while the disk was full"
  disk_note "full for $(since "$full") s: $(( $(disk_delivered) - count )) more image(s) delivered meanwhile, none failed, the client waited"

  # Free the space: every held image must be written, the batch must end whole.
  rm -f "$disk/filler"
  local freed=$EPOCHREALTIME
  fault "the small disk freed"
  if wait_until 60 disk_logged "writing works again"; then
    recovered "full disk: held images written (after the space came back)" "$(logged_since_in "$work/disk-coordinator.log" "$freed" "$from" "writing works again")"
  else fail "disk: writing did not resume within 60 s of freeing the space"; fi
  wait_until 120 test -f "$work/disk-client.rc" || { fail "disk: the batch did not end within 120 s of freeing the space"; return; }
  [[ $(cat "$work/disk-client.rc") == 0 ]] || fail "disk: submit --wait exited $(cat "$work/disk-client.rc"): $(tail -2 "$work/disk-client.log")"
  local got differ=0 f
  got=$(find "$work/disk-client" -maxdepth 1 -name '*.png' | wc -l)
  for f in "$work"/disk-client/*.png; do
    [[ -f "$f" ]] || continue
    "$bin" compare-images "$f" "$work/reference/$(basename "$f")" > /dev/null 2>&1 || differ=$((differ + 1))
  done
  local lines; lines=$(disk_delivered)
  [[ $got == "$disk_images" && $lines == "$disk_images" ]] || fail "disk: $got PNGs and $lines manifest lines for $disk_images images"
  [[ $differ == 0 ]] || fail "disk: $differ image(s) differ from generate's"
  disk_note "after freeing: $got of $disk_images images, $lines manifest lines, $differ differing from generate"
}
disk_faults

# ---- speed on a slow, lossy link (long run only: timings belong to an on-demand run, not CI)
slow_link_line=""
if [[ $mode == long ]]; then
  say "slow link: scripts/bench/slow-link.sh (simulated workers, 200 ms each way, 10% loss, against a clean link)"
  if slow=$("$root/scripts/bench/slow-link.sh" --bin "$bin" --images 16 --steps 8 --depths 3 --delay 200 --loss 10 2>/dev/null | tail -1); then
    ratio=$(echo "$slow" | grep -oE '[0-9.]+x$' || true)
    slow_link_line="$slow (target 1.3x: $(awk -v r="${ratio%x}" 'BEGIN { print (r != "" && r <= 1.3) ? "met" : "NOT met" }'))"
  else
    slow_link_line="scripts/bench/slow-link.sh failed"
  fi
  say "$slow_link_line"
fi

[[ -z "$failure" ]] && passed=1

{
  echo "== cluster fault test ($mode): $(if [[ $passed == 1 ]]; then echo PASSED; else echo "FAILED: $failure"; fi)"
  echo "images: $images ($steps steps, shapes model 128x128, 2 workers x 1 thread), batch $batch"
  echo "network: loss ${loss}% per link and direction; $shaping"
  echo "faults injected (time since start):"
  for f in "${faults[@]}"; do echo "  $f"; done
  echo "images lost: $c_lost (client), $s_lost (coordinator's folder)"
  echo "duplicates: $c_dups manifest lines (client), $s_dups (coordinator); PNG files: $c_pngs (client), $s_pngs (coordinator)"
  echo "images differing from generate: $differing ($compare_line)"
  echo "recovery times:"
  for r in "${recoveries[@]}"; do echo "  $r"; done
  echo "full disk and read-only folders ($disk_images images, store and output on a 32 MB tmpfs):"
  for d in "${disk_summary[@]}"; do echo "  $d"; done
  [[ -n "$slow_link_line" ]] && echo "slow link (16 images x 8 steps, 2 simulated workers, 200 ms each way, 10% loss): $slow_link_line"
  echo "coordinator: $gone worker loss(es) noticed, $deadlines task deadline(s) passed, $redone image(s) finished twice (redone after the restart)"
  echo "wall time: $(elapsed) s (batch: $(awk -v a="$client_started" -v b="$batch_done" 'BEGIN { printf "%.1f", b - a }') s from submit to the last image)"
} | tee "$work/summary.txt"
[[ $passed == 1 ]]
