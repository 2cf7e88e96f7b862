# swapd — the two commands that matter:
#   make run    start Redis, MinIO, the API and a worker locally and print how to use them
#   make test   install what the tests need and run them all (CI runs this)

SHELL := /bin/bash
GO ?= go
DEPS = eval "$$(scripts/deps.sh)"
# Test fixtures: TESTDATA=DIR (or SWAPD_TESTDATA) names a directory; otherwise scripts/fixtures.sh
# uses ../shared/testdata when present, else fetches the files and checks their sha256 into a cache.
TESTDATA ?= $(SWAPD_TESTDATA)
export SWAPD_TESTDATA := $(if $(TESTDATA),$(abspath $(TESTDATA)))

.PHONY: all build deps test vet compose-check openapi-lint ops-check run bench models clean

all: build

build:
	$(GO) build -o bin/ ./cmd/...

deps:
	@scripts/deps.sh >/dev/null

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

compose-check:
	@$(DEPS) && SWAPD_API_KEYS=check SWAPD_ADMIN_KEYS=check-admin SWAPD_WEBHOOK_SECRET=check docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml: valid"

# redocly and spectral (npm, pinned, cached) over the OpenAPI document built from pkg/api;
# fails on errors.
openapi-lint:
	@scripts/lint-openapi.sh

# Operator files: the Prometheus alert rules (promtool check rules, and their unit tests
# in alerts_test.yml), the Kubernetes scrape config, and the Kubernetes manifests decoded
# strictly into the Kubernetes and KEDA Go types with their cross-references checked
# (deploy/k8s is a Go module of its own, so those types are no dependency of swapd).
# The dashboard's PromQL is checked by deploy/grafana's Go tests, part of `go test ./...`.
ops-check:
	@$(DEPS) && promtool check rules deploy/prometheus/alerts.yml && promtool test rules deploy/prometheus/alerts_test.yml && promtool check config --syntax-only deploy/prometheus/prometheus-k8s.yml
	cd deploy/k8s && $(GO) vet ./... && $(GO) test -count=1 ./...

test: vet compose-check openapi-lint ops-check
	$(DEPS) && testdata="$$(scripts/fixtures.sh)" && export SWAPD_TESTDATA="$$testdata" && $(GO) test -count=1 -timeout 30m ./...

run: build
	@scripts/run.sh

models: build
	bin/swapctl models download --dir ./models

bench: build
	@scripts/bench.sh

clean:
	rm -rf bin data
