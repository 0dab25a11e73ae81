#!/usr/bin/env bash
# The no-op rebuild: COUNT generated photos (default 1000 of 1200x800) in the standard job's
# site (widths 480, 960 and 1920, JPEG q80, 2 jobs), built cold once, then rebuilt ROUNDS
# times with nothing changed. Prints the cold build's wall time and the median and range of
# the no-op's, and what the last no-op's summary counted (made, decoded, hashed): a no-op
# makes, decodes and hashes nothing. With several binaries, their runs are interleaved, each
# on its own copy of the site, output and cache, so they are compared in the same conditions.
#
# usage: noop.sh [COUNT] [ROUNDS] PIXPIPE...
set -euo pipefail
count=${1:-1000}; rounds=${2:-9}; shift 2
here=${BASH_SOURCE[0]%/*}; [ "$here" != "${BASH_SOURCE[0]}" ] || here=.
source "$here/bench-site.sh"
gen=target/bench-photos/$count-1200x800
cargo run --quiet --release --example bench-photos -- "$gen" "$count" 1200x800 >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/pixpipe-noop.XXXXXX")
trap 'rm -rf "$work"' EXIT
bins=()
for b in "$@"; do bins+=("$(realpath "$b")"); done
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# one I SITE: wall seconds of one build of binary I, its summary in $work/log.I
one() {
  local i=$1 s=$2 t0 t1
  t0=$(date +%s%N)
  "${bins[$i]}" build "$s" --out "$s/out" --cache "$s/cache" --jobs 2 --quiet 2> "$work/log.$i" \
    || { cat "$work/log.$i" >&2; exit 1; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}
for i in "${!bins[@]}"; do
  bench_site "$work/site$i" jpeg "$gen"/*.jpg
  echo "cold $i: $(one "$i" "$work/site$i") s" >&2
done
for _ in $(seq "$rounds"); do
  for i in "${!bins[@]}"; do one "$i" "$work/site$i" >> "$work/noop.$i"; done
done
echo "| binary | no-op median s | min | max | last summary |"
echo "|---|---:|---:|---:|---|"
for i in "${!bins[@]}"; do
  printf '| %s | %s | %s | %s | %s |\n' "${bins[$i]##*/}" "$(median < "$work/noop.$i")" \
    "$(sort -n "$work/noop.$i" | head -1)" "$(sort -n "$work/noop.$i" | tail -1)" \
    "$(grep '^build:' "$work/log.$i" | sed 's/^build: //; s/, [0-9.]* s;.*//')"
done
