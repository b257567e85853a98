#!/usr/bin/env bash
# Settle latency: how long the oracle settles a run whose garbage only the collector can
# free, until it is proven clean or proven a leak (probe/settle.h), as p50/p99 on this
# host idle, on this host loaded by `stress-ng --cpu 4`, and inside a TCG guest per
# kernel given. Also the clean-at-once share. Prints figures, asserts nothing; not a
# ctest (the guests take minutes).
#
# Usage: bench/settle_bench.sh [KERNEL_SPEC...]
#   KERNEL_SPEC: a bzImage path or a Debian package name (vm/fetch-kernel.sh).
#   Default: none (host only).
# Environment: BUILD (default ./build), REPEAT (runs per scenario and mode, default 20),
#   SCENARIOS (default: the corpus), VMOPTS (extra inflight vm options), LOAD (0: skip
#   the loaded-host row).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
repeat=${REPEAT:-20}
scenarios=${SCENARIOS:-corpus}
cli=$build/cli/inflight
[ -x "$cli" ] || { echo "settle_bench: build first ($cli missing)" >&2; exit 3; }
tmp=$(mktemp -d /tmp/inflight-settle-bench.XXXXXX)
load_pid=
cleanup() {
  [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# p50/p99 of settle times (ms) per outcome, from report.json.
summarize() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
label, path = sys.argv[1], sys.argv[2]
rep = json.load(open(path))
runs = rep.get("runs", [])
by = {}
for r in runs:
    by.setdefault(r.get("settle", "?"), []).append(r.get("timings_us", {}).get("settle", 0) / 1000.0)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))] if v else float("nan")
at_once = len(by.get("clean-at-once", []))
cells = []
for k in ("clean-after-settling", "dirty", "unsettled"):
    v = by.get(k, [])
    cells.append("%5d %8.1f %8.1f" % (len(v), q(v, .5), q(v, .99)) if v else "%5d %8s %8s" % (0, "-", "-"))
print("%-34s %6d %6d | %s" % (label, len(runs), at_once, " | ".join(cells)))
EOF
}

echo "settle times in ms: runs settled clean, proven leaks, unsettled (n p50 p99 each)"
printf '%-34s %6s %6s | %-24s | %-24s | %-24s\n' where runs atonce clean-after-settling \
  "dirty (proven leak)" unsettled

run_host() {
  "$cli" run "$scenarios" --repeat "$repeat" --mode both -q --report "$tmp/$1" >/dev/null 2>&1 || true
  summarize "$2" "$tmp/$1/report.json"
}

run_host host "host $(uname -r)"
if [ "${LOAD:-1}" != 0 ] && command -v stress-ng >/dev/null; then
  stress-ng --cpu 4 --timeout 3600 >/dev/null 2>&1 &
  load_pid=$!
  run_host loaded "host, stress-ng --cpu 4"
  kill "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  load_pid=
fi

for spec in "$@"; do
  modules=()
  if [ -f "$spec" ]; then
    kernel=$spec
  else
    root=$(vm/fetch-kernel.sh "$spec") || continue
    kernel=$(ls "$root"/boot/vmlinuz-*)
    modules=(--modules "$root")
  fi
  # shellcheck disable=SC2086
  "$cli" vm --kernel "$kernel" "${modules[@]}" --accel tcg --timeout 60m ${VMOPTS:-} \
    --report "$tmp/vm" -- run "$scenarios" --repeat "$repeat" --mode both -q >/dev/null 2>&1 || true
  if [ -f "$tmp/vm/report.json" ]; then
    summarize "TCG $(basename "$spec")" "$tmp/vm/report.json"
  else
    echo "TCG $(basename "$spec"): no report"
  fi
done
