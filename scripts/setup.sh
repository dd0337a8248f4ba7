#!/usr/bin/env bash
# Install what Halite needs to build (and, with --test, to test), skipping what is present.
# Idempotent: a second run only checks versions and returns in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
WANT_TEST=0
[[ "${1:-}" == "--test" ]] && WANT_TEST=1
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

step() { printf '\033[1;33m==>\033[0m %s\n' "$*"; }
# Building the tools with fat LTO takes 30-50 min on 2 cores; these settings take ~20.
fast_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install "$@"
}

command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo-leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (no_downloads; ~20 min once)"
  fast_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (must equal the crate in Cargo.lock; ~8 min once)"
  # Not --locked: its lockfile names a crate version the registry here lacks.
  fast_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! [[ -x node_modules/.bin/wasm-opt && -x node_modules/.bin/playwright-core && -f node_modules/axe-core/axe.min.js ]] \
   || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  command -v npm >/dev/null || { echo "npm not found: apt-get install -y nodejs npm" >&2; exit 1; }
  step "installing npm tools (wasm-opt, playwright-core, axe-core) from package-lock.json"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

if [[ $WANT_TEST == 1 ]]; then
  if ! command -v chromium >/dev/null; then
    step "installing Debian's Chromium for the end-to-end tests"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q chromium
  fi
  # The version-comparison oracles (tests/it/inventory_versions.rs): dpkg's Perl Dpkg::Version,
  # rpm (rpm.vercmp) and pacman's vercmp.
  VERSION_TOOLS=()
  perl -MDpkg::Version -e 1 2>/dev/null || VERSION_TOOLS+=(libdpkg-perl)
  command -v rpm >/dev/null || VERSION_TOOLS+=(rpm)
  command -v vercmp >/dev/null || VERSION_TOOLS+=(pacman-package-manager)
  # Postgres server binaries (initdb, pg_ctl) for scripts/with-postgres.sh: the tests start a
  # throwaway cluster of their own and use no running service.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || VERSION_TOOLS+=(postgresql)
  if (( ${#VERSION_TOOLS[@]} )); then
    step "installing the Debian packages the tests need: ${VERSION_TOOLS[*]}"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${VERSION_TOOLS[@]}"
  fi
  if [[ -x end2end/salt-lab/lab.sh ]]; then
    step "checking the Salt lab's Python venv"
    end2end/salt-lab/lab.sh install
  fi
fi
step "tools ready"
