#!/bin/bash
# Two sdcluster builds side by side, alternating, on one `sdcluster bench` command:
#   scripts/bench/ab-bench.sh OLD_BINARY NEW_BINARY PAIRS BENCH_ARGS...
# e.g. (main built with `swift build -c release --product sdcluster --scratch-path .build-old`)
#   scripts/bench/ab-bench.sh .build-old/release/sdcluster .build/release/sdcluster 3 vae --sizes 256,512
# Runs old, new, old, new, ... PAIRS times and prints every result line tagged old/new, then per
# case the min and median time of each and the ratio old/new of the medians. The machine is
# shared: only ratios from one run mean something.
set -euo pipefail
old=$1 new=$2 pairs=$3
shift 3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for ((i = 1; i <= pairs; i++)); do
  for which in old new; do
    bin=$old
    [[ $which == new ]] && bin=$new
    # Result lines look like "vae decode 512x512   16.917 s ...": keep them, tagged.
    "$bin" bench "$@" | grep -E '^[a-z].* [0-9.]+ s ' | sed "s/^/$which /" | tee -a "$log"
  done
done
echo
python3 - "$log" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(old|new) (.*?)\s+([0-9.]+) s ", line)
    if m:
        runs.setdefault(m.group(2).strip(), {}).setdefault(m.group(1), []).append(float(m.group(3)))
print(f"{'case':<28} {'old min/median':>18} {'new min/median':>18} {'old/new (medians)':>18}")
for case, r in runs.items():
    o, n = r.get("old", []), r.get("new", [])
    if not o or not n:
        continue
    mo, mn = statistics.median(o), statistics.median(n)
    print(f"{case:<28} {min(o):8.3f} /{mo:8.3f} {min(n):8.3f} /{mn:8.3f} {mo / mn:17.2f}x")
EOF
