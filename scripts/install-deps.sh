#!/usr/bin/env bash
# Installs every Debian package inflight needs to build, test and run (Debian 12).
# Idempotent: installs only what is missing, and says so.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ clang libclang-rt-14-dev llvm
  libcli11-dev libboost1.74-dev libboost-filesystem1.74-dev
  nlohmann-json3-dev libfmt-dev
  # tests
  googletest libgtest-dev libgmock-dev python3
  # tests of the report formats: report.json against docs/report.schema.json
  python3-jsonschema
  # reports: graphs drawn with Graphviz, pages checked in headless Chromium
  graphviz chromium
  # inflight vm: QEMU, initramfs tools, Debian kernel images fetched with apt-get download;
  # libc6-dev's libc.a for the static build; zlib packs files on the guest's serial port;
  # xz and zstd unpack compressed kernel modules
  qemu-system-x86 cpio busybox-static kmod libc6-dev zlib1g-dev xz-utils zstd
  # inflight cover: objdump and addr2line on a KCOV kernel's vmlinux
  binutils
  # benchmarks against the reference stressor
  stress-ng
  # misc tools the scripts use
  iproute2 procps util-linux file
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 3; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/inflight-apt.XXXXXX)
trap 'rm -f "$log"' EXIT
echo "install-deps: installing ${missing[*]} (log: $log)"
apt_install() { $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }
if ! apt_install; then
  # A fresh machine may have stale or no package lists.
  if ! { $sudo apt-get update -qq >>"$log" 2>&1 && apt_install; }; then
    cat "$log" >&2
    echo "install-deps: apt-get failed" >&2
    exit 3
  fi
fi
echo "install-deps: done"
