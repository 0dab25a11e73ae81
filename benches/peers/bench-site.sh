# bench_site SITE FORMAT PHOTO...: lay out the site of the standard job in SITE (removed first):
# one page bundle whose page references each photo at widths 480, 960 and 1920, densities [1],
# no widths for smaller screens (`screens: []`: the job's three widths, as the peers make),
# FORMAT (jpeg, webp or avif) at quality 80 (JPEG, WebP), WebP at effort $WEBP_EFFORT (default 4,
# as sharp's); AVIF at pixpipe's defaults unless $AVIF_QUALITY / $AVIF_SPEED say otherwise.
# Sourced by pixpipe-job.sh (inside the timed command,
# so it forks one `ln` for all photos: a process per photo cost ~60 ms) and memory.sh.
bench_site() {
  local s=$1 fmt=$2; shift 2
  local dir=$s/content/bench f name w
  rm -rf "$s"; mkdir -p "$dir"
  {
    printf -- '---\ntitle: bench\n---\n'
    for f in "$@"; do
      name=${f##*/}
      for w in 480 960 1920; do printf '{{< img src="%s" width="%s" >}}\n' "$name" "$w"; done
    done
  } > "$dir/index.md"
  ln -t "$dir" -- "$@" 2>/dev/null || cp -t "$dir" -- "$@"
  printf 'densities: [1]\nscreens: []\nformats: [%s]\nquality: {jpeg: 80, webp: 80%s}\nwebp_effort: %s\n%s' \
    "$fmt" "${AVIF_QUALITY:+, avif: $AVIF_QUALITY}" "${WEBP_EFFORT:-4}" \
    "${AVIF_SPEED:+avif_speed: $AVIF_SPEED$'\n'}" > "$s/pixpipe.yaml"
}
