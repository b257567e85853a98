#!/usr/bin/env bash
# Configures and builds inflight with clang (so the fuzzers link) into ./build.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${INFLIGHT_BUILD_DIR:-build}
# ccache, where installed, keeps rebuilds (and other checkouts of the tree) cheap; paths
# are made relative to the checkout so that two checkouts share cached objects.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=$PWD
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" "$@"
fi
ninja -C "$build"
