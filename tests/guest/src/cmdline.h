// SPDX-License-Identifier: Apache-2.0
// The kernel command line: where each boot protocol puts it, and the arguments the test
// programs read (key=value words separated by spaces; the last occurrence of a key wins, as
// for most Linux parameters).
#ifndef CVMM_GUEST_CMDLINE_H
#define CVMM_GUEST_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// How the guest was entered (entry.S passes this as the first argument of guest_main).
enum boot_kind {
  kBootLinux64 = 1,  // Linux 64-bit boot protocol: the pointer is the zero page
  kBootPvh = 2,      // Xen PVH: the pointer is struct hvm_start_info
};

/// Copies the command line into a private buffer and returns it ("" when there is none).
/// Zero page (Documentation/arch/x86/zero-page.rst): cmd_line_ptr u32 at 0x228 and, for
/// addresses above 4 GiB, ext_cmd_line_ptr u32 at 0x0c8. hvm_start_info (Xen
/// arch-x86/hvm/start_info.h): magic u32 at 0 (0x336ec578), cmdline_paddr u64 at 24.
const char* boot_cmdline(enum boot_kind kind, uintptr_t boot_info);

/// The value of the last `key=value` word; *len receives its length. NULL when absent.
const char* cmdline_value(const char* cmdline, const char* key, size_t* len);
/// The numeric value of `key` (parse_u64 syntax), or `fallback` when absent or malformed.
uint64_t cmdline_u64(const char* cmdline, const char* key, uint64_t fallback);

/// One virtio_mmio.device=<size>@<base>:<irq>[:<id>] argument (Linux virtio_mmio.c syntax).
struct mmio_device_arg {
  uint64_t base;
  uint64_t size;
  uint32_t irq;
};

/// Fills up to `max` devices in command-line order; returns how many were found. Malformed
/// arguments are reported on the console and skipped.
size_t cmdline_virtio_devices(const char* cmdline, struct mmio_device_arg* out, size_t max);

#endif
