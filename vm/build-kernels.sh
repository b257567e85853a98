#!/usr/bin/env bash
# Builds Linux 6.12 from Debian's linux-source-6.12 with a minimal config (tinyconfig plus
# vm/kernel/inflight.config), in variants:
#   correct   Debian's source with vm/fixes/*.patch: a collector that frees every garbage
#             cycle. The baseline of every "never cry wolf" test in a VM.
#   pristine  Debian's source as shipped: it leaks nested-cycle SCCs (the scc_index bug).
#   NAME      `correct` plus vm/patches/NAME.patch: a bug planted in net/unix/, so that
#             `inflight gate` can be checked against kernels known to be broken.
# The first build takes ~13 minutes on 2 cores; ccache and the incremental rebuild of
# net/unix make each further variant take a minute or two.
#
# Usage: vm/build-kernels.sh [VARIANT...]   (default: correct, pristine and every patch)
# Environment: INFLIGHT_KBUILD (work folder, default ~/.cache/inflight/kbuild),
#   INFLIGHT_KERNELS_OUT (where bzImage-VARIANT go, default $INFLIGHT_KBUILD/out),
#   JOBS (make -j, default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${INFLIGHT_KBUILD:-$HOME/.cache/inflight/kbuild}
out=${INFLIGHT_KERNELS_OUT:-$work/out}
jobs=${JOBS:-2}
fragment=$here/kernel/inflight.config

say() { echo "build-kernels: $*" >&2; }

# What this script needs beyond scripts/install-deps.sh (it is not part of CI).
need=(linux-source-6.12 make gcc flex bison bc libelf-dev libssl-dev ccache lz4 patch)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

tarball=$(ls /usr/src/linux-source-6.12.tar.xz)
src=$work/linux-source-6.12
mkdir -p "$work" "$out"
if [ ! -f "$src/Makefile" ]; then
  say "extracting $tarball"
  tar -C "$work" -xf "$tarball"
fi
# A pristine copy of net/unix, restored before every variant.
if [ ! -d "$work/net-unix.pristine" ]; then
  cp -a "$src/net/unix" "$work/net-unix.pristine"
fi
# Plain cp on purpose: fresh timestamps make make rebuild net/unix for every variant (cp -a
# would restore old ones, and objects of the last patched variant would look up to date).
restore() { rm -rf "$src/net/unix" && cp -r "$work/net-unix.pristine" "$src/net/unix"; }
trap restore EXIT

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
mk() { make -C "$src" -j"$jobs" CC="ccache gcc" "$@"; }

# Configure once (again when the fragment changes).
stamp=$work/config.stamp
if [ ! -f "$src/.config" ] || ! cmp -s "$fragment" "$stamp"; then
  say "configuring: tinyconfig + $fragment"
  restore
  mk tinyconfig >/dev/null
  (cd "$src" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null)
  mk olddefconfig >/dev/null
  # Every option of the fragment must have stuck (a dependency may silently drop one).
  bad=0
  while IFS= read -r line; do
    case $line in CONFIG_*=*) ;; *) continue ;; esac
    grep -qx "$line" "$src/.config" || { say "config: '$line' did not stick"; bad=1; }
  done <"$fragment"
  [ $bad -eq 0 ] || exit 1
  cp "$fragment" "$stamp"
fi

variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=(correct pristine)
  for p in "$here"/patches/*.patch; do
    [ -e "$p" ] && variants+=("$(basename "$p" .patch)")
  done
fi

for v in "${variants[@]}"; do
  restore
  patches=()
  if [ "$v" != pristine ]; then
    patches=("$here"/fixes/*.patch)
    if [ "$v" != correct ]; then
      p=$here/patches/$v.patch
      [ -f "$p" ] || { say "no patch $p (variants: correct, pristine, $(cd "$here/patches" && ls *.patch | sed 's/.patch$//' | tr '\n' ' '))"; exit 2; }
      patches+=("$p")
    fi
  fi
  for p in "${patches[@]}"; do
    say "$v: applying ${p#$here/}"
    patch -d "$src" -p1 --quiet --forward --fuzz=0 <"$p"
  done
  say "$v: building bzImage (make -j$jobs)"
  start=$(date +%s)
  mk bzImage >"$work/build-$v.log" 2>&1 || { tail -30 "$work/build-$v.log" >&2; say "$v: build failed"; exit 1; }
  cp "$src/arch/x86/boot/bzImage" "$out/bzImage-$v"
  say "$v: $out/bzImage-$v ($(( $(date +%s) - start )) s)"
done
