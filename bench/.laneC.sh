#!/usr/bin/env bash
# Fuzzing inside TCG guests, as figures measured in the same run. Three parts:
#
#  ttff   Time to first finding of `inflight vm -- fuzz --stop-at-first`, median of REPEAT,
#         per kernel, each from seeds without the bug's shape. A variant V fuzzes the plain
#         kernel bzImage-V unguided (pipelined); V-kcov fuzzes bzImage-V-kcov guided by KCOV
#         (guided: each input waits for its graph's coverage, credited to it, and settles
#         while the next one runs);
#         "debian" is Debian's 6.12.117 (vm/fetch-kernel.sh; the real scc_index leak),
#         unguided. The time is the finding's first_seen_s: seconds of fuzzing from the
#         workers' start (boot and seeding not counted). "-": nothing within DURATION.
#  execs  Guest execs/s of `fuzz` against guest runs/s of `inflight run` over the same
#         graphs (the fuzz's seeds, the corpus), on bzImage-correct and, guided, on
#         bzImage-correct-kcov: the ratio is the harness's cost per graph (target >= 0.5).
#  lines  Lines of net/unix/garbage.c reached on bzImage-correct-kcov: by the seed corpus,
#         and by the seeds plus LINES_DURATION of fuzzing (one run; `inflight cover`).
#
# Usage: bench/vm_fuzz_bench.sh [ttff VARIANT... | execs | lines]
#   (default: ttff gc-skips-cycles gc-skips-cycles-kcov gc-collects-nothing
#   gc-collects-nothing-kcov peek-no-barrier peek-no-barrier-kcov gc-frees-reachable
#   dgram-close-keeps-queue ctrunc-keeps-dropped-rights epipe-keeps-rights
#   listener-close-leaks-embryos debian; inflight-limit-ignored is left out: its bug is a
#   send that succeeds, which only a scenario's expect= can rule, and fuzzer bytes carry none)
# Environment: BUILD (default ./build), REPEAT (default 3), DURATION (the longest a ttff
#   run may fuzz, default 10m), VMOPTS (extra inflight vm options for every run; the
#   peek-no-barrier kernels always get --cpus 2: the race needs two CPUs), FUZZOPTS (extra
#   inflight fuzz options for every ttff run, e.g. "--mode free"), EXEC_DURATION
#   (default 60s), LINES_DURATION (default 5m). Asserts nothing; not a ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
repeat=${REPEAT:-3}
duration=${DURATION:-10m}
cli=$build/cli/inflight
[ -x "$cli" ] || { echo "vm_fuzz_bench: build first ($cli missing)" >&2; exit 3; }
[ -x "$build/cli/static/graph_fuzzer" ] || { echo "vm_fuzz_bench: no static graph_fuzzer" >&2; exit 3; }
mode=ttff
case ${1:-} in ttff | execs | lines) mode=$1; shift ;; esac
tmp=$(mktemp -d /tmp/inflight-vm-fuzz-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
c=$PWD/corpus
debian_pkg=linux-image-6.12.117+deb12-cloud-amd64

# Seeds without the shape each bug leaks (by the variant's base name).
seeds_for() {
  case ${1%-kcov} in
    gc-skips-cycles)      # cycles of two or more sockets: a self-reference is still freed
      echo "--seeds $c/self_ref_stream.scn --seeds $c/closed_in_flight_not_cycle.scn --seeds $c/dup_in_flight.scn --seeds $c/inflight_pipe_ends.scn" ;;
    gc-collects-nothing)  # any garbage cycle, a self-reference too
      echo "--seeds $c/closed_in_flight_not_cycle.scn --seeds $c/embryo_accept_with_rights.scn" ;;
    peek-no-barrier)      # no MSG_PEEK of rights at all
      echo "--exclude kill_holder_of_peeked peek_copies_of_every_kind peek_race_two_procs peek_then_close" ;;
    gc-frees-reachable)   # a live socket's cycle: what the collector must spare
      echo "--exclude gc_spares_live_cycles cycle_reachable_from_live" ;;
    dgram-close-keeps-queue)  # no dgram socket at all (any dgram queue closed with rights in it)
      local f
      for f in "$c"/*.scn; do grep -q dgram "$f" || printf -- '--seeds %s ' "$f"; done ;;
    ctrunc-keeps-dropped-rights)  # no short control buffer, no descriptor limit on a receive
      local f
      for f in "$c"/*.scn; do grep -qE 'ctrunc|cbuf|nofile' "$f" || printf -- '--seeds %s ' "$f"; done ;;
    epipe-keeps-rights)   # no shutdown at all (a send refused with EPIPE needs one)
      local f
      for f in "$c"/*.scn; do grep -qE 'shutdown|EPIPE' "$f" || printf -- '--seeds %s ' "$f"; done ;;
    listener-close-leaks-embryos)  # no listener closed with a connection pending: no
      # listener at all, or every connection accepted (as many accepts as connects)
      local f
      for f in "$c"/*.scn; do
        if ! grep -q ' listen ' "$f" ||
          [ "$(grep -c ' connect ' "$f")" -le "$(grep -c '= accept ' "$f")" ]; then
          printf -- '--seeds %s ' "$f"
        fi
      done ;;
    pristine | debian)    # the scc_index leak: nested cycles
      echo "--exclude mixed_lowpoint_stream nested_cycles_gc_midway nested_cycles_figure8" ;;
    *) echo "" ;;
  esac
}

# The kernel options of `inflight vm` for a variant.
kernel_for() {
  case $1 in
    debian)
      local root
      root=$(vm/fetch-kernel.sh "$debian_pkg") || return 1
      echo "--kernel $(ls "$root"/boot/vmlinuz-* | head -1) --modules $root" ;;
    *) echo "--kernel $(vm/build-kernels.sh --print "$1" | tail -1)" ;;
  esac
}

vmopts_for() {
  case $1 in peek-no-barrier*) echo "--cpus 2 ${VMOPTS:-}" ;; *) echo "${VMOPTS:-}" ;; esac
}

# A run that found nothing counts as longer than any that did ("-": the median is a miss).
median() { python3 -c 'import sys,statistics; v=sorted(float("inf") if x=="-" else float(x) for x in sys.argv[1:]); m=statistics.median_low(v) if v else float("inf"); print("-" if m==float("inf") else "%.0f" % m)' "$@"; }

fuzz_figures() {  # report.json -> "first_seen_s execs/s kernel-pcs"
  python3 - "$1" <<'PY'
import json, sys
try:
    f = json.load(open(sys.argv[1])).get("fuzz", {})
except (OSError, ValueError):
    f = {}
first = [x["first_seen_s"] for x in f.get("findings", []) if x.get("first_seen_s", -1) >= 0]
k = f.get("kernel_pcs") or {}
print("%.0f" % min(first) if first else "-", "%.1f" % f.get("execs_per_s", 0), k.get("distinct", "-"))
PY
}

ttff() {
  local variants=("$@")
  [ ${#variants[@]} -gt 0 ] || variants=(gc-skips-cycles gc-skips-cycles-kcov gc-collects-nothing
    gc-collects-nothing-kcov peek-no-barrier peek-no-barrier-kcov gc-frees-reachable
    dgram-close-keeps-queue ctrunc-keeps-dropped-rights epipe-keeps-rights
    listener-close-leaks-embryos debian)
  echo "time to first finding: REPEAT=$repeat, cap DURATION=$duration per run, --stop-at-first ${FUZZOPTS:-}"
  printf '%-26s %-8s %-12s %s\n' kernel guided "first, s" "runs: s (guest execs/s, kernel PCs)"
  for v in "${variants[@]}"; do
    local kopts guided=no ttff=() detail=""
    kopts=$(kernel_for "$v") || { printf '%-26s not measured: kernel unavailable\n' "$v"; continue; }
    [ "${v%-kcov}" = "$v" ] || guided=KCOV
    for i in $(seq "$repeat"); do
      local out=$tmp/$v-$i
      # shellcheck disable=SC2046,SC2086
      "$cli" vm --accel tcg $kopts -q --report "$out" $(vmopts_for "$v") -- \
        fuzz -q --repro 0 --stop-at-first --duration "$duration" --libfuzzer-arg=-seed=$((i * 7)) ${FUZZOPTS:-} $(seeds_for "$v") \
        >"$out.log" 2>&1 || true
      local t
      t=$(fuzz_figures "$out/report.json")
      set -- $t
      ttff+=("$1")
      detail+=" $1 ($2/s, $3)"
    done
    printf '%-26s %-8s %-12s %s\n' "$v" "$guided" "$(median "${ttff[@]}")" "$detail"
  done
}

execs() {
  local d=${EXEC_DURATION:-60s}
  echo "guest execs/s (fuzz --duration $d, seeded from the corpus) against guest runs/s (run corpus)"
  printf '%-22s %-8s %12s %12s %8s\n' kernel guided "fuzz execs/s" "run runs/s" ratio
  for v in correct correct-kcov; do
    local kopts guided=no
    kopts=$(kernel_for "$v")
    [ "${v%-kcov}" = "$v" ] || guided=KCOV
    # shellcheck disable=SC2086
    "$cli" vm --accel tcg $kopts -q --report "$tmp/run-$v" ${VMOPTS:-} -- run "$c" -q >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    "$cli" vm --accel tcg $kopts -q --report "$tmp/fuzz-$v" ${VMOPTS:-} -- fuzz -q --repro 0 --duration "$d" >/dev/null 2>&1 || true
    python3 - "$tmp/run-$v/report.json" "$tmp/fuzz-$v/report.json" "$v" "$guided" <<'PY'
import json, sys
def load(p):
    try: return json.load(open(p))
    except (OSError, ValueError): return {}
r, f = load(sys.argv[1]), load(sys.argv[2])
runs = len(r.get("runs", []))
dur = r.get("vm", {}).get("timings_s", {}).get("suite") or r.get("duration_s", 0)  # the guest suite
rps = runs / dur if runs and dur else 0
eps = f.get("fuzz", {}).get("execs_per_s", 0)
print("%-22s %-8s %12.1f %12.1f %8s" % (sys.argv[3], sys.argv[4], eps, rps,
      "%.2f" % (eps / rps) if rps else "-"))
PY
  done
}

lines() {
  local d=${LINES_DURATION:-5m} v=correct-kcov kopts vmlinux
  kopts=$(kernel_for "$v")
  vmlinux=$(dirname "${kopts#--kernel }")/vmlinux-$v
  # shellcheck disable=SC2086
  "$cli" vm --accel tcg $kopts -q --report "$tmp/lines" ${VMOPTS:-} -- fuzz -q --repro 0 --duration "$d" >/dev/null 2>&1 || true
  "$cli" cover "$tmp/lines" --vmlinux "$vmlinux" >/dev/null
  python3 - "$tmp/lines/cover.json" "$tmp/lines/report.json" "$d" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2])).get("fuzz", {})
g = next((x for x in c["files"] if x["file"] == "net/unix/garbage.c"), None)
print("lines of net/unix/garbage.c with a KCOV call site, reached (fuzz of %s: %.0f s, %d execs)" % (sys.argv[3], f.get("seconds", 0), f.get("execs", 0)))
if g is None:
    print("  garbage.c: no call site mapped")
else:
    s, z = len(g["lines_seed"]), len(g["lines_fuzz"])
    print("  instrumented lines %d; seed corpus %d; seeds + fuzzing %d (+%d)" % (g["lines"], s, s + z, z))
    fns = [fn["name"] for fn in g["functions"] if fn["pcs_seed"] + fn["pcs_fuzz"] > 0]
    print("  functions reached: %s" % ", ".join(fns))
print("  all covered files: %d PCs, seeds %d, +fuzzing %d" % (c["pcs"], c["pcs_seed"], c["pcs_fuzz"]))
PY
}

"$mode" "$@"
