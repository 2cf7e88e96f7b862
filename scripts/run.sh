#!/usr/bin/env bash
# run.sh starts a complete local swapd: Redis and MinIO (unless SWAPD_REDIS_URL /
# SWAPD_S3_ENDPOINT point at existing ones; data under ./data), the worker and the API.
# Ctrl-C stops everything it started. Called by `make run`.
#
# Models: the production models are downloaded into ./models with `swapctl models
# download` (checksummed). With SWAPD_MODEL_SET=test, or when the download fails and the
# test fixtures are present, it runs on the small test models instead (real detector and
# recognizer, generated swapper) so the service can be tried without the 700 MB download.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/deps.sh)"
mkdir -p data/redis data/minio
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# Secrets persist across runs so clients and receivers keep working. The tenant key
# submits jobs; the operator (admin) key is the only one that opens the dashboard and
# /metrics.
genkey() { echo "$1_$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; }
if [ ! -f data/secrets.env ]; then
  {
    echo "SWAPD_API_KEYS=$(genkey sk)"
    echo "SWAPD_WEBHOOK_SECRET=whsec_$(head -c 32 /dev/urandom | base64)"
  } > data/secrets.env
  chmod 600 data/secrets.env
fi
grep -q '^SWAPD_ADMIN_KEYS=' data/secrets.env || echo "SWAPD_ADMIN_KEYS=$(genkey sk_admin)" >> data/secrets.env
set -a; . data/secrets.env; set +a

if [ -z "${SWAPD_REDIS_URL:-}" ]; then
  port="${SWAPD_REDIS_PORT:-6379}"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$PWD/data/redis" --appendonly yes --save "" >data/redis.log 2>&1 &
  pids+=($!)
  export SWAPD_REDIS_URL="redis://127.0.0.1:$port/0"
fi
if [ -z "${SWAPD_S3_ENDPOINT:-}" ]; then
  export MINIO_ROOT_USER="${SWAPD_S3_ACCESS_KEY:-minioadmin}" MINIO_ROOT_PASSWORD="${SWAPD_S3_SECRET_KEY:-minioadmin}"
  # MinIO's built-in KMS key (kept next to the data it protects, never in git): with it the
  # bucket gets SSE-S3 default encryption, so inputs and outputs are encrypted at rest.
  [ -s data/minio-kms.key ] || (umask 077 && echo "swapd-local:$(head -c 32 /dev/urandom | base64)" > data/minio-kms.key)
  MINIO_KMS_SECRET_KEY="$(cat data/minio-kms.key)" \
    "$SWAPD_MINIO_BIN" server "$PWD/data/minio" --address 127.0.0.1:9000 --console-address 127.0.0.1:9001 >data/minio.log 2>&1 &
  pids+=($!)
  export SWAPD_S3_ENDPOINT=127.0.0.1:9000
fi

export SWAPD_MODELS_DIR="${SWAPD_MODELS_DIR:-$PWD/models}"
use_test_models() {
  local td="${SWAPD_TESTDATA:-../shared/testdata}"
  [ -d "$td/models" ] || { echo "run: no models and no test fixtures at $td" >&2; exit 1; }
  mkdir -p data/test-models
  go run ./internal/onnxgen/cmd/onnxgen -out data/test-models >/dev/null
  export SWAPD_DETECTOR_MODEL="$(cd "$td/models" && pwd)/scrfd_500m.onnx"
  export SWAPD_RECOGNIZER_MODEL="$(cd "$td/models" && pwd)/arcface_compat_512.onnx"
  export SWAPD_SWAPPER_MODEL="$PWD/data/test-models/inswapper_128.onnx"
  export SWAPD_ENHANCER_MODELS="gfpgan_1.4=$PWD/data/test-models/gfpgan_1.4.onnx,codeformer=$PWD/data/test-models/codeformer.onnx,gpen_bfr_256=$PWD/data/test-models/gpen_bfr_256.onnx,gpen_bfr_512=$PWD/data/test-models/gpen_bfr_512.onnx"
  local m="$PWD/data/test-models"
  export SWAPD_OCCLUDER_MODELS="xseg_1=$m/xseg_1.onnx,xseg_2=$m/xseg_2.onnx,xseg_3=$m/xseg_3.onnx"
  export SWAPD_PARSER_MODELS="bisenet_resnet_18=$m/bisenet_resnet_18.onnx,bisenet_resnet_34=$m/bisenet_resnet_34.onnx"
  export SWAPD_LANDMARKER_MODELS="2dfan4=$m/2dfan4.onnx,fan_68_5=$m/fan_68_5.onnx"
  echo "run: using the small TEST models (results are not a real face swap)" >&2
}
if [ "${SWAPD_MODEL_SET:-}" = test ]; then
  use_test_models
elif ! bin/swapctl models download -dir "$SWAPD_MODELS_DIR"; then
  echo "run: model download failed; falling back to the test models" >&2
  use_test_models
fi

bin/worker & pids+=($!)
bin/api & pids+=($!)
addr="${SWAPD_ADDR:-127.0.0.1:8080}"
for _ in $(seq 1 100); do curl -fs "http://$addr/readyz" >/dev/null 2>&1 && break; sleep 0.3; done
key="${SWAPD_API_KEYS%%,*}"
admin="${SWAPD_ADMIN_KEYS%%,*}"
cat <<MSG

  swapd is running
    API        http://$addr
    API key    $key   (a tenant key: submits jobs, sees only its own)
    admin key  $admin   (operators only: dashboard and /metrics)
    dashboard  http://$addr/monitoring/   (user: anything, password: the admin key)
    secrets    data/secrets.env (keys, and the webhook secret for verifying signatures)

  try:
    curl -s -H "Authorization: Bearer $key" -F source=@me.jpg -F target=@photo.jpg http://$addr/v1/jobs
    SWAPD_API_KEY=$key bin/swapctl swap -source me.jpg -target photo.jpg -out result.jpg

  Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
