# Halite's container image: `make image` (podman or docker), `scripts/image-smoke.sh` to build
# and try it against the Salt lab. docs/deploy.md explains running it.
#
# (perl and make: cargo-leptos builds a vendored OpenSSL.)
# Stages: `tools` (toolchain, wasm target, cargo-leptos, wasm-bindgen, npm tools) is built before
# any source is copied, so a source change never rebuilds it; `build` compiles with cache mounts
# for cargo's registry and the target directory, so a source change recompiles only Halite;
# the runtime stage is debian-slim with the binary, the site and a non-root user.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS tools
ENV DEBIAN_FRONTEND=noninteractive \
    RUSTUP_HOME=/opt/rustup CARGO_HOME=/opt/cargo PATH=/opt/cargo/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev make perl pkg-config nodejs npm \
 && rm -rf /var/lib/apt/lists/*
ARG RUST_VERSION=1.95.0
RUN set -eu; \
    case "$(dpkg --print-architecture)" in \
      amd64) triple=x86_64-unknown-linux-gnu ;; arm64) triple=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported architecture" >&2; exit 1 ;; \
    esac; \
    curl -sSfL -o /tmp/rustup-init "https://static.rust-lang.org/rustup/dist/$triple/rustup-init"; \
    chmod +x /tmp/rustup-init; \
    /tmp/rustup-init -y --profile minimal --no-modify-path \
      --default-toolchain ${RUST_VERSION} --target wasm32-unknown-unknown; \
    rm /tmp/rustup-init
# The versions Cargo.lock and the Makefile expect (scripts/setup.sh checks the same ones).
ARG CARGO_LEPTOS_VERSION=0.3.10
ARG WASM_BINDGEN_VERSION=0.2.130
# One layer each, so a failure in the second keeps the ~15 min of the first. cargo-leptos with
# no_downloads (it finds wasm-opt from npm's binaryen on PATH instead of fetching it); wasm-bindgen-cli
# without --locked, as scripts/setup.sh: its lockfile pins crates some mirrors lack.
RUN CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install --locked cargo-leptos --version ${CARGO_LEPTOS_VERSION} \
      --features no_downloads \
 && rm -rf /opt/cargo/registry /opt/cargo/git
RUN CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install wasm-bindgen-cli --version ${WASM_BINDGEN_VERSION} \
 && rm -rf /opt/cargo/registry /opt/cargo/git
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM tools AS build
ARG BUILD_HASH=image
COPY . .
RUN --mount=type=cache,id=halite-cargo-registry,target=/opt/cargo/registry \
    --mount=type=cache,id=halite-target,target=/src/target \
    BUILD_HASH=${BUILD_HASH} PATH="/src/node_modules/.bin:$PATH" cargo leptos build --release \
 && ./target/release/halite assets compress target/site \
 && mkdir -p /out \
 && cp target/release/halite target/release/hash.txt /out/ \
 && cp -r target/site /out/site

FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin halite \
 && mkdir -p /data && chown halite:halite /data
COPY --from=build /out/halite /out/hash.txt /app/
COPY --from=build /out/site /app/site
ARG BUILD_HASH=image
ENV HALITE_ENV=production BUILD_HASH=${BUILD_HASH} LEPTOS_SITE_ROOT=/app/site \
    LISTEN_HOST=0.0.0.0 LISTEN_PORT=8080 HALITE_DATA_DIR=/data \
    DATABASE_URL=sqlite:///data/halite.db?mode=rwc LOG_FORMAT=json
USER halite
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/app/halite", "healthcheck"]
ENTRYPOINT ["/app/halite"]
