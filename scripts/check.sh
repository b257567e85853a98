#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job on this kernel:
# the oracle's selftest, the whole seed corpus in both modes, a stress smoke and a fuzz
# smoke, then a verdict and a report in ./inflight-report. Extra arguments go to
# `inflight check`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/cli/inflight check "$@"
