#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies, builds cvmm (normal and ASan+UBSan),
# builds the project's guest, then runs CTest (labels unit, kvm, boot) and the sanitizer
# build's unit and kvm tests, and every libFuzzer target for a short fixed time. Exit status is non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup-host.sh

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j"$jobs"

echo "== build (ASan+UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCVMM_SANITIZE=ON >/dev/null
ninja -C build-asan -j"$jobs"

echo "== build (libFuzzer targets, clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCVMM_FUZZ=ON \
  >/dev/null
ninja -C build-fuzz -j"$jobs" cvmm_fuzz_targets

if [[ -x guest/build.sh ]]; then
  echo "== guest artifacts"
  guest/build.sh
fi

if [[ ! -e /dev/kvm ]]; then
  echo "NOTE: /dev/kvm is absent on this host: tests labelled kvm and boot will be skipped."
fi

echo "== tests (ASan+UBSan: unit, kvm)"
(cd build-asan && ctest -L 'unit|kvm' --output-on-failure -j"$jobs")

echo "== fuzz targets (fixed time each)"
(cd build-fuzz && ctest -L fuzz --output-on-failure)

echo "== tests (qemu: the test guest under QEMU TCG, independent of cvmm)"
(cd build && ctest -L qemu --output-on-failure)

echo "== tests (all labels)"
cd build && ctest --output-on-failure -j"$jobs"
