// SPDX-License-Identifier: Apache-2.0
// Builds the guest kernel command line: the parts cvmm adds (console, virtio-mmio devices,
// clearcpuid=, reboot/panic policy) followed by the user's command line, so that a user
// parameter given later overrides ours (Linux: the last occurrence wins for most
// parameters). Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "vmm/x86/cpu_features.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {

struct CmdlineSpec {
  /// "console=ttyS0" and "8250.nr_uarts=1" (COM1 is the only UART; probing the others
  /// costs boot time on emulating hosts).
  bool serial_console = true;
  /// "reboot=k panic=-1": reboot through the i8042 (triple-fault reboot does not work on
  /// emulating hosts) and reboot at once on panic, which the VMM turns into an exit.
  bool reboot_policy = true;
  /// One "virtio_mmio.device=<size>@<base>:<irq>" per device (Linux
  /// drivers/virtio/virtio_mmio.c, CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES).
  std::vector<VirtioMmioSlot> virtio_devices{};
  /// "clearcpuid=..." for these features.
  std::vector<CpuFeature> clearcpuid{};
  /// The user's command line, appended last.
  std::string user{};
  /// Longest line the kernel takes, without NUL (LoadedKernel::cmdline_max).
  uint32_t max_length = 2047;
};

/// "virtio_mmio.device=4K@0xd0000000:5" for `slot` (size in K when a multiple of 1 KiB).
std::string virtio_mmio_device_argument(const VirtioMmioSlot& slot);

/// The full command line (no trailing NUL; single spaces between parts).
/// Errors: kInvalidArgument when the result is longer than spec.max_length or than
/// kCmdlineMaxBytes - 1 (naming both lengths), or when the user line contains a NUL.
[[nodiscard]] Result<std::string> build_kernel_cmdline(const CmdlineSpec& spec);

}  // namespace cvm::vmm::x86
