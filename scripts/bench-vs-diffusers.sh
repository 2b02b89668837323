#!/usr/bin/env bash
# Measures sdcluster's engine and diffusers (PyTorch, CPU) on the same Stable Diffusion 1.5
# shapes with random weights, in one run, fp32 and bf16, and prints one table: times, speed-ups
# and each of our figures as a share of the machine's measured peak (one 3x3 convolution of
# 320 channels at 64x64 through oneDNN, the UNet's commonest operation, in the same precision).
#
# Usage: scripts/bench-vs-diffusers.sh [--threads N] [--repeat N] [--only unet|text-encoder|vae]
#   Needs a Python with torch, diffusers and transformers for the diffusers columns (PYTHON,
#   default python3; see scripts/requirements.txt); without them only our columns are filled.
#   Takes about 10 minutes on 2 cores. Other load on the machine skews it: compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=""; repeat=2; only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}
swift build -c release --product sdcluster >/dev/null
bin=.build/release/sdcluster
common=(--repeat "$repeat"); [ -n "$threads" ] && common+=(--threads "$threads")
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
have_torch=0; "$python" -c "import torch, diffusers, transformers" 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "(torch/diffusers not importable with $python: diffusers columns left empty)" >&2

# One line per case and column: "case|column|seconds|GFLOP/s|peak RSS GiB".
record() {  # column, then the lines of a bench run on stdin
  sed -nE 's/^(.*[^ ]) +([0-9.]+) s( +[0-9.]+ GFLOP +([0-9.]+) GFLOP\/s)?.*peak RSS +([0-9.]+) GiB.*/\1|'"$1"'|\2|\4|\5/p' >> "$out/rows"
}
for precision in fp32 bf16; do
  echo "peak: oneDNN 3x3 convolution, $precision" >&2
  "$bin" bench conv --precision "$precision" "${common[@]}" | tee /dev/stderr | record "peak-$precision"
done
for what in unet text-encoder vae; do
  [ -n "$only" ] && [ "$only" != "$what" ] && continue
  for precision in fp32 bf16; do
    echo "sdcluster $what, $precision" >&2
    "$bin" bench "$what" --precision "$precision" "${common[@]}" | tee /dev/stderr | record "ours-$precision"
    if [ $have_torch = 1 ]; then
      echo "diffusers $what, $precision" >&2
      flag=(); [ "$precision" = bf16 ] && flag=(--bf16)
      "$python" scripts/bench/bench_diffusers.py "$what" "${flag[@]}" "${common[@]}" | tee /dev/stderr | record "diffusers-$precision"
    fi
  done
done

echo
awk -F'|' '
  { key = $1 "|" $2; sec[key] = $3; gf[key] = $4; rss[key] = $5
    if ($2 ~ /^peak/) peak[$2] = $4; else if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
  function t(c, col) { return ((c "|" col) in sec) ? sprintf("%.3f", sec[c "|" col]) : "-" }
  function ratio(c, a, b) { return ((c "|" a) in sec && (c "|" b) in sec) ? sprintf("%.2fx", sec[c "|" a] / sec[c "|" b]) : "-" }
  function share(c, p) { return ((c "|ours-" p) in gf && gf[c "|ours-" p] > 0 && peak["peak-" p] > 0) ? sprintf("%.0f%%", 100 * gf[c "|ours-" p] / peak["peak-" p]) : "-" }
  END {
    printf "machine peak (oneDNN 3x3 conv 320ch @64x64): fp32 %s GFLOP/s, bf16 %s GFLOP/s\n\n", peak["peak-fp32"], peak["peak-bf16"]
    printf "| case | ours fp32 s | ours bf16 s | diffusers fp32 s | diffusers bf16 s | fp32 speed-up | bf16 vs diffusers fp32 | bf16 vs diffusers bf16 | share of peak fp32 / bf16 | peak RSS ours fp32 / bf16 GiB |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 0; i < n; i++) { c = order[i]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", c, t(c, "ours-fp32"), t(c, "ours-bf16"),
        t(c, "diffusers-fp32"), t(c, "diffusers-bf16"), ratio(c, "diffusers-fp32", "ours-fp32"),
        ratio(c, "diffusers-fp32", "ours-bf16"), ratio(c, "diffusers-bf16", "ours-bf16"), share(c, "fp32"), share(c, "bf16"),
        ((c "|ours-fp32") in rss ? rss[c "|ours-fp32"] : "-"), ((c "|ours-bf16") in rss ? rss[c "|ours-bf16"] : "-") }
  }' "$out/rows"
