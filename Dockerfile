# Multi-stage image: build with cargo-leptos, run the single binary + site/.
# (Not built in this project's CI: the CI machines have no Docker engine.)
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/setup.sh && PATH="/src/node_modules/.bin:$PATH" cargo leptos build --release

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data halite && mkdir -p /data && chown halite /data
COPY --from=build /src/target/release/halite /app/halite
COPY --from=build /src/target/site /app/site
ENV LEPTOS_SITE_ROOT=/app/site LISTEN_HOST=0.0.0.0 LISTEN_PORT=8080 HALITE_DATA_DIR=/data \
    DATABASE_URL=sqlite:///data/halite.db?mode=rwc LOG_FORMAT=json
USER halite
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["/app/halite"]
