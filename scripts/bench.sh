#!/usr/bin/env bash
# bench.sh: `make bench`. Per-stage Go benchmarks of the pipeline, then a real stack
# (redis-server, MinIO, bin/api, bin/worker on free loopback ports, test models) measured
# from outside with `swapctl bench`, the peak RSS of the api and worker processes; the
# same probe load against the FastAPI + Celery peer (bench/peer) with the ratios; and
# the idle cost (Redis commands/s, CPU) of 1 and 8 idle workers of each.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/deps.sh)"
TD="${SWAPD_TESTDATA:-$(cd ../shared/testdata && pwd)}"
export SWAPD_TESTDATA="$TD"

if [ -z "${BENCH_QUEUE_ONLY:-}${BENCH_SKIP_PIPELINE:-}" ]; then # BENCH_QUEUE_ONLY=1: only the queue, the peer and idle costs; BENCH_SKIP_PIPELINE=1: no go test benchmarks
echo "== pipeline stages (go test -bench, test models on $(nproc) CPU cores)"
go test -run '^$' -bench 'Detect|Embed|Align|Swap$|SwapFrame|PasteBack|Enhance|SwapVideo' -benchtime "${BENCHTIME:-20x}" ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
echo "== video: the 3 s five-person clip looped to 30 s (900 frames, 640x480, audio copied)"
echo "   ceiling = ffmpeg decode + libx264 encode alone; end to end = decode → detect → swap (many) → paste → encode"
go test -run '^$' -bench 'DecodeEncode' -benchtime 1x ./pkg/media/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
go test -run '^$' -bench 'VideoFile' -benchtime 1x ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
echo "== swappers: per-face cost of each swapper stand-in at each pixel-boost size (warp, split, runs, interleave, mask, paste)"
go test -run '^$' -bench 'SwapperPixelBoost' -benchtime "${BENCHTIME_BOOST:-5x}" ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
echo "== masks: per-face cost of each mask model stand-in (occluders, many, parsers, landmarkers + area mask) at the 128 crop and a 512 pixel boost"
echo "   crop, resize, run, resize back, smoothing; the stand-ins' networks are trivial, so this is swapd's work around each model"
go test -run '^$' -bench 'MaskModel' -benchtime "${BENCHTIME_MASK:-5x}" ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
echo "== real model cost: FLOP-faithful stand-ins (inswapper_128 175 GMAC, simswap_256 63, simswap_unofficial_512 133, gfpgan_1.4 198; generated once into ~/.cache/swapd/standins)"
echo "   per face at native size and 2x pixel boost; model-% = share of the face's time inside ONNX Runtime"
go test -run '^$' -bench 'SwapCost|EnhanceCost' -benchtime "${BENCHTIME_COST:-2x}" -timeout 60m ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
echo "   video with the faithful inswapper_128: 4 frames of the five-person clip, every face"
go test -run '^$' -bench 'VideoCost' -benchtime 1x -timeout 60m ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
echo "== CPU-side ceiling of the video pipeline (zero-cost detector and swapper, 5 faces a frame) vs libx264 veryfast on the same frames"
go test -run '^$' -bench 'VideoCPUCeiling' -benchtime "${BENCHTIME_CEILING:-2x}" ./pkg/faceswap/ 2>&1 | grep -E '^(Benchmark|FAIL)' || true
fi

echo "== stack: submit → webhook, worker stages, submit latency, RSS"
tmp="$(mktemp -d)"; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rp=$(free_port); mp=$(free_port); cp=$(free_port); ap=$(free_port)
redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 & pids+=($!); stack=($!)
MINIO_ROOT_USER=bench MINIO_ROOT_PASSWORD=bench-secret-key "$SWAPD_MINIO_BIN" server "$tmp/minio" --address "127.0.0.1:$mp" --console-address "127.0.0.1:$cp" >"$tmp/minio.log" 2>&1 & pids+=($!); stack+=($!)
go run ./internal/onnxgen/cmd/onnxgen -out "$tmp/models" >/dev/null
export SWAPD_REDIS_URL="redis://127.0.0.1:$rp/0" SWAPD_S3_ENDPOINT="127.0.0.1:$mp" SWAPD_S3_ACCESS_KEY=bench SWAPD_S3_SECRET_KEY=bench-secret-key
export SWAPD_ADDR="127.0.0.1:$ap" SWAPD_API_KEYS=sk_bench SWAPD_ADMIN_KEYS=sk_bench_admin SWAPD_RATE_LIMIT=0 SWAPD_MAX_IN_FLIGHT=0 SWAPD_ALLOW_PRIVATE=localhost SWAPD_LOG_LEVEL=warn
export SWAPD_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
export SWAPD_MODELS_DIR="$tmp/models" SWAPD_DETECTOR_MODEL="$TD/models/scrfd_500m.onnx" SWAPD_RECOGNIZER_MODEL="$TD/models/arcface_compat_512.onnx"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$mp/minio/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
bin/worker >"$tmp/worker.log" 2>&1 & wpid=$!; pids+=($wpid)
bin/api >"$tmp/api.log" 2>&1 & apid=$!; pids+=($apid); stack+=($wpid $apid)
for _ in $(seq 1 100); do curl -fs "http://$SWAPD_ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
rss() { awk '/VmRSS|VmHWM/ {printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$1/status"; }
echo "idle RSS: api [$(rss $apid)] worker [$(rss $wpid)]"
[ -n "${BENCH_QUEUE_ONLY:-}" ] || SWAPD_URL="http://$SWAPD_ADDR" SWAPD_API_KEY=sk_bench bin/swapctl bench \
  -source "$TD/faces/astronaut.png" -target "$TD/faces/grace_hopper.jpg" -jobs "${BENCH_JOBS:-20}" -submits "${BENCH_SUBMITS:-500}"
echo "after load RSS: api [$(rss $apid)] worker [$(rss $wpid)]"

# The peer: FastAPI + Celery + Redis (bench/peer), its own Redis, on the same machine,
# driven by the same load generator (internal/loadgen) as swapd's probe jobs.
PY=/usr/bin/python3
if ! $PY -c 'import fastapi, uvicorn, celery, redis, requests' 2>/dev/null; then
  echo "installing the peer's Debian packages"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq python3-fastapi python3-uvicorn python3-celery python3-redis python3-requests >/dev/null
fi
prp=$(free_port); pp=$(free_port)
redis-server --port "$prp" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/peer-redis.log" 2>&1 & pids+=($!); peer=($!)
export PEER_REDIS_URL="redis://127.0.0.1:$prp/0"
(cd bench/peer && exec $PY -m uvicorn app:app --host 127.0.0.1 --port "$pp" --workers "$(nproc)" --log-level warning) >"$tmp/peer-api.log" 2>&1 & pids+=($!); peer+=($!)
(cd bench/peer && exec $PY -m celery -A tasks worker -c "${PEER_CONCURRENCY:-8}" -n peer@%h --loglevel=WARNING) >"$tmp/peer-worker.log" 2>&1 & pids+=($!); peer+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$pp/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
sleep 3 # the Celery worker connects
# Each system's processes (and their children: uvicorn's and Celery's workers) are
# stopped while the other is measured, so an idle stack's CPU is not charged to the other.
tree() { local p; for p in "$@"; do echo "$p"; tree $(pgrep -P "$p" || true); done; }
probe() { SWAPD_URL="http://$SWAPD_ADDR" SWAPD_API_KEY=sk_bench bin/swapctl bench -peer "http://127.0.0.1:$pp" \
  -pause-swapd "$(tree "${stack[@]}" | paste -sd,)" -pause-peer "$(tree "${peer[@]}" | paste -sd,)" "$@"; }
echo "== queue: probe jobs (API → Redis → worker slot → record → signed webhook, no inference) against swapd and the FastAPI + Celery peer"
echo "   swapd: SWAPD_WAKE_WAIT=${SWAPD_WAKE_WAIT:-default} SWAPD_POLL_INTERVAL=${SWAPD_POLL_INTERVAL:-default} SWAPD_WEBHOOK_DIRECT=${SWAPD_WEBHOOK_DIRECT:-default}; peer: uvicorn $(nproc) workers, celery -c ${PEER_CONCURRENCY:-8}; each stack stopped (SIGSTOP) while the other runs"
probe -probes "${BENCH_OPEN_PROBES:-1000}" -rate "${BENCH_RATE:-200}" || true
probe -probes "${BENCH_MAX_PROBES:-2000}" -parallel "${BENCH_CLIENTS:-32}" -repeat "${BENCH_REPEAT:-3}" || true # three swapd/peer pairs and their medians: the machine is noisy
echo "after probes RSS: api [$(rss $apid)] worker [$(rss $wpid)]"

# Idle cost: Redis commands per second and CPU of idle workers, each fleet on a Redis of
# its own (so nothing else talks to it), measured over a window after the fleet settles.
# The measured stacks are stopped first (all but MinIO, which the fleets use): their own
# idle work would share the 2 cores with the fleet and inflate its figures.
kill $(tree "${stack[0]}" "${stack[@]:2}" "${peer[@]}") 2>/dev/null || true; sleep 2
TCK=$(getconf CLK_TCK); WIN="${BENCH_IDLE_WINDOW:-30}"
ticks() { local t=0 q; for p in "$@"; do for q in "$p" $(pgrep -P "$p" || true); do [ -r "/proc/$q/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$q/stat"))); done; done; echo "$t"; }
cmds() { redis-cli -p "$1" info stats | awk -F: '/^total_commands_processed/ {print $2+0}'; }
idle() { # label redis-port pids...
  local label=$1 port=$2; shift 2
  local c0 t0 c1 t1; c0=$(cmds "$port"); t0=$(ticks "$@"); sleep "$WIN"; c1=$(cmds "$port"); t1=$(ticks "$@")
  awk -v l="$label" -v n=$# -v c=$((c1 - c0 - 1)) -v t=$((t1 - t0)) -v k="$TCK" -v w="$WIN" 'BEGIN {
    printf "  %-44s Redis %7.1f commands/s; CPU %5.2f%% of a core per worker (%.2f%% all %d)\n", l, c / w, 100 * t / k / w / n, 100 * t / k / w, n }'
}
fresh_redis() { fleet_port=$(free_port); redis-server --port "$fleet_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >/dev/null 2>&1 & pids+=($!); fleet_redis_pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$fleet_port" ping >/dev/null 2>&1 && break; sleep 0.1; done; }
swapd_fleet() { # label n extra-env...
  local label=$1 n=$2; shift 2; local port fp=() i
  fresh_redis; port=$fleet_port; local rpid=$fleet_redis_pid
  for i in $(seq 1 "$n"); do
    env SWAPD_REDIS_URL="redis://127.0.0.1:$port/0" "$@" bin/worker -metrics-addr= >"$tmp/fleet-$i.log" 2>&1 & fp+=($!)
  done
  for i in $(seq 1 "$n"); do for _ in $(seq 1 600); do grep -q "swapd worker running" "$tmp/fleet-$i.log" && break; sleep 0.1; done; done
  sleep "${BENCH_SWAPD_SETTLE:-5}" # past the start's own work (model warm-up, the first GC and scavenging)
  idle "$label" "$port" "${fp[@]}"
  kill "${fp[@]}" 2>/dev/null; wait "${fp[@]}" 2>/dev/null || true; kill "$rpid"
}
peer_fleet() { # label n
  local label=$1 n=$2 port fp=() i
  fresh_redis; port=$fleet_port; local rpid=$fleet_redis_pid
  for i in $(seq 1 "$n"); do
    (cd bench/peer && PEER_REDIS_URL="redis://127.0.0.1:$port/0" exec $PY -m celery -A tasks worker -c 1 -n "idle$i@%h" --loglevel=WARNING) >"$tmp/peer-fleet-$i.log" 2>&1 & fp+=($!)
  done
  sleep "${BENCH_PEER_SETTLE:-8}"
  idle "$label" "$port" "${fp[@]}"
  kill "${fp[@]}" 2>/dev/null; wait "${fp[@]}" 2>/dev/null || true; kill "$rpid"
}
echo "== idle cost over ${WIN}s (an idle worker must cost at most 2% of a core)"
if [ "${BENCH_FLEETS:-1}" != 0 ]; then
  swapd_fleet "swapd, 1 worker (defaults)" 1
  swapd_fleet "swapd, 8 workers (defaults)" 8
  peer_fleet "peer, 1 celery worker (-c 1)" 1
  peer_fleet "peer, 8 celery workers (-c 1 each)" 8
fi
if [ -n "${BENCH_WAKE_SWEEP-1s 2s 5s}" ]; then
  echo "== idle cost of one swapd worker by SWAPD_WAKE_WAIT (how long an empty dequeue waits for a wake-up)"
  for w in ${BENCH_WAKE_SWEEP-1s 2s 5s}; do swapd_fleet "SWAPD_WAKE_WAIT=$w" 1 SWAPD_WAKE_WAIT="$w"; done
fi
if [ -n "${BENCH_POLL_SWEEP-250ms 100ms 50ms 20ms 10ms 5ms 50ms+100ms}" ]; then
  echo "== idle cost of one swapd worker polling only (SWAPD_WAKE_WAIT=0) by SWAPD_POLL_INTERVAL (p+s: SWAPD_SCHEDULED_POLL_INTERVAL=s too)"
  for p in ${BENCH_POLL_SWEEP-250ms 100ms 50ms 20ms 10ms 5ms 50ms+100ms}; do
    if [[ $p == *+* ]]; then swapd_fleet "SWAPD_POLL_INTERVAL=${p%%+*} SCHEDULED=${p#*+}" 1 SWAPD_WAKE_WAIT=0 SWAPD_POLL_INTERVAL="${p%%+*}" SWAPD_SCHEDULED_POLL_INTERVAL="${p#*+}"
    else swapd_fleet "SWAPD_POLL_INTERVAL=$p" 1 SWAPD_WAKE_WAIT=0 SWAPD_POLL_INTERVAL="$p"; fi
  done
fi
