#!/usr/bin/env bash
# measure_bench.sh BUILD_DIR: times `cvmm-measure snp` (wall time, peak RSS via
# /usr/bin/time) on the synthetic 4 MiB firmware + 16 MiB kernel + 64 MiB initramfs that
# measure_bench writes, then runs the in-process measure_bench.
set -eu
build=${1:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/bench/measure_bench" --write-inputs "$dir"
echo "cvmm-measure snp, 4 vCPUs, measured direct boot:"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" "$build/tools/measure/cvmm-measure" snp \
  --firmware "$dir/firmware.fd" --vcpus 4 --vcpu-type EPYC-Milan --vmm-type cvmm \
  --kernel "$dir/vmlinuz" --initrd "$dir/initrd.img" --append console=ttyS0
echo "in-process (measure_bench):"
"$build/bench/measure_bench"
