#!/usr/bin/env bash
# Fetches a Debian kernel image package with `apt-get download` (once: cached), unpacks it
# with dpkg -x (nothing is installed) and prints the folder that holds boot/vmlinuz-* and
# lib/modules/: what `inflight vm --kernel DIR/boot/vmlinuz-* --modules DIR` takes.
#
# Usage: vm/fetch-kernel.sh PACKAGE     e.g. linux-image-6.1.0-56-cloud-amd64
# Cache: ${INFLIGHT_KERNEL_CACHE:-$HOME/.cache/inflight/kernels}
# Exit status: 0 done; 2 bad usage; 3 this machine cannot get it (no apt, no network, the
# package is not in the archive any more), with the reason on stderr.
set -euo pipefail
if [ $# -ne 1 ] || [[ ! $1 =~ ^linux-image-[A-Za-z0-9.+~-]+$ ]]; then
  echo "usage: $0 linux-image-PACKAGE" >&2
  exit 2
fi
pkg=$1
cache=${INFLIGHT_KERNEL_CACHE:-$HOME/.cache/inflight/kernels}
mkdir -p "$cache"
root=$cache/$pkg
exec 9>"$cache/.lock"
flock 9  # one download at a time, also across parallel tests

if ! compgen -G "$root/boot/vmlinuz-*" >/dev/null; then
  command -v apt-get >/dev/null || { echo "fetch-kernel: no apt-get here" >&2; exit 3; }
  tmp=$(mktemp -d "$cache/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes into the current folder; as root it warns that the _apt user
  # cannot write there, which is harmless.
  if ! (cd "$tmp" && apt-get download -q "$pkg" >"$tmp/log" 2>&1); then
    echo "fetch-kernel: apt-get download $pkg failed:" >&2
    grep -E "^(E|W):" "$tmp/log" | grep -v "unsandboxed" >&2 || tail -3 "$tmp/log" >&2
    exit 3
  fi
  deb=$(ls "$tmp"/*.deb)
  rm -rf "$root.new"
  mkdir -p "$root.new"
  dpkg -x "$deb" "$root.new"
  compgen -G "$root.new/boot/vmlinuz-*" >/dev/null || {
    echo "fetch-kernel: $pkg holds no boot/vmlinuz-*" >&2
    exit 3
  }
  # Only the unpacked tree is kept (the .deb is not needed again).
  rm -rf "$root"
  mv "$root.new" "$root"
fi
echo "$root"
