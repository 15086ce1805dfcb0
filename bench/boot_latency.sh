#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot-latency and footprint bench: cvmm vs the bare-ioctl floor vs QEMU -M microvm, over
# repeated runs, printing min/median/max and ratios. See bench/README.md for the figures and
# the targets. Not a test: it prints figures and exits 0 unless something is broken.
#
#   bench/boot_latency.sh [--build-dir DIR] [--runs N] [--linux-runs N] [--cpus N] [--no-qemu]
#                         [--no-linux]
# Environment: CVMM_BENCH_QEMU_CPU (QEMU -cpu model, default: QEMU's own default; `host`
#   fails on the nested kvm_pvm host, see nested-kvm-notes.md), CVMM_E2E_INITRAMFS
#   (busybox|ud2, default: ud2 on kvm_pvm hosts, else busybox).
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$source_dir/build
runs=10
linux_runs=3
cpus=1
use_qemu=1
use_linux=1
trivial_mem=16M
linux_mem_mib=128

while (($# > 0)); do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --linux-runs) linux_runs=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --no-qemu) use_qemu=0; shift ;;
    --no-linux) use_linux=0; shift ;;
    *) sed -n '7,8p' "$0" >&2; exit 2 ;;
  esac
done

say() { echo "bench: $*" >&2; }

if [[ ! -e /dev/kvm ]]; then
  echo "bench: skipped: /dev/kvm is absent (the bench boots guests under KVM)"
  exit 0
fi

# --- tools ----------------------------------------------------------------------------------
if [[ ! -f $build_dir/build.ninja ]]; then
  cmake -S "$source_dir" -B "$build_dir" -G Ninja >/dev/null
fi
ninja -C "$build_dir" bench_tools >/dev/null
timed_run=$build_dir/bench/timed_run
floor=$build_dir/bench/bare_ioctl_floor
trivial=$build_dir/bench/trivial_pvh_guest.elf
cvmm=""
if ninja -C "$build_dir" -t targets all 2>/dev/null | grep -q '^cvmm:'; then
  ninja -C "$build_dir" cvmm >/dev/null
  cvmm=$(find "$build_dir/tools" -maxdepth 2 -type f -name cvmm -perm -u+x | head -n1)
fi
[[ -n $cvmm ]] || say "no cvmm binary in $build_dir (target cvmm): cvmm figures skipped"

qemu=""
if ((use_qemu)); then
  if ! command -v qemu-system-x86_64 >/dev/null; then
    say "qemu-system-x86_64 is missing: installing qemu-system-x86 (only the bench needs it)"
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      qemu-system-x86 >/dev/null || say "could not install qemu-system-x86: QEMU figures skipped"
  fi
  qemu=$(command -v qemu-system-x86_64 || true)
fi
qemu_cpu=()
[[ -z ${CVMM_BENCH_QEMU_CPU:-} ]] || qemu_cpu=(-cpu "$CVMM_BENCH_QEMU_CPU")
qemu_common=(-M microvm -enable-kvm "${qemu_cpu[@]}" -nodefaults -no-user-config -display none
  -monitor none -serial stdio -no-reboot)

results=$(mktemp -d "${TMPDIR:-/tmp}/cvmm-bench.XXXXXX")
trap 'rm -rf "$results"' EXIT

# run_series NAME COUNT TIMED_RUN_ARGS... -- COMMAND...: appends one key=value block per run.
run_series() {
  local name=$1 count=$2 i
  shift 2
  say "$name: $count run(s)"
  for ((i = 0; i < count; i++)); do
    "$timed_run" "$@" >>"$results/$name" || say "$name: run $i failed"
    echo "--" >>"$results/$name"
  done
}

# --- trivial guest --------------------------------------------------------------------------
run_series floor "$runs" -- "$floor"
if [[ -n $cvmm ]]; then
  run_series cvmm-trivial "$runs" -- "$cvmm" run --kernel "$trivial" --memory "size=$trivial_mem" \
    --cpus boot=1 --serial tty
fi
if [[ -n $qemu ]]; then
  run_series qemu-trivial "$runs" -- "$qemu" "${qemu_common[@]}" -m "$trivial_mem" -smp 1 \
    -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$trivial"
fi

# --- Linux guest ----------------------------------------------------------------------------
if ((use_linux)); then
  guest_dir=$("$source_dir/guest/build.sh" --print-dir)
  # shellcheck source=/dev/null
  source "$guest_dir/paths.env"
  variant=${CVMM_E2E_INITRAMFS:-auto}
  if [[ $variant == auto ]]; then
    variant=busybox
    [[ ! -d /sys/module/kvm_pvm ]] || variant=ud2  # nested host: no guest user space
  fi
  if [[ $variant == busybox ]]; then
    initramfs=$CVMM_GUEST_INITRAMFS_BUSYBOX
    marker="$CVMM_GUEST_INIT_MARKER"
  else
    initramfs=$CVMM_GUEST_INITRAMFS_UD2
    marker='Attempted to kill init!'
  fi
  # earlyprintk: the banner then reaches the host at start_kernel, the closest host-visible
  # point to kernel entry (without it, the log appears only once the 8250 console registers).
  cmdline="$(<"$source_dir/guest/cmdline.txt") earlyprintk=ttyS0"
  marks=(--mark "banner=Linux version" --mark "init=Run /init as init process"
    --mark "marker=$marker" --guest-mem-mib "$linux_mem_mib" --timeout-s 300)
  say "Linux guest: $CVMM_GUEST_VMLINUX + $initramfs ($variant), $cpus vCPU(s)"
  if [[ -n $cvmm ]]; then
    CVMM_BOOT_TIMING=1 run_series cvmm-linux "$linux_runs" "${marks[@]}" -- "$cvmm" run \
      --kernel "$CVMM_GUEST_VMLINUX" --initramfs "$initramfs" --cmdline "$cmdline" \
      --cpus "boot=$cpus" --memory "size=${linux_mem_mib}M" --serial tty
  fi
  if [[ -n $qemu ]]; then
    # Stopped at the marker: microvm has no i8042 for reboot=k, and the figure is exec->init.
    run_series qemu-linux "$linux_runs" "${marks[@]}" --stop-on marker -- "$qemu" \
      "${qemu_common[@]}" -m "${linux_mem_mib}M" -smp "$cpus" -kernel "$CVMM_GUEST_VMLINUX" \
      -initrd "$initramfs" -append "$cmdline"
  fi
fi

# --- report ---------------------------------------------------------------------------------
# stats NAME KEY: prints "min median max count" of KEY over the runs of series NAME.
stats() {
  [[ -f $results/$1 ]] || return 0
  grep -E "^$2=" "$results/$1" | cut -d= -f2 | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit; m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
           printf "%.3f %.3f %.3f %d\n", v[1], m, v[NR], NR }'
}
median() { stats "$1" "$2" | awk '{ print $2 }'; }
row() {
  local label=$1 name=$2 key=$3 unit=$4 s
  s=$(stats "$name" "$key")
  if [[ -z $s ]]; then
    printf '%-52s %s\n' "$label" "n/a"
  else
    read -r mn md mx n <<<"$s"
    printf '%-52s %10s %10s %10s %s (n=%s)\n' "$label" "$mn" "$md" "$mx" "$unit" "$n"
  fi
}
ratio() {
  local label=$1 a b
  a=$(median "$2" "$3")
  b=$(median "$4" "$5")
  if [[ -n $a && -n $b ]]; then
    awk -v a="$a" -v b="$b" -v l="$label" -v t="$6" \
      'BEGIN { if (b > 0) printf "%-52s %10.2f   (target: %s)\n", l, a / b, t }'
  fi
}
statuses() {
  [[ -f $results/$1 ]] || return 0
  printf '%-52s %s\n' "exit statuses $1" "$(grep '^status=' "$results/$1" | cut -d= -f2 | sort | uniq -c | xargs)"
}

echo
printf '%-52s %10s %10s %10s\n' "figure (series)" min median max
row "trivial exec->exit: bare-ioctl floor" floor exit_ms ms
row "trivial exec->exit: cvmm" cvmm-trivial exit_ms ms
row "trivial exec->exit: QEMU microvm" qemu-trivial exit_ms ms
row "trivial peak RSS (getrusage): floor" floor maxrss_kib KiB
row "trivial peak RSS (getrusage): cvmm" cvmm-trivial maxrss_kib KiB
row "trivial peak RSS (getrusage): QEMU microvm" qemu-trivial maxrss_kib KiB
ratio "ratio trivial exec->exit cvmm/floor (median)" cvmm-trivial exit_ms floor exit_ms "<= 1.5"
ratio "ratio trivial exec->exit QEMU/cvmm (median)" qemu-trivial exit_ms cvmm-trivial exit_ms "> 1"
if ((use_linux)); then
  row "linux exec->first KVM_RUN: cvmm (boot-timing)" cvmm-linux event_first-kvm-run_ms ms
  row "linux exec->kernel banner (earlyprintk): cvmm" cvmm-linux mark_banner_ms ms
  row "linux exec->kernel banner (earlyprintk): QEMU" qemu-linux mark_banner_ms ms
  row "linux exec->'Run /init': cvmm" cvmm-linux mark_init_ms ms
  row "linux exec->'Run /init': QEMU" qemu-linux mark_init_ms ms
  row "linux exec->init marker (console): cvmm" cvmm-linux mark_marker_ms ms
  row "linux exec->init marker (console): QEMU" qemu-linux mark_marker_ms ms
  row "linux exec->init marker (boot-timing port): cvmm" cvmm-linux event_guest-mark-123_ms ms
  row "linux vCPU start->init marker (boot-timing port): cvmm" cvmm-linux vcpu_start_to_mark_123_ms ms
  row "linux exec->exit: cvmm" cvmm-linux exit_ms ms
  row "linux VMM RSS excl. guest RAM: cvmm" cvmm-linux vmm_rss_kib KiB
  row "linux VMM RSS excl. guest RAM: QEMU" qemu-linux vmm_rss_kib KiB
  ratio "ratio linux exec->init marker QEMU/cvmm (median)" qemu-linux mark_marker_ms cvmm-linux mark_marker_ms "> 1"
  ratio "ratio linux VMM RSS QEMU/cvmm (median)" qemu-linux vmm_rss_kib cvmm-linux vmm_rss_kib "> 1"
fi
for s in floor cvmm-trivial qemu-trivial cvmm-linux qemu-linux; do statuses "$s"; done
