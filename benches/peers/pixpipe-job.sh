#!/usr/bin/env bash
# The standard job of ../shared/bench (every photo -> widths 480, 960, 1920, never upscaled,
# orientation applied, metadata stripped, quality 80) done by `pixpipe build`, cold: a site
# whose page references each photo at the three widths, densities [1], one format, an empty
# cache. The outputs end up flat in OUT, named STEM-WIDTHw.HASH.EXT, as quality.py expects.
#
# usage: pixpipe-job.sh PIXPIPE PHOTO_DIR OUT_DIR [jpeg|webp|avif] [THREADS] [WEBP_EFFORT]
# (AVIF: $AVIF_QUALITY and $AVIF_SPEED override pixpipe's defaults.)
set -euo pipefail
bin=$1; photos=$2; out=$3; fmt=${4:-jpeg}; threads=${5:-2}; WEBP_EFFORT=${6:-4}
here=${BASH_SOURCE[0]%/*}; [ "$here" != "${BASH_SOURCE[0]}" ] || here=.
source "$here/bench-site.sh"
site=$(mktemp -d "${TMPDIR:-/tmp}/pixpipe-job.XXXXXX")
trap 'rm -rf "$site"' EXIT
files=()
for f in "$photos"/*; do
  case "${f,,}" in *.jpg|*.jpeg) files+=("$f") ;; esac
done
bench_site "$site" "$fmt" "${files[@]}"
mkdir -p "$out"
"$bin" build "$site" --out "$site/out" --cache "$site/cache" --jobs "$threads" --quiet 2> "$site/log" || { cat "$site/log" >&2; exit 1; }
find "$site/out/content/bench" -type f \( -name '*.jpg' -o -name '*.webp' -o -name '*.avif' \) -exec mv -t "$out" {} +
