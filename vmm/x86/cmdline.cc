// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/cmdline.h"

#include <algorithm>

#include <fmt/format.h>

namespace cvm::vmm::x86 {
namespace {

void append(std::string& line, std::string_view part) {
  if (part.empty()) {
    return;
  }
  if (!line.empty()) {
    line += ' ';
  }
  line += part;
}

}  // namespace

std::string virtio_mmio_device_argument(const VirtioMmioSlot& slot) {
  const std::string size = slot.size % kKiB == 0 ? fmt::format("{}K", slot.size / kKiB)
                                                 : fmt::format("{}", slot.size);
  return fmt::format("virtio_mmio.device={}@{:#x}:{}", size, slot.base, slot.irq);
}

Result<std::string> build_kernel_cmdline(const CmdlineSpec& spec) {
  if (spec.user.find('\0') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "kernel command line contains a NUL byte");
  }
  std::string line;
  if (spec.serial_console) {
    append(line, "console=ttyS0 8250.nr_uarts=1");
  }
  if (spec.reboot_policy) {
    append(line, "reboot=k panic=-1");
  }
  for (const VirtioMmioSlot& slot : spec.virtio_devices) {
    append(line, virtio_mmio_device_argument(slot));
  }
  append(line, clearcpuid_argument(spec.clearcpuid));
  // Trim the user's line so "  quiet " does not add empty parts.
  std::string_view user = spec.user;
  const auto first = user.find_first_not_of(' ');
  user = first == std::string_view::npos ? std::string_view() : user.substr(first);
  user = user.substr(0, user.find_last_not_of(' ') + 1);
  append(line, user);

  const uint64_t limit = std::min<uint64_t>(spec.max_length, kCmdlineMaxBytes - 1);
  if (line.size() > limit) {
    return make_error(ErrorCode::kInvalidArgument,
                      "kernel command line is {} bytes; the kernel takes at most {}",
                      line.size(), limit);
  }
  return line;
}

}  // namespace cvm::vmm::x86
