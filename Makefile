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

.PHONY: all build deps test vet compose-check openapi-lint run bench models clean

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

test: vet compose-check openapi-lint
	$(DEPS) && testdata="$$(scripts/fixtures.sh)" && export SWAPD_TESTDATA="$$testdata" && $(GO) test -count=1 -timeout 30m ./...

run: build
	@scripts/run.sh

models: build
	bin/swapctl models download --dir ./models

bench: build
	@scripts/bench.sh

clean:
	rm -rf bin data
