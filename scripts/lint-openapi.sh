#!/usr/bin/env bash
# lint-openapi.sh lints swapd's OpenAPI document with redocly and spectral, the tools
# client generators and API gateways are checked with, and fails on any error.
#
#   scripts/lint-openapi.sh        (make openapi-lint; make test runs it)
#
# The document is built from pkg/api without starting a server (the command
# internal/openapidoc writes it to bin/openapi.json). The linters are npm packages
# at pinned versions, installed once into $SWAPD_CACHE/npm-lint (default
# ~/.cache/swapd/npm-lint); a second run only checks the versions. Settings and the
# warnings kept on purpose, each with its reason: redocly.yaml, .redocly.lint-ignore.yaml
# and .spectral.yaml at the repository root.
set -euo pipefail
log() { echo "lint-openapi: $*" >&2; }
cd "$(dirname "$0")/.."

REDOCLY_VERSION="${SWAPD_REDOCLY_VERSION:-2.77.0}"
SPECTRAL_VERSION="${SWAPD_SPECTRAL_VERSION:-6.16.3}"
NPM_DIR="${SWAPD_CACHE:-$HOME/.cache/swapd}/npm-lint"

installed() { # package, version
  [ "$(node -p "require('$NPM_DIR/node_modules/$1/package.json').version" 2>/dev/null)" = "$2" ]
}
if ! installed @redocly/cli "$REDOCLY_VERSION" || ! installed @stoplight/spectral-cli "$SPECTRAL_VERSION"; then
  log "installing @redocly/cli@$REDOCLY_VERSION and @stoplight/spectral-cli@$SPECTRAL_VERSION into $NPM_DIR"
  mkdir -p "$NPM_DIR"
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error --save-exact \
    "@redocly/cli@$REDOCLY_VERSION" "@stoplight/spectral-cli@$SPECTRAL_VERSION" >&2
fi

doc=bin/openapi.json
mkdir -p bin
rm -f "$doc"
go run ./internal/openapidoc -o "$doc"
[ -s "$doc" ] || { log "the document was not written to $doc"; exit 1; }

status=0
log "redocly lint $doc"
# No telemetry and no update check: the lint runs the same offline.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1 \
  "$NPM_DIR/node_modules/.bin/redocly" lint "$doc" --config redocly.yaml --format stylish || status=1
log "spectral lint $doc"
"$NPM_DIR/node_modules/.bin/spectral" lint "$doc" --ruleset .spectral.yaml --fail-severity error || status=1
if [ "$status" != 0 ]; then
  log "the OpenAPI document has errors (above)"
fi
exit "$status"
