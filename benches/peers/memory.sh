#!/usr/bin/env bash
# Memory and scaling of `pixpipe build` (the standard job: widths 480, 960 and 1920, JPEG q80,
# 2 jobs, cold cache), measured with /usr/bin/time (wall, CPU, peak RSS):
#   1. COUNT generated photos of SIZE (default 50 of 6000x4000 = 24 MP) under several --memory
#      budgets: peak RSS must stay under each budget however many photos there are;
#   2. the first 8, 16 and 32 photos of PHOTO_DIR (the bench photos): time and RSS per size.
# Medians of ROUNDS runs. Photos are generated once into target/bench-photos/.
#
# usage: memory.sh PIXPIPE [PHOTO_DIR] [ROUNDS]
set -euo pipefail
bin=$(realpath "$1"); photos=${2:-../shared/corpus/bench}; rounds=${3:-3}
count=${COUNT:-50}; size=${SIZE:-6000x4000}; budgets=${BUDGETS:-"128 256 512 1024"}
here=${BASH_SOURCE[0]%/*}; [ "$here" != "${BASH_SOURCE[0]}" ] || here=.
source "$here/bench-site.sh"
gen=target/bench-photos/$count-$size
cargo run --quiet --release --example bench-photos -- "$gen" "$count" "$size" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/pixpipe-mem.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run SITE [FLAGS...]: prints "wall cpu rss_mb" of one cold build.
run() {
  local s=$1; shift
  rm -rf "$s/out" "$s/cache"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    "$bin" build "$s" --out "$s/out" --cache "$s/cache" --jobs 2 --quiet "$@" 2> "$work/log" \
    || { cat "$work/log" >&2; exit 1; }
  awk '{ printf "%.2f %.2f %.0f\n", $1, $2 + $3, $4 / 1024 }' "$work/time"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# row LABEL SITE [FLAGS...]: median wall, CPU and RSS over the rounds.
row() {
  local label=$1 s=$2; shift 2
  : > "$work/rows"
  for _ in $(seq "$rounds"); do run "$s" "$@" >> "$work/rows"; done
  printf '| %s | %s | %s | %s |' "$label" \
    "$(cut -d' ' -f1 "$work/rows" | median)" "$(cut -d' ' -f2 "$work/rows" | median)" \
    "$(cut -d' ' -f3 "$work/rows" | median)"
  printf ' %s |\n' "$(cut -d' ' -f3 "$work/rows" | sort -n | tail -1)"
}

bench_site "$work/gen" jpeg "$gen"/*.jpg
mp=$(awk -v s="$size" -v n="$count" 'BEGIN { split(s, d, "x"); printf "%.0f", n * d[1] * d[2] / 1e6 }')
echo "## $count generated photos of $size ($mp MP), median of $rounds"
echo
echo "| --memory (MiB) | wall s | CPU s | peak RSS MiB (median) | peak RSS MiB (max) |"
echo "|---|---:|---:|---:|---:|"
for m in $budgets; do row "$m" "$work/gen" --memory "$m"; done
echo
mapfile -t all < <(find "$photos" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) | sort)
echo "## Scaling: the first N photos of $photos, default budget, median of $rounds"
echo
echo "| photos | MP | wall s | CPU s | peak RSS MiB (median) | peak RSS MiB (max) |"
echo "|---|---:|---:|---:|---:|---:|"
for n in 8 16 32; do
  [ "${#all[@]}" -ge "$n" ] || continue
  bench_site "$work/s$n" jpeg "${all[@]:0:$n}"
  mp=$(python3 -c 'import sys; from PIL import Image
print(round(sum(Image.open(f).size[0] * Image.open(f).size[1] for f in sys.argv[1:]) / 1e6, 1))' "${all[@]:0:$n}")
  row "$n | $mp" "$work/s$n"
done
