#!/usr/bin/env bash
# Installs every Debian 12 package cvmm needs to build, test and boot its guest.
# Idempotent: runs apt only when something is missing. Needs root (or sudo) on a fresh host.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  libboost1.81-dev libboost-json1.81-dev libfmt-dev libssl-dev liburing-dev
  # tests: GoogleTest, libFuzzer (clang), reference firmware for measurement tests
  libgtest-dev libgmock-dev clang libclang-rt-14-dev ovmf
  # tests: ACPICA disassembler cross-checks the generated ACPI tables (skipped if absent)
  acpica-tools
  # the project's guest: Debian's kernel source, busybox for the initramfs
  linux-source-6.1 busybox-static flex bison bc libelf-dev cpio xz-utils python3
  # the e2e boot tests: ext4 root images (mkfs.ext4 -d, debugfs)
  e2fsprogs
  # tests/guest: QEMU (TCG) runs the freestanding test guest as an independent virtio check
  qemu-system-x86
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup-host: installing ${missing[*]}" >&2
sudo=()
if ((EUID != 0)); then
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
