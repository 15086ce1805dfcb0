#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end boot test: runs the real `cvmm` on the project's guest (guest/build.sh) and checks
# the guest console for the kernel banner, ACPI/SMP bring-up, the ttyS0 console and the init
# marker, and that cvmm exits 0.
#
#   boot_test.sh --cvmm PATH --cpus N [--kernel vmlinux|bzImage] [--initramfs auto|busybox|ud2]
#
# Init variants (nested-kvm-notes.md, "Guest user space does not run on this host"):
#   busybox  /init prints CVMM-GUEST-INIT-OK and powers off; cvmm exits 0 on the ACPI
#            power-off. The default on hosts where guest user space runs.
#   ud2      /init is a single ud2: the kernel prints "Attempted to kill init!" the moment
#            user mode runs, panics, and (panic=-1 reboot=k) resets; cvmm exits 0 on the
#            reset. The default on the nested kvm_pvm host, where user space cannot run.
# Exit status: 0 pass, 1 fail, 77 skipped (CTest SKIP_RETURN_CODE).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
cvmm=""
cpus=1
kernel_format=vmlinux
initramfs_choice=${CVMM_E2E_INITRAMFS:-auto}
boot_timeout=${CVMM_E2E_TIMEOUT:-180}
memory=128M

while (($# > 0)); do
  case $1 in
    --cvmm) cvmm=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --kernel) kernel_format=$2; shift 2 ;;
    --initramfs) initramfs_choice=$2; shift 2 ;;
    *) echo "usage: $0 --cvmm PATH --cpus N [--kernel vmlinux|bzImage] [--initramfs auto|busybox|ud2]" >&2
       exit 2 ;;
  esac
done

skip() {
  echo "SKIPPED: $*"
  exit 77
}
failures=0
pass() { echo "ok:      $*"; }
fail() {
  echo "FAILED:  $*"
  failures=$((failures + 1))
}
skipped_check() { echo "skipped: $*"; }

if [[ ! -e /dev/kvm ]]; then
  skip "/dev/kvm is absent: the Linux boot test needs KVM"
fi
if [[ -z $cvmm || ! -x $cvmm ]]; then
  skip "the cvmm binary is not part of this build (target cvmm from tools/cvmm)"
fi

# The nested kvm_pvm host cannot run guest user space (user-mode syscall is not emulated).
user_space_runs=1
host_note=""
if [[ -d /sys/module/kvm_pvm ]]; then
  user_space_runs=0
  host_note="this host's KVM is kvm_pvm (nested, shadow paging), which cannot run guest user space"
fi
if [[ $initramfs_choice == auto ]]; then
  if ((user_space_runs)); then initramfs_choice=busybox; else initramfs_choice=ud2; fi
fi

# Builds the guest once per machine; a complete cache entry makes this a no-op.
guest_dir=$("$source_dir/guest/build.sh" --print-dir)
build_status=$?
if ((build_status == 3)); then
  skip "the guest artifacts cannot be built here: an input package is missing (scripts/setup-host.sh)"
elif ((build_status != 0)); then
  echo "FAILED:  guest/build.sh could not build the guest artifacts (status $build_status)"
  exit 1
fi
# shellcheck source=/dev/null
source "$guest_dir/paths.env"
case $kernel_format in
  vmlinux) kernel=$CVMM_GUEST_VMLINUX ;;
  bzImage) kernel=$CVMM_GUEST_BZIMAGE ;;
  *) echo "unknown --kernel $kernel_format" >&2; exit 2 ;;
esac
case $initramfs_choice in
  busybox) initramfs=$CVMM_GUEST_INITRAMFS_BUSYBOX ;;
  ud2) initramfs=$CVMM_GUEST_INITRAMFS_UD2 ;;
  *) echo "unknown --initramfs $initramfs_choice" >&2; exit 2 ;;
esac
for artifact in "$kernel" "$initramfs"; do
  [[ -s $artifact ]] || skip "guest artifact $artifact is missing (guest/build.sh)"
done
cmdline=$(<"$source_dir/guest/cmdline.txt")

log=$(mktemp "${TMPDIR:-/tmp}/cvmm-e2e-boot.XXXXXX")
trap 'rm -f "$log"' EXIT
echo "cvmm:      $cvmm"
echo "kernel:    $kernel"
echo "initramfs: $initramfs ($initramfs_choice)"
echo "cmdline:   $cmdline"
echo "vCPUs:     $cpus, memory $memory, timeout ${boot_timeout}s"

started=$SECONDS
timeout --kill-after=10 "$boot_timeout" "$cvmm" run --kernel "$kernel" --initramfs "$initramfs" \
  --cmdline "$cmdline" --cpus "boot=$cpus" --memory "size=$memory" --serial tty \
  </dev/null >"$log" 2>&1
status=$?
elapsed=$((SECONDS - started))
echo "cvmm exited with status $status after ${elapsed}s"

expect() {
  local what=$1 pattern=$2
  if grep -q -E -- "$pattern" "$log"; then
    pass "$what"
  else
    fail "$what (no line matching /$pattern/)"
  fi
}

plural=""
((cpus > 1)) && plural=s
expect "kernel banner" '^(\[ *[0-9.]+\] )?Linux version 6\.1\.'
expect "ACPI describes SMP (MADT)" 'ACPI: Using ACPI \(MADT\) for SMP configuration information'
expect "$cpus possible CPU$plural" "smpboot: Allowing $cpus CPUs, 0 hotplug CPUs"
expect "$cpus CPU$plural online" "smp: Brought up 1 node, $cpus CPU$plural\$"
expect "16550 on 0x3f8 is ttyS0" 'ttyS0 at I/O 0x3f8'
expect "console on ttyS0" 'printk: console \[ttyS0\] enabled'
expect "kernel starts /init" 'Run /init as init process'
if [[ $initramfs_choice == busybox ]]; then
  expect "init marker from user space ($cpus CPUs online)" "$CVMM_GUEST_INIT_MARKER cpus=$cpus "
  if ((status == 0)); then pass "cvmm exit status 0 (ACPI power-off)"; else fail "cvmm exit status $status, expected 0 after poweroff -f"; fi
else
  expect "user mode reached (ud2 /init killed init)" 'Attempted to kill init! exitcode=0x00000004'
  if ((status == 0)); then pass "cvmm exit status 0 (reset after panic, panic=-1 reboot=k)"; else fail "cvmm exit status $status, expected 0 after the panic reset"; fi
  skipped_check "init marker $CVMM_GUEST_INIT_MARKER and ACPI power-off from user space: ${host_note:-ud2 variant requested}"
fi
if ((status == 124 || status == 137)); then
  fail "cvmm did not exit within ${boot_timeout}s"
fi
if grep -q -E 'KVM internal error|emulation failure|triple fault' "$log"; then
  fail "cvmm reported a KVM internal error / triple fault"
fi

if ((failures > 0)); then
  echo "---- cvmm output (last 80 lines of $(wc -l <"$log")) ----"
  tail -n 80 "$log"
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
