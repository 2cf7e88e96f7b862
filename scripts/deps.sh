#!/usr/bin/env bash
# deps.sh installs or locates everything swapd's tests and local run need, and prints
# shell exports for them. It is idempotent: a second run only checks.
#
#   eval "$(scripts/deps.sh)"
#
# What it provides (cached under $SWAPD_CACHE, default ~/.cache/swapd, so CI on the same
# machine does not rebuild MinIO every run):
#   redis-server, redis-sentinel, ffmpeg, docker-compose  Debian packages (apt-get, needs root)
#   minio                                 go install github.com/minio/minio@$MINIO_VERSION
#   libonnxruntime.so                     SWAPD_ORT_LIBRARY if set; else the official Microsoft
#                                         release when SWAPD_ORT_SOURCE=release (CPU) or
#                                         release-gpu (CUDA 12 + cuDNN 9); else the CPU build
#                                         shipped in npm onnxruntime-node (works offline here)
set -euo pipefail
log() { echo "deps: $*" >&2; }

CACHE="${SWAPD_CACHE:-$HOME/.cache/swapd}"
ORT_VERSION="${SWAPD_ORT_VERSION:-1.30.0}"
# The MinIO server version the tests were last run against (a pseudo-version: MinIO
# publishes no Go module tags). Override with SWAPD_MINIO_VERSION=latest.
MINIO_VERSION="${SWAPD_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
mkdir -p "$CACHE/bin" "$CACHE/ort"

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need_apt+=(redis-sentinel) # the Redis failover tests (internal/e2e)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium) # headless, for the /docs test (internal/e2e)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus) # promtool (make ops-check) and a server for deploy/grafana's test
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

MINIO="${SWAPD_MINIO_BIN:-}"
if [ -z "$MINIO" ]; then
  if command -v minio >/dev/null 2>&1; then MINIO="$(command -v minio)"; else MINIO="$CACHE/bin/minio"; fi
fi
if [ ! -x "$MINIO" ]; then
  log "building MinIO (go install github.com/minio/minio@$MINIO_VERSION; a few minutes, cached in $CACHE/bin)"
  GOBIN="$CACHE/bin" go install "github.com/minio/minio@$MINIO_VERSION" >&2
  MINIO="$CACHE/bin/minio"
fi

ORT="${SWAPD_ORT_LIBRARY:-}"
if [ -z "$ORT" ]; then
  case "${SWAPD_ORT_SOURCE:-npm}" in release) flavour="" ;; release-gpu) flavour="-gpu" ;; *) flavour=none ;; esac
  if [ "$flavour" != none ]; then
    # The official Microsoft release. The GPU build needs the NVIDIA driver, CUDA 12.x
    # and cuDNN 9.x libraries on the library path (the worker image has them).
    name="onnxruntime-linux-x64$flavour-$ORT_VERSION"
    ORT="$CACHE/ort/$name/lib/libonnxruntime.so"
    if [ ! -f "$ORT" ]; then
      log "downloading the official ONNX Runtime $ORT_VERSION release ($name)"
      curl -fsSL "https://github.com/microsoft/onnxruntime/releases/download/v$ORT_VERSION/$name.tgz" | tar -xz -C "$CACHE/ort"
    fi
  else
    ORT="$CACHE/ort/npm-$ORT_VERSION/libonnxruntime.so.1"
    if [ ! -f "$ORT" ]; then
      log "fetching ONNX Runtime $ORT_VERSION (CPU) from npm onnxruntime-node"
      tmp="$(mktemp -d)"
      (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null 2>&1)
      tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
      mkdir -p "$(dirname "$ORT")"
      mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT"
      rm -rf "$tmp"
    fi
  fi
fi

echo "export SWAPD_ORT_LIBRARY='$ORT'"
echo "export SWAPD_MINIO_BIN='$MINIO'"
echo "export SWAPD_REDIS_BIN='$(command -v redis-server)'"
echo "export SWAPD_REDIS_SENTINEL_BIN='$(command -v redis-sentinel)'"
echo "export SWAPD_FFMPEG_BIN='$(command -v ffmpeg)'"
