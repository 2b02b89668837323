#!/usr/bin/env bash
# One UNet case, sdcluster and diffusers alternating, each process under /usr/bin/time -v:
#   PYTHON=/work/pyenv/bin/python scripts/bench/unet-vs-diffusers.sh CONFIG SIZE BATCH PRECISION PAIRS [THREADS]
# e.g. scripts/bench/unet-vs-diffusers.sh sdxl 128 2 fp32 2 2
# CONFIG: sd15|sd2|sdxl; PRECISION: fp32|bf16 (diffusers: the model cast to bfloat16). Runs
# sdcluster, diffusers, sdcluster, diffusers, ... PAIRS times (`--repeat 1`: one untimed warm-up
# evaluation, one timed) and prints per run the timed evaluation, the process's peak RSS (the
# kernel's "Maximum resident set size") and wall time, then the ratio diffusers/sdcluster of each
# pair. Uses .build/release/sdcluster as built. The machine may be shared: quote the pairs' ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 5 ] || { sed -n '2,10p' "$0"; exit 2; }
config=$1 size=$2 batch=$3 precision=$4 pairs=$5 threads=${6:-2}
python=${PYTHON:-python3}
bin=.build/release/sdcluster
bf16=(); [ "$precision" = bf16 ] && bf16=(--bf16)
log=$(mktemp -d); trap 'rm -rf "$log"' EXIT
run() {  # label, command...: prints "label  eval-seconds  peak-RSS-GiB  wall-seconds"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$log/out" 2>"$log/err" || { cat "$log/out" "$log/err" >&2; exit 1; }
  grep -h '^engine:\|^(diffusers' "$log/out" "$log/err" >&2 || true
  local seconds rss wall
  seconds=$(sed -nE 's/^unet [0-9x]+ batch [0-9]+ +([0-9.]+) s .*/\1/p' "$log/out")
  rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$log/err")
  wall=$(sed -nE 's/.*Elapsed \(wall clock\) time.*: (.*)/\1/p' "$log/err")
  printf '%-10s %9s s  peak RSS %6.2f GiB  wall %s\n' "$label" "$seconds" "$(echo "$rss / 1048576" | bc -l)" "$wall"
  echo "$seconds" >"$log/last"
}
echo "unet $config ${size}x$size batch $batch $precision, $threads threads, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= pairs; i++)); do
  run sdcluster "$bin" bench unet --config "$config" --sizes "$size" --batches "$batch" --repeat 1 \
    --threads "$threads" --precision "$precision"
  ours=$(cat "$log/last")
  run diffusers "$python" scripts/bench/bench_diffusers.py unet --config "$config" --sizes "$size" \
    --batches "$batch" --repeat 1 --threads "$threads" "${bf16[@]}"
  theirs=$(cat "$log/last")
  printf 'pair %d: diffusers/sdcluster %.2fx (load %s)\n' "$i" "$(echo "$theirs / $ours" | bc -l)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
done
