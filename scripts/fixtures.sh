#!/usr/bin/env bash
# fixtures.sh prints the directory holding the test fixtures (real faces, small real
# models, a real video), making sure every file in internal/fixtures/manifest.tsv is
# there with its sha256:
#
#   export SWAPD_TESTDATA="$(scripts/fixtures.sh)"
#
# SWAPD_TESTDATA when set, else ../shared/testdata when it exists, is used as it is
# (only checked). Otherwise each file is fetched from its public source (a GitHub file,
# an npm package through npm, a Debian package through apt-get download) into
# $SWAPD_CACHE/testdata (default ~/.cache/swapd/testdata). A file whose sha256 is not
# the manifest's is refused: the script exits 1 and says which.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/fixtures/fetch "$@"
