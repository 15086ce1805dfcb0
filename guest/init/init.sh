#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the busybox initramfs (hosts where guest user space runs).
# Prints the init marker on the console, signals the VMM's boot-timing port, powers off.
# The boot test looks for the marker line; cvmm exits 0 on the ACPI power-off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null

# Unknown name=value kernel parameters reach init as environment variables, so
# `cvmm_boot_timing=PORT:VALUE` on the command line overrides the default port/value.
timing=${cvmm_boot_timing:-@BOOT_TIMING_DEFAULT@}
/bin/cvmm-boot-mark "${timing%%:*}" "${timing#*:}" ||
  echo "init: boot-timing write to ${timing} failed (status $?)"

echo "@INIT_MARKER@ cpus=$(/bin/busybox nproc) kernel=$(/bin/busybox uname -r)"
/bin/busybox poweroff -f
# Only reached if power-off is not implemented by the machine: say so, then reset.
echo "init: poweroff -f returned; trying reboot -f"
/bin/busybox reboot -f
