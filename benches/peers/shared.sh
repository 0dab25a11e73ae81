#!/usr/bin/env bash
# The shared cache, timed: the standard job's site (see bench-site.sh: each photo at widths 480,
# 960 and 1920, one format, 2 jobs) built
#   cold       on one machine, cache folder only (no store);
#   upload     on one machine with an empty store behind it (what the first CI run pays);
#   fresh      on a second machine (empty folder) from that store: every output fetched;
#   shard i/N  for N in $SHARDS, each part as its own process with its own empty folder
#              and store prefix, one after another (each is what one runner of a matrix does);
#   final N    the build after the N shards, on another empty folder: fetch and assemble.
# The store is on 127.0.0.1: s3s-fs (an S3 server; make test installs it), or with
# STORE=webdav nginx serving a folder over WebDAV (an `http://` store; Debian's nginx-light
# and libnginx-mod-http-dav-ext). No network between client and store, but the server runs
# on the same cores as pixpipe: its CPU time (the column "server CPU") is part of each wall
# time here, and would be the store's on a real one. Each step runs ROUNDS times; the table
# has medians and the summary's counts.
#
# usage: [STORE=s3|webdav] shared.sh PHOTOS|COUNT FORMAT ROUNDS PIXPIPE
#   PHOTOS: a folder of JPEG photos (../shared/corpus/bench); COUNT: that many generated
#   1200x800 photos (target/bench-photos).
set -euo pipefail
what=$1; fmt=$2; rounds=$3; bin=$(realpath "$4")
here=${BASH_SOURCE[0]%/*}; [ "$here" != "${BASH_SOURCE[0]}" ] || here=.
source "$here/bench-site.sh"
if [ -d "$what" ]; then
  photos=$what
else
  photos=target/bench-photos/$what-1200x800
  cargo run --quiet --release --example bench-photos -- "$photos" "$what" 1200x800 >&2
fi
files=()
for f in "$photos"/*; do case "${f,,}" in *.jpg|*.jpeg) files+=("$f") ;; esac; done
work=$(mktemp -d "${TMPDIR:-/tmp}/pixpipe-shared.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/store/bench" "$work/tmp"
case ${STORE:-s3} in
  s3)
    s3s-fs --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret \
      "$work/store" > "$work/server.log" 2>&1 &
    server=$!
    export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 \
      AWS_ENDPOINT_URL=http://127.0.0.1:$port
    store=s3://bench ;;
  webdav)
    # One process (its CPU is all of the server's), the folder served read-write.
    cat > "$work/nginx.conf" <<EOF
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/server.log;
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    root $work/store;
    client_max_body_size 0;
    dav_methods PUT DELETE MKCOL COPY MOVE;
    dav_ext_methods PROPFIND OPTIONS;
    create_full_put_path on;
  }
}
EOF
    /usr/sbin/nginx -p "$work" -e "$work/server.log" -c "$work/nginx.conf" &
    server=$!
    store=http://127.0.0.1:$port/bench ;;
  *) echo "STORE is s3 or webdav" >&2; exit 2 ;;
esac
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
bench_site "$work/site" "$fmt" "${files[@]}"
shards=${SHARDS:-2 4}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# The server's CPU seconds so far (user + system).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$server/stat"; }
# step NAME ARGS...: one timed build of the site with ARGS; its wall time appended to
# $work/t.NAME, its summary lines kept in $work/log.NAME.
step() {
  local name=$1 t0 t1 c0; shift
  rm -rf "$work/site/out"
  c0=$(server_cpu)
  t0=$(date +%s%N)
  "$bin" build "$work/site" --out "$work/site/out" --jobs 2 --quiet "$@" 2> "$work/log.$name" \
    || { cat "$work/log.$name" >&2; exit 1; }
  t1=$(date +%s%N)
  [ -f "$work/t.$name" ] || order+=("$name")
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >> "$work/t.$name"
  awk -v a="$c0" -v b="$(server_cpu)" 'BEGIN { printf "%.3f\n", b - a }' >> "$work/c.$name"
}
order=()
for r in $(seq "$rounds"); do
  rm -rf "$work"/cache.* "$work/store/bench"/*
  step cold --cache "$work/cache.cold"
  step upload --cache "$store/one" --cache-local "$work/cache.upload"
  step fresh --cache "$store/one" --cache-local "$work/cache.fresh"
  for n in $shards; do
    for i in $(seq "$n"); do
      step "shard$n.$i" --cache "$store/n$n" --cache-local "$work/cache.n$n.$i" --shard "$i/$n"
    done
    step "final$n" --cache "$store/n$n" --cache-local "$work/cache.final$n"
  done
  echo "round $r: cold $(tail -1 "$work/t.cold") s" >&2
done
cold=$(median < "$work/t.cold")
echo "| step | median s | vs cold | server CPU s | what the summary says |"
echo "|---|---:|---:|---:|---|"
for name in "${order[@]}"; do
  m=$(median < "$work/t.$name")
  line=$(grep -h '^build:' "$work/log.$name" | sed 's/^build: //; s/, [0-9.]* s\(;.*\)\{0,1\}$//; s/; no pages written//')
  shared=$(grep -h '^shared cache' "$work/log.$name" | sed 's/^shared cache [^:]*: //' || true)
  printf '| %s | %s | %s | %s | %s%s |\n' "$name" "$m" \
    "$(awk -v a="$m" -v b="$cold" 'BEGIN { printf "%.2fx", a / b }')" "$(median < "$work/c.$name")" \
    "$line" "${shared:+; $shared}"
done
