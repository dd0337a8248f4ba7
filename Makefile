# Halite: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

HALITE_DATA_DIR ?= data
LISTEN_HOST ?= 127.0.0.1
LISTEN_PORT ?= 8080
COOKIE_SECURE ?= false
LOG_FORMAT ?= text

.PHONY: run test setup setup-test build build-release lint fmt unit e2e clean demo lab-start lab-stop bench image image-smoke

## Install what is missing, build the release binary and WASM, serve on http://127.0.0.1:8080
run: setup build-release
	@echo "Halite on http://$(LISTEN_HOST):$(LISTEN_PORT)  (first sign-in: admin / changeme)"
	HALITE_DATA_DIR=$(HALITE_DATA_DIR) LEPTOS_SITE_ROOT=target/site LISTEN_HOST=$(LISTEN_HOST) \
	  LISTEN_PORT=$(LISTEN_PORT) COOKIE_SECURE=$(COOKIE_SECURE) LOG_FORMAT=$(LOG_FORMAT) \
	  exec ./target/release/halite

## Everything CI runs: formatting, lints, unit + integration tests (real Salt lab), Playwright e2e
test: setup-test
	scripts/test.sh

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build-release:
	@# hash.txt (beside the binary, naming the hashed bundle) is written with the bundle.
	@if [ -x target/release/halite ] && [ -f target/release/hash.txt ] && \
	   [ -z "$$(find src style public migrations Cargo.toml Cargo.lock -newer target/release/hash.txt -print -quit)" ] && \
	   [ -z "$$(find src migrations Cargo.toml Cargo.lock -newer target/release/halite -print -quit)" ]; then \
	  echo "release build is up to date"; \
	else cargo leptos build --release; fi
	@# .br and .gz beside the bundle: browsers that accept them get these (rewritten only when stale)
	@./target/release/halite assets compress target/site > /dev/null

build:
	cargo leptos build

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --features ssr,lab -- -D warnings
	cargo clippy -p salt-sim --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

unit:
	end2end/salt-lab/lab.sh start
	eval "$$(end2end/salt-lab/lab.sh env)" && cargo test --no-default-features --features ssr,lab
	cargo test -p salt-sim

lab-start:
	end2end/salt-lab/lab.sh start

lab-stop:
	end2end/salt-lab/lab.sh stop

## The Salt lab plus Halite already connected to it (admin / changeme)
demo: setup build-release
	end2end/salt-lab/lab.sh start
	eval "$$(end2end/salt-lab/lab.sh env)" && \
	  printf '%s\n' "$$SALT_API_PASSWORD" | HALITE_DATA_DIR=$(HALITE_DATA_DIR) ./target/release/halite admin set-salt \
	    --url "$$SALT_API_URL" --username "$$SALT_API_USER" --eauth "$$SALT_API_EAUTH" --password-stdin
	@echo "Halite demo on http://$(LISTEN_HOST):$(LISTEN_PORT)  (sign in: admin / changeme; Salt lab: end2end/salt-lab/lab.sh status)"
	HALITE_DATA_DIR=$(HALITE_DATA_DIR) LEPTOS_SITE_ROOT=target/site LISTEN_HOST=$(LISTEN_HOST) \
	  LISTEN_PORT=$(LISTEN_PORT) COOKIE_SECURE=$(COOKIE_SECURE) LOG_FORMAT=$(LOG_FORMAT) \
	  exec ./target/release/halite

e2e: build
	end2end/run.sh

## The container image (podman or docker); image-smoke also runs it against the Salt lab
image:
	scripts/image.sh

image-smoke:
	scripts/image-smoke.sh

## Benchmarks (release build; the browser timings need Chromium, hence setup-test); figures go to BENCHMARKS.md
bench: setup-test
	cargo run --release --features ssr --example bench_minions
	cargo run --release --features ssr --example bench_jobs
	cargo run --release --features ssr --example bench_events
	cargo run --release --features ssr --example bench_audit
	cargo run --release --features ssr --example bench_fleet
	cargo run --release --features ssr --example bench_inventory
	cargo run --release --features ssr --example bench_http
	cargo run --release --features ssr --example bench_soak
	$(MAKE) build-release
	scripts/bench-payload.sh
	cargo build --release -p salt-sim
	node scripts/bench-browser.mjs

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf node_modules
