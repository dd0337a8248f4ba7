#!/usr/bin/env bash
# Build Halite's container image with podman or docker, whichever is present (`make image`).
#   IMAGE=halite:dev BUILD_HASH=$(git rev-parse --short HEAD) scripts/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-halite:latest}
BUILD_HASH=${BUILD_HASH:-$(git rev-parse --short HEAD 2>/dev/null || echo image)}
if command -v podman >/dev/null; then ENGINE=podman
elif command -v docker >/dev/null; then ENGINE=docker; export DOCKER_BUILDKIT=1
else
  echo "neither podman nor docker is installed (on a machine without an image registry," >&2
  echo "../shared/tools/container-base.sh installs podman and a local debian:bookworm-slim)" >&2
  exit 1
fi
echo "building $IMAGE ($BUILD_HASH) with $ENGINE"
start=$(date +%s)
"$ENGINE" build --build-arg BUILD_HASH="$BUILD_HASH" -t "$IMAGE" .
echo "built $IMAGE in $(( $(date +%s) - start )) s; size: $("$ENGINE" image inspect "$IMAGE" --format '{{.Size}}') bytes"
