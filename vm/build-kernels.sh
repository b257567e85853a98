#!/usr/bin/env bash
# Builds Linux 6.12 from Debian's linux-source-6.12 with a minimal config (tinyconfig plus
# vm/kernel/inflight.config), in variants:
#   correct   Debian's source with vm/fixes/*.patch: a collector that frees every garbage
#             cycle. The baseline of every "never cry wolf" test in a VM.
#   pristine  Debian's source as shipped: it leaks nested-cycle SCCs (the scc_index bug).
#   NAME      `correct` plus vm/patches/NAME.patch: a bug planted in net/unix/, so that
#             `inflight gate` can be checked against kernels known to be broken.
#   V-kcov    any of those with KCOV (vm/kernel/kcov.config) on net/unix/, net/core/scm.c
#             and fs/file.c only, for graph_fuzzer's kernel feedback in a guest. Built in a
#             second source tree ($INFLIGHT_KBUILD/linux-source-6.12-kcov), so the plain
#             variants are not reconfigured: the first costs a whole kernel build again.
#             Its vmlinux is kept beside it (vmlinux-V-kcov) for addr2line.
# The first build takes ~13 minutes on 2 cores; ccache and the incremental rebuild of
# net/unix make each further variant take a minute or two.
#
# Usage: vm/build-kernels.sh [--print] [VARIANT...]   (default: correct, pristine and every
#   patch). A variant whose bzImage was built from the same source, config and patches is
#   not built again. --print: print the path of each variant's bzImage on stdout.
#   One build at a time: a second invocation waits for the first (flock), then finds its
#   kernels built. Exit status: 0 built, 2 bad usage, 3 cannot build here.
# Environment: INFLIGHT_KBUILD (work folder, default ~/.cache/inflight/kbuild),
#   INFLIGHT_KERNELS_OUT (where bzImage-VARIANT go, default $INFLIGHT_KBUILD/out),
#   JOBS (make -j, default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
print=0
if [ "${1:-}" = --print ]; then
  print=1
  shift
fi
work=${INFLIGHT_KBUILD:-$HOME/.cache/inflight/kbuild}
out=${INFLIGHT_KERNELS_OUT:-$work/out}
jobs=${JOBS:-2}

say() { echo "build-kernels: $*" >&2; }

for v in "$@"; do
  case ${v%-kcov} in
    correct | pristine) ;;
    -*) say "unknown option $v"; exit 2 ;;
    *) [ -f "$here/patches/${v%-kcov}.patch" ] || {
         say "no variant '$v' (variants: correct, pristine, $(cd "$here/patches" && ls *.patch | sed 's/.patch$//' | tr '\n' ' '), each also as NAME-kcov)"
         exit 2
       } ;;
  esac
done
mkdir -p "$work" "$out"
exec 8>"$work/.lock"
flock 8

# What this script needs beyond scripts/install-deps.sh (only the vm tests and kernel
# developers build kernels).
need=(linux-source-6.12 make gcc flex bison bc libelf-dev libssl-dev ccache lz4 patch)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    say "cannot install ${missing[*]}"
    exit 3
  fi
fi

tarball=$(ls /usr/src/linux-source-6.12.tar.xz)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
src=
kcov=0
mk() { make -C "$src" -j"$jobs" CC="ccache gcc" "$@"; }
# Plain cp on purpose: fresh timestamps make make rebuild net/unix for every variant (cp -a
# would restore old ones, and objects of the last patched variant would look up to date).
# In the KCOV tree net/unix is instrumented as a whole (with KCOV_INSTRUMENT_ALL off).
restore() {
  [ -n "$src" ] || return 0
  rm -rf "$src/net/unix" && cp -r "$work/net-unix.pristine" "$src/net/unix"
  [ $kcov -eq 0 ] || echo 'KCOV_INSTRUMENT := y' >>"$src/net/unix/Makefile"
}
trap restore EXIT

# Switches to the plain tree (0) or the KCOV tree (1): extracted, configured once (again
# when a fragment changes).
use_tree() {
  restore
  kcov=$1
  fragments=("$here/kernel/inflight.config")
  src=$work/linux-source-6.12
  stamp=$work/config.stamp
  if [ "$kcov" -eq 1 ]; then
    fragments+=("$here/kernel/kcov.config")
    src=$work/linux-source-6.12-kcov
    stamp=$work/config-kcov.stamp
  fi
  if [ ! -f "$src/Makefile" ]; then
    say "extracting $tarball into $src"
    mkdir -p "$src.tmp"
    tar -C "$src.tmp" -xf "$tarball"
    mv "$src.tmp/linux-source-6.12" "$src"
    rmdir "$src.tmp"
  fi
  # A pristine copy of net/unix, restored before every variant.
  if [ ! -d "$work/net-unix.pristine" ]; then
    cp -a "$src/net/unix" "$work/net-unix.pristine"
  fi
  if [ "$kcov" -eq 1 ]; then
    # The two files outside net/unix that move descriptors in flight.
    grep -q '^KCOV_INSTRUMENT_scm.o' "$src/net/core/Makefile" ||
      echo 'KCOV_INSTRUMENT_scm.o := y' >>"$src/net/core/Makefile"
    grep -q '^KCOV_INSTRUMENT_file.o' "$src/fs/Makefile" ||
      echo 'KCOV_INSTRUMENT_file.o := y' >>"$src/fs/Makefile"
  fi
  if [ ! -f "$src/.config" ] || ! cat "${fragments[@]}" | cmp -s - "$stamp"; then
    say "configuring: tinyconfig + ${fragments[*]}"
    restore
    mk tinyconfig >/dev/null
    (cd "$src" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null)
    mk olddefconfig >/dev/null
    # Every option of the fragments must have stuck (a dependency may silently drop one).
    bad=0
    while IFS= read -r line; do
      case $line in
        CONFIG_*=*) grep -qx "$line" "$src/.config" || { say "config: '$line' did not stick"; bad=1; } ;;
        "# CONFIG_"*" is not set")
          opt=${line#\# }; opt=${opt%% *}
          ! grep -q "^$opt=" "$src/.config" || { say "config: '$line' did not stick"; bad=1; } ;;
      esac
    done < <(cat "${fragments[@]}")
    [ $bad -eq 0 ] || exit 1
    cat "${fragments[@]}" >"$stamp"
  fi
}

variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=(correct pristine)
  for p in "$here"/patches/*.patch; do
    [ -e "$p" ] && variants+=("$(basename "$p" .patch)")
  done
fi

# The plain variants first, then the KCOV ones, each tree configured once.
ordered=()
for v in "${variants[@]}"; do [ "${v%-kcov}" != "$v" ] || ordered+=("$v"); done
for v in "${variants[@]}"; do [ "${v%-kcov}" = "$v" ] || ordered+=("$v"); done
for v in "${ordered[@]}"; do
  base=${v%-kcov}
  want_kcov=0
  [ "$base" = "$v" ] || want_kcov=1
  [ -n "$src" ] && [ "$kcov" -eq "$want_kcov" ] || use_tree "$want_kcov"
  patches=()
  if [ "$base" != pristine ]; then
    patches=("$here"/fixes/*.patch)
    if [ "$base" != correct ]; then
      p=$here/patches/$base.patch
      [ -f "$p" ] || { say "no patch $p (variants: correct, pristine, $(cd "$here/patches" && ls *.patch | sed 's/.patch$//' | tr '\n' ' '))"; exit 2; }
      patches+=("$p")
    fi
  fi
  # What this variant is built from: skip it when its kernel already is.
  want=$( { dpkg-query -W -f='${Version}' linux-source-6.12; cat "${fragments[@]}"; [ ${#patches[@]} -eq 0 ] || cat "${patches[@]}"; } | sha256sum | cut -d' ' -f1)
  if [ -f "$out/bzImage-$v" ] && [ "$(cat "$out/bzImage-$v.stamp" 2>/dev/null)" = "$want" ]; then
    say "$v: $out/bzImage-$v is up to date"
    [ $print -eq 0 ] || echo "$out/bzImage-$v"
    continue
  fi
  restore
  for p in "${patches[@]}"; do
    say "$v: applying ${p#$here/}"
    patch -d "$src" -p1 --quiet --forward --fuzz=0 <"$p"
  done
  say "$v: building bzImage (make -j$jobs)"
  start=$(date +%s)
  mk bzImage >"$work/build-$v.log" 2>&1 || { tail -30 "$work/build-$v.log" >&2; say "$v: build failed"; exit 1; }
  cp "$src/arch/x86/boot/bzImage" "$out/bzImage-$v.new"
  mv "$out/bzImage-$v.new" "$out/bzImage-$v"
  # A KCOV kernel's PCs mean something only with its symbols: the coverage page
  # (inflight cover) maps them to lines of net/unix with addr2line on vmlinux-VARIANT.
  if [ $kcov -eq 1 ]; then
    cp "$src/vmlinux" "$out/vmlinux-$v.new"
    mv "$out/vmlinux-$v.new" "$out/vmlinux-$v"
  fi
  echo "$want" >"$out/bzImage-$v.stamp"
  say "$v: $out/bzImage-$v ($(( $(date +%s) - start )) s)"
  [ $print -eq 0 ] || echo "$out/bzImage-$v"
done
