#!/usr/bin/env bash
# README command 2: install what is missing, build, and run every test through ctest.
# Extra arguments go to ctest (e.g. -L unit, -LE slow).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
exec ctest --output-on-failure --timeout 900 "$@"
