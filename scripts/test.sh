#!/usr/bin/env bash
# README command 2: install what is missing, build, and run every test through ctest.
# Extra arguments go to ctest (e.g. -L unit, -LE slow).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build

# The vm tests need the kernels built for the suite (vm/build-kernels.sh: about 8 minutes
# of two cores the first time, cached after). When this selection of tests holds vm
# tests, that build starts now, niced, beside the host's tests; the vm tests wait for it
# (it holds a lock) and then find the kernels built. INFLIGHT_NO_KERNEL_BUILD=1 skips it.
kbuild=
stop_kbuild() {
  if [ -n "$kbuild" ] && kill -0 "$kbuild" 2>/dev/null; then
    kill -TERM -- "-$kbuild" 2>/dev/null || true
    wait "$kbuild" 2>/dev/null || true
  fi
}
trap stop_kbuild EXIT
trap 'stop_kbuild; exit 130' INT TERM
if [ -z "${INFLIGHT_NO_KERNEL_BUILD:-}" ] &&
  ctest -N -L vm "$@" 2>/dev/null | grep -q "^Total Tests: [1-9]"; then
  log=$PWD/build-kernels.log
  echo "test.sh: building the vm tests' kernels in the background (log: $log)"
  # The -kcov kernels (vm_kcov_test) come last: their tree is a second one, a whole kernel
  # build the first time.
  setsid nice -n 19 ../vm/build-kernels.sh correct gc-collects-nothing gc-skips-cycles \
    inflight-limit-ignored dgram-close-keeps-queue gc-frees-reachable correct-kcov \
    gc-skips-cycles-kcov >"$log" 2>&1 &
  kbuild=$!
fi
status=0
ctest --output-on-failure --timeout 900 "$@" || status=$?
exit $status
