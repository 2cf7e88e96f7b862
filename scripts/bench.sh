#!/usr/bin/env bash
# bench.sh: `make bench`. Per-stage Go benchmarks of the pipeline, then a real stack
# (redis-server, MinIO, bin/api, bin/worker on free loopback ports, test models) measured
# from outside with `swapctl bench`, and the peak RSS of the api and worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/deps.sh)"
TD="${SWAPD_TESTDATA:-$(cd ../shared/testdata && pwd)}"
export SWAPD_TESTDATA="$TD"

echo "== pipeline stages (go test -bench, test models on $(nproc) CPU cores)"
go test -run '^$' -bench 'Detect|Embed|Align|Swap$|SwapFrame|PasteBack|Enhance|SwapVideo' -benchtime "${BENCHTIME:-20x}" ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
echo "== video: the 3 s five-person clip looped to 30 s (900 frames, 640x480, audio copied)"
echo "   ceiling = ffmpeg decode + libx264 encode alone; end to end = decode → detect → swap (many) → paste → encode"
go test -run '^$' -bench 'DecodeEncode' -benchtime 1x ./pkg/media/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
go test -run '^$' -bench 'VideoFile' -benchtime 1x ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
echo "== swappers: per-face cost of each swapper stand-in at each pixel-boost size (warp, split, runs, interleave, mask, paste)"
go test -run '^$' -bench 'SwapperPixelBoost' -benchtime "${BENCHTIME_BOOST:-5x}" ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true

echo "== stack: submit → webhook, worker stages, submit latency, RSS"
tmp="$(mktemp -d)"; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rp=$(free_port); mp=$(free_port); cp=$(free_port); ap=$(free_port)
redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 & pids+=($!)
MINIO_ROOT_USER=bench MINIO_ROOT_PASSWORD=bench-secret-key "$SWAPD_MINIO_BIN" server "$tmp/minio" --address "127.0.0.1:$mp" --console-address "127.0.0.1:$cp" >"$tmp/minio.log" 2>&1 & pids+=($!)
go run ./internal/onnxgen/cmd/onnxgen -out "$tmp/models" >/dev/null
export SWAPD_REDIS_URL="redis://127.0.0.1:$rp/0" SWAPD_S3_ENDPOINT="127.0.0.1:$mp" SWAPD_S3_ACCESS_KEY=bench SWAPD_S3_SECRET_KEY=bench-secret-key
export SWAPD_ADDR="127.0.0.1:$ap" SWAPD_API_KEYS=sk_bench SWAPD_ADMIN_KEYS=sk_bench_admin SWAPD_RATE_LIMIT=0 SWAPD_MAX_IN_FLIGHT=0 SWAPD_ALLOW_PRIVATE=localhost SWAPD_LOG_LEVEL=warn
export SWAPD_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
export SWAPD_MODELS_DIR="$tmp/models" SWAPD_DETECTOR_MODEL="$TD/models/scrfd_500m.onnx" SWAPD_RECOGNIZER_MODEL="$TD/models/arcface_compat_512.onnx"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$mp/minio/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
bin/worker >"$tmp/worker.log" 2>&1 & wpid=$!; pids+=($wpid)
bin/api >"$tmp/api.log" 2>&1 & apid=$!; pids+=($apid)
for _ in $(seq 1 100); do curl -fs "http://$SWAPD_ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
rss() { awk '/VmRSS|VmHWM/ {printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$1/status"; }
echo "idle RSS: api [$(rss $apid)] worker [$(rss $wpid)]"
SWAPD_URL="http://$SWAPD_ADDR" SWAPD_API_KEY=sk_bench bin/swapctl bench \
  -source "$TD/faces/astronaut.png" -target "$TD/faces/grace_hopper.jpg" -jobs "${BENCH_JOBS:-20}" -submits "${BENCH_SUBMITS:-500}"
echo "== queue: probe jobs (API → Redis → worker slot → record → signed webhook, no inference)"
SWAPD_URL="http://$SWAPD_ADDR" SWAPD_API_KEY=sk_bench bin/swapctl bench -probes "${BENCH_PROBES:-1000}" -parallel 16
echo "after load RSS: api [$(rss $apid)] worker [$(rss $wpid)]"
