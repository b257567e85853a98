#!/usr/bin/env bash
# Boot-to-verdict of `inflight vm`, as figures and ratios measured in the same run: the
# corpus inside a VM against the same corpus on this host, and the whole VM against its
# boot. Asserts nothing; not a ctest (each kernel boots REPEAT times).
#
# Usage: bench/vm_bench.sh [KERNEL_SPEC...]
#   KERNEL_SPEC: a Debian package name (fetched with vm/fetch-kernel.sh) or a bzImage path.
#   Default: the two Debian kernels the vm tests use.
# Environment: BUILD (default ./build), REPEAT (default 3), ARGS (default: run corpus),
#   VMOPTS (extra inflight vm options, e.g. "--cpus 2").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
repeat=${REPEAT:-3}
args=${ARGS:-run corpus}
cli=$build/cli/inflight
[ -x "$cli" ] || { echo "vm_bench: build first ($cli missing)" >&2; exit 3; }
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(linux-image-6.1.0-56-cloud-amd64 linux-image-6.12.117+deb12-cloud-amd64)
tmp=$(mktemp -d /tmp/inflight-vm-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { python3 -c 'import sys,statistics; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# The same arguments on this host, for the ratio.
host=()
for i in $(seq "$repeat"); do
  # shellcheck disable=SC2086
  "$cli" $args -q --report "$tmp/host" >/dev/null 2>&1 || true
  host+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration_s"])' "$tmp/host/report.json")")
done
host_s=$(median "${host[@]}")
echo "host ($(uname -r)): inflight $args: ${host_s} s (median of $repeat)"
printf '%-42s %7s %7s %7s %7s %9s %9s\n' kernel boot suite verdict total suite/host verdict/boot

for spec in "${specs[@]}"; do
  modules=()
  if [ -f "$spec" ]; then
    kernel=$spec
  else
    root=$(vm/fetch-kernel.sh "$spec")
    kernel=$(ls "$root"/boot/vmlinuz-*)
    modules=(--modules "$root")
  fi
  boot=() suite=() verdict=() total=()
  for i in $(seq "$repeat"); do
    # shellcheck disable=SC2086
    "$cli" vm -q --kernel "$kernel" "${modules[@]}" ${VMOPTS:-} --report "$tmp/vm" -- $args \
      >/dev/null 2>&1 || true
    read -r b s v t < <(python3 -c '
import json,sys
t = json.load(open(sys.argv[1]))["vm"]["timings_s"]
print(t["boot"], t["suite"], t["boot_to_verdict"], t["total"])' "$tmp/vm/report.json")
    boot+=("$b") suite+=("$s") verdict+=("$v") total+=("$t")
  done
  b=$(median "${boot[@]}") s=$(median "${suite[@]}") v=$(median "${verdict[@]}") t=$(median "${total[@]}")
  printf '%-42s %7s %7s %7s %7s %9s %9s\n' "$(basename "$kernel")" "$b" "$s" "$v" "$t" \
    "$(python3 -c "print('%.2f' % ($s / $host_s))")" "$(python3 -c "print('%.2f' % ($v / $b))")"
done
echo "(seconds, medians of $repeat; boot: QEMU start to the init's hello; suite: the suite's"
echo " start to its end in the guest; verdict: QEMU start to the exit status on the host;"
echo " load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
