#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end boot test: runs the real `cvmm` on the project's guest (guest/build.sh) and checks
# the guest console for the kernel banner, ACPI/SMP bring-up, the ttyS0 console and the init
# marker, and that cvmm exits 0.
#
#   boot_test.sh --cvmm PATH --cpus N [--kernel vmlinux|bzImage] [--initramfs auto|busybox|ud2]
#                [--root-disk ro|rw] [--vsock]
#
# --root-disk: no initramfs; the init tree (busybox or ud2) goes into an ext4 image that the
#   kernel mounts as root=/dev/vda over virtio-blk, read-only (readonly=on disk, `ro`) or
#   read-write. With busybox, the disk's /init writes a file, syncs and powers off, and the
#   test finds the file in the image on the host afterwards.
# --vsock: adds virtio-vsock (hybrid vsock socket in a temp dir) and checks, while the guest
#   boots, that `CONNECT 1024` to a guest port nobody listens on is refused (the guest
#   kernel's virtio-vsock driver answers RST, so cvmm closes without "OK").
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
root_disk=""
with_vsock=0

while (($# > 0)); do
  case $1 in
    --cvmm) cvmm=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --kernel) kernel_format=$2; shift 2 ;;
    --initramfs) initramfs_choice=$2; shift 2 ;;
    --root-disk) root_disk=$2; shift 2 ;;
    --vsock) with_vsock=1; shift ;;
    *) echo "usage: $0 --cvmm PATH --cpus N [--kernel vmlinux|bzImage] [--initramfs auto|busybox|ud2] [--root-disk ro|rw] [--vsock]" >&2
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

work=$(mktemp -d "${TMPDIR:-/tmp}/cvmm-e2e-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/console.log
run_args=(run --kernel "$kernel" --cpus "boot=$cpus" --memory "size=$memory" --serial tty)
written_marker="CVMM-ROOT-WRITTEN-$$"
if [[ -n $root_disk ]]; then
  # The initramfs tree becomes the root file system; for busybox its /init is replaced by
  # one that proves the root disk works from user space (write, sync, power off).
  mkdir "$work/root"
  (cd "$work/root" && gzip -dc "$initramfs" | cpio -idm --quiet) ||
    { echo "FAILED:  unpacking $initramfs"; exit 1; }
  if [[ $initramfs_choice == busybox ]]; then
    cat >"$work/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
if [ -w / ] && /bin/busybox touch /cvmm-root-probe 2>/dev/null; then
  echo "$written_marker" >/cvmm-written && /bin/busybox sync && echo "root: wrote /cvmm-written"
else
  echo "root: read-only as expected"
fi
echo "$CVMM_GUEST_INIT_MARKER cpus=\$(/bin/busybox nproc) kernel=\$(/bin/busybox uname -r)"
/bin/busybox poweroff -f
INIT
    chmod 755 "$work/root/init"
  fi
  mkfs.ext4 -q -F -L cvmmroot -d "$work/root" "$work/root.img" 64M ||
    { echo "FAILED:  mkfs.ext4 of the root image"; exit 1; }
  disk="path=$work/root.img,id=cvmm-root"
  [[ $root_disk == ro ]] && disk+=",readonly=on"
  run_args+=(--disk "$disk")
  cmdline+=" root=/dev/vda rootfstype=ext4 init=/init $root_disk"
else
  run_args+=(--initramfs "$initramfs")
fi
run_args+=(--cmdline "$cmdline")
if ((with_vsock)); then
  run_args+=(--vsock "cid=3,socket=$work/vsock.sock")
fi
echo "cvmm:      $cvmm"
echo "kernel:    $kernel"
echo "init:      $initramfs ($initramfs_choice)${root_disk:+ on an ext4 root disk ($root_disk)}"
echo "cmdline:   $cmdline"
echo "vCPUs:     $cpus, memory $memory, timeout ${boot_timeout}s"

# Probes the hybrid vsock socket while the guest boots: CONNECT to a port with no listener
# must end with the connection closed and no "OK" (RST from the guest's vsock driver).
probe_vsock() {
  local socket=$work/vsock.sock
  for _ in $(seq 1 600); do
    grep -q 'Freeing unused kernel' "$log" 2>/dev/null && break
    sleep 0.1
  done
  python3 - "$socket" >"$work/vsock.result" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(b"CONNECT 1024\n")
try:
    data = s.recv(64)
except socket.timeout:
    print("timeout"); sys.exit(0)
print("closed" if data == b"" else "answered " + data.decode(errors="replace").strip())
PY
}

started=$SECONDS
timeout --kill-after=10 "$boot_timeout" "$cvmm" "${run_args[@]}" </dev/null >"$log" 2>&1 &
cvmm_pid=$!
((with_vsock)) && probe_vsock
wait "$cvmm_pid"
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
if [[ -n $root_disk ]]; then
  expect "virtio-blk probed as vda" 'virtio_blk virtio[0-9]+: \[vda\]'
  expect "ext4 root mounted from vda" 'EXT4-fs \(vda\): mounted filesystem'
  if [[ $root_disk == ro ]]; then
    expect "root mounted read-only" 'VFS: Mounted root \(ext4 filesystem\) readonly on device'
  else
    expect "root mounted read-write" 'VFS: Mounted root \(ext4 filesystem\) on device'
  fi
  if [[ $initramfs_choice == busybox && $root_disk == rw ]]; then
    if debugfs -R 'cat /cvmm-written' "$work/root.img" 2>/dev/null | grep -q "$written_marker"; then
      pass "file written and synced by the guest is in the image after cvmm exited"
    else
      fail "the guest's /cvmm-written is not in the root image"
    fi
  else
    skipped_check "guest write/sync/power-off round trip: ${host_note:-needs the busybox init and a rw root}"
  fi
fi
if ((with_vsock)); then
  result=$(cat "$work/vsock.result" 2>/dev/null)
  if [[ $result == closed ]]; then
    pass "vsock: CONNECT to a port with no guest listener was closed without OK"
  else
    fail "vsock: CONNECT 1024 with no listener: ${result:-no result}"
  fi
  skipped_check "vsock: a guest program on port 1024 reached through CONNECT 1024: ${host_note:-the guest has no vsock listener program yet}"
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
