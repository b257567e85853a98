#!/usr/bin/env bash
# Time to first finding of `inflight vm -- fuzz` inside a TCG guest, median of REPEAT, on
# the suite's kernels (vm/build-kernels.sh), each from seeds without the bug's shape, and
# the guest's execs/s (on the correct kernel: a run of DURATION without finding). The time
# is the finding's first_seen_s: seconds of fuzzing, from the workers' start (boot and
# seeding not counted). "-": nothing found within DURATION. Asserts nothing; not a ctest.
#
# Usage: bench/vm_fuzz_bench.sh [VARIANT...]   (default: gc-skips-cycles gc-collects-nothing
#   pristine, and correct for execs/s)
# Environment: BUILD (default ./build), REPEAT (default 3), DURATION (the longest a run
#   may fuzz, default 10m), VMOPTS (extra inflight vm options, e.g. "--cpus 2").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
repeat=${REPEAT:-3}
duration=${DURATION:-10m}
cli=$build/cli/inflight
[ -x "$cli" ] || { echo "vm_fuzz_bench: build first ($cli missing)" >&2; exit 3; }
[ -x "$build/cli/static/graph_fuzzer" ] || { echo "vm_fuzz_bench: no static graph_fuzzer" >&2; exit 3; }
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(gc-skips-cycles gc-collects-nothing pristine correct)
tmp=$(mktemp -d /tmp/inflight-vm-fuzz-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
c=$PWD/corpus

# Seeds without the shape each bug leaks.
seeds_for() {
  case $1 in
    gc-skips-cycles)      # cycles of two or more sockets: a self-reference is still freed
      echo "--seeds $c/self_ref_stream.scn --seeds $c/closed_in_flight_not_cycle.scn --seeds $c/dup_in_flight.scn --seeds $c/inflight_pipe_ends.scn" ;;
    gc-collects-nothing)  # any garbage cycle, a self-reference too
      echo "--seeds $c/closed_in_flight_not_cycle.scn --seeds $c/embryo_accept_with_rights.scn" ;;
    pristine)             # the scc_index leak: nested cycles
      echo "--exclude mixed_lowpoint_stream nested_cycles_gc_midway nested_cycles_figure8" ;;
    *) echo "" ;;
  esac
}

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:] if x!="-"]; print("%.0f" % statistics.median(v) if v else "-")' "$@"; }

printf '%-22s %-28s %s\n' kernel "first finding, s (median)" "runs (s), guest execs/s"
for v in "${variants[@]}"; do
  kernel=$(vm/build-kernels.sh --print "$v" | tail -1)
  ttff=() detail=""
  for i in $(seq "$repeat"); do
    out=$tmp/$v-$i
    # shellcheck disable=SC2046,SC2086
    "$cli" vm --accel tcg --kernel "$kernel" -q --report "$out" ${VMOPTS:-} -- \
      fuzz -q --repro 0 --stop-at-first --duration "$duration" --libfuzzer-arg=-seed=$((i * 7)) $(seeds_for "$v") \
      >"$out.log" 2>&1 || true
    t=$(python3 - "$out/report.json" "$v" <<'PY'
import json, sys
try:
    f = json.load(open(sys.argv[1])).get("fuzz", {})
except (OSError, ValueError):
    f = {}
first = [x["first_seen_s"] for x in f.get("findings", []) if x.get("first_seen_s", -1) >= 0]
print("%.0f" % min(first) if first else "-", "%.1f" % f.get("execs_per_s", 0))
PY
)
    ttff+=("${t%% *}")
    detail+=" ${t%% *} (${t##* }/s)"
  done
  printf '%-22s %-28s %s\n' "$v" "$(median "${ttff[@]}")" "$detail"
done
