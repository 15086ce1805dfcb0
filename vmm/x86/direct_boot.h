// SPDX-License-Identifier: Apache-2.0
// One call that lays out a direct Linux kernel boot in guest RAM: loads the kernel and the
// initrd, writes the command line, ACPI tables, zero page or PVH start info, GDT and page
// tables, and returns the boot vCPU's register state. Pure: guest RAM is a byte span; the
// KVM machine maps it, calls this, then applies `bsp` with KVM_SET_SREGS/KVM_SET_REGS.
// Application processors are started by the guest (INIT/SIPI through the in-kernel LAPIC)
// from the MADT, so they need no state from here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"
#include "vmm/x86/acpi/tables.h"
#include "vmm/x86/boot_cpu.h"
#include "vmm/x86/cmdline.h"
#include "vmm/x86/kernel_image.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {

enum class BootProtocol : uint8_t {
  kAuto,     // Linux 64-bit entry (the path proven on the nested build host, for both formats)
  kLinux64,  // 64-bit boot protocol: zero page in RSI, long mode, identity map
  kPvh,      // PVH: hvm_start_info in EBX, 32-bit protected mode (ELF with the Xen note only)
};

struct DirectBootSpec {
  std::span<const std::byte> kernel{};
  std::span<const std::byte> initrd{};  // empty: no initrd
  /// Command line parts; max_length is lowered to the kernel's own limit.
  CmdlineSpec cmdline{};
  BootProtocol protocol = BootProtocol::kAuto;
  /// ACPI tables to build; nullopt for none (then the guest should get acpi=off and learns
  /// about virtio-mmio devices from the command line only).
  std::optional<acpi::AcpiSpec> acpi{};
  /// Identity map size for the 64-bit entry: must cover the kernel, zero page, cmdline and
  /// initrd; 4 GiB (2 MiB pages) covers all of low RAM.
  uint32_t identity_map_gib = 4;
};

struct DirectBoot {
  BootEntry entry = BootEntry::kLinux64;
  BootCpuState bsp{};
  LoadedKernel kernel{};
  std::string cmdline{};  // as written at kCmdlineAddress (a NUL follows in guest memory)
  uint64_t initrd_gpa = 0;
  uint64_t initrd_size = 0;
  uint64_t rsdp_gpa = 0;  // 0 without ACPI
};

/// Writes the boot into `low_ram` (guest-physical [0, layout.low_ram_end)).
/// Errors: kInvalidArgument if low_ram.size() != layout.low_ram_end, PVH was asked for but the
/// kernel has no PVH note, or anything does not fit (kernel, initrd, command line, tables);
/// kMalformedImage for a corrupt kernel. Each error says which step failed.
[[nodiscard]] Result<DirectBoot> prepare_direct_boot(std::span<std::byte> low_ram,
                                                     const MemoryLayout& layout,
                                                     const DirectBootSpec& spec);

}  // namespace cvm::vmm::x86
