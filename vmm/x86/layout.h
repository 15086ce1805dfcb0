// SPDX-License-Identifier: Apache-2.0
// The guest-physical memory map and fixed I/O resources of a cvmm x86-64 guest, and the pure
// computation of RAM regions from the configured RAM size. Every address says why it is there.
// This is the single place these numbers live: the KVM machine, the devices (through copies
// of the port/IRQ constants, since devices/ may not include vmm/) and the boot builders all
// agree through it. Pure; included by vmm/ and tests.
//
// Guest-physical map (direct kernel boot, no firmware):
//   0x0000_0000 - 0x0000_0fff  real-mode IVT + BIOS data area: left alone (some kernels peek)
//   0x0000_1000 - 0x0000_1fff  GDT for the boot CPU
//   0x0000_2000 - 0x0000_7fff  identity page tables: PML4, PDPT, 4 page directories
//   0x0000_8000 - 0x0000_8fff  PVH hvm_start_info + module list
//   0x0000_9000 - 0x0000_9fff  PVH memory map
//   0x0000_a000 - 0x0000_afff  Linux zero page (struct boot_params)
//   0x0000_b000 - 0x0000_bfff  boot stack (RSP starts at 0xc000)
//   0x0002_0000 - 0x0002_ffff  kernel command line (64 KiB, far above any cmdline_size)
//   0x0009_fc00 - 0x0009_ffff  EBDA: reserved in e820, as on PCs (kernels expect a hole here)
//   0x000a_0000 - 0x000d_ffff  legacy VGA/ROM hole: not RAM in e820
//   0x000e_0000 - 0x000f_ffff  ACPI tables, RSDP first: the range Linux scans for "RSD PTR "
//                              when no RSDP address is passed (ACPI 6.5 §5.2.5.1)
//   0x0010_0000 - low_ram_end  kernel (at 1 MiB or its pref_address), initrd at the top
//   0xc000_0000 - 0xffff_ffff  32-bit MMIO hole (3 GiB - 4 GiB), never RAM:
//       0xd000_0000 + n*4 KiB    virtio-mmio device windows
//       0xfec0_0000              IOAPIC (the address every PC OS assumes, also in the MADT)
//       0xfee0_0000              local APIC (architectural default of IA32_APIC_BASE)
//       0xff00_0000 - 4 GiB      firmware region (OVMF/TDVF; 16 MiB, ends at the reset vector)
//   0x1_0000_0000 -            high RAM: whatever did not fit below the hole
// There is no MP table: CPUs, the IOAPIC and interrupt overrides are described by the ACPI
// MADT only, so a guest booted with acpi=off sees one CPU.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cvm::vmm::x86 {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;
inline constexpr uint64_t kPageSize = 4 * kKiB;

// ---- Fixed low-memory structures (all below 1 MiB, page aligned) ----
/// Boot GDT (64-bit: null, null, code64 at 0x10, data at 0x18, TSS at 0x20; see boot_cpu.h).
inline constexpr uint64_t kGdtAddress = 0x1000;
/// Identity-map page tables: PML4 here, PDPT at +0x1000, up to 4 PDs at +0x2000..+0x5fff.
inline constexpr uint64_t kPageTablesAddress = 0x2000;
inline constexpr uint64_t kPageTablesEnd = 0x8000;
/// PVH hvm_start_info (Xen start_info.h), followed in the same page by the module list.
inline constexpr uint64_t kPvhStartInfoAddress = 0x8000;
/// PVH memory map (one page = 170 entries of 24 bytes).
inline constexpr uint64_t kPvhMemmapAddress = 0x9000;
/// Linux zero page (boot_params, Documentation/arch/x86/zero-page.rst).
inline constexpr uint64_t kZeroPageAddress = 0xa000;
/// Initial RSP: top of the boot stack page [0xb000, 0xc000). Neither entry needs a stack,
/// but a valid RSP makes an early fault land somewhere harmless and visible.
inline constexpr uint64_t kBootStackTop = 0xc000;
/// Kernel command line; 64 KiB reserved (x86 COMMAND_LINE_SIZE is 2048; cmdline_size caps it).
inline constexpr uint64_t kCmdlineAddress = 0x20000;
inline constexpr uint64_t kCmdlineMaxBytes = 0x10000;
/// End of conventional RAM: [kEbdaStart, 640 KiB) is the Extended BIOS Data Area.
inline constexpr uint64_t kEbdaStart = 0x9fc00;
inline constexpr uint64_t kLegacyHoleStart = 0xa0000;
/// ACPI tables (RSDP first, 16-byte aligned as the RSDP scan requires).
inline constexpr uint64_t kAcpiTablesAddress = 0xe0000;
inline constexpr uint64_t kAcpiTablesEnd = 0x100000;
/// Lowest address a kernel segment or initrd may occupy: everything below is ours.
inline constexpr uint64_t kKernelMinAddress = 0x100000;

// ---- 32-bit MMIO hole [3 GiB, 4 GiB) ----
inline constexpr uint64_t kMmioHoleStart = 3 * kGiB;
inline constexpr uint64_t kMmioHoleEnd = 4 * kGiB;
/// virtio-mmio windows: slot n at kVirtioMmioBase + n * kVirtioMmioSlotSize (virtio 1.2
/// §4.2.2: the register block is 0x100 bytes plus config space; 4 KiB keeps slots page aligned).
inline constexpr uint64_t kVirtioMmioBase = 0xd0000000;
inline constexpr uint64_t kVirtioMmioSlotSize = 0x1000;
inline constexpr uint32_t kVirtioMmioMaxSlots = 19;  // IRQs 5..23, see kVirtioMmioFirstIrq
/// IOAPIC MMIO base and pins (82093AA datasheet default; KVM's split irqchip emulates 24 pins).
inline constexpr uint64_t kIoapicAddress = 0xfec00000;
inline constexpr uint32_t kIoapicPins = 24;
/// Local APIC base (Intel SDM Vol. 3A §11.4.4, IA32_APIC_BASE reset value).
inline constexpr uint64_t kLapicAddress = 0xfee00000;
/// Firmware (OVMF/TDVF) is mapped so that it ends at 4 GiB, where the reset vector is.
inline constexpr uint64_t kFirmwareStart = 0xff000000;
inline constexpr uint64_t kFirmwareEnd = 4 * kGiB;
/// RAM that does not fit below the hole continues here.
inline constexpr uint64_t kHighRamStart = 4 * kGiB;

// ---- Port I/O and legacy IRQs (devices/ mirrors these values) ----
/// 16550 UART COM1 (PC convention): 8 ports, ISA IRQ 4.
inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint16_t kCom1PortCount = 8;
inline constexpr uint32_t kCom1Irq = 4;
/// i8042 keyboard controller: data 0x60, command/status 0x64, IRQ 1. Used for reboot=k.
inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kI8042CommandPort = 0x64;
inline constexpr uint32_t kI8042Irq = 1;
/// ACPI power-off device (hardware-reduced ACPI, ACPI 6.5 §4.8.3.7 / §5.2.9 FADT
/// SLEEP_CONTROL_REG and SLEEP_STATUS_REG). One-byte I/O registers; 0x600 is free on PCs.
/// The guest enters S5 by writing (kAcpiSleepTypeS5 << 2) | kAcpiSleepEnable = 0x34 to the
/// control port; the status port reads as 0 (bit 7 WAK_STS never set).
inline constexpr uint16_t kAcpiSleepControlPort = 0x600;
inline constexpr uint16_t kAcpiSleepStatusPort = 0x601;
/// FADT RESET_REG: writing kAcpiResetValue here asks for a reboot (reboot=a).
inline constexpr uint16_t kAcpiResetPort = 0x602;
inline constexpr uint8_t kAcpiResetValue = 0x01;
/// SLP_TYP value of the \_S5_ package in our DSDT, and SLP_EN (ACPI 6.5 §4.8.3.7 Table 4.18).
inline constexpr uint8_t kAcpiSleepTypeS5 = 5;
inline constexpr uint8_t kAcpiSleepEnable = 0x20;
inline constexpr uint8_t kAcpiSleepTypeShift = 2;
/// First IOAPIC pin handed to virtio-mmio devices: pins 0-4 are legacy (timer, i8042, cascade,
/// COM2, COM1); slot n gets pin 5 + n, up to pin 23.
inline constexpr uint32_t kVirtioMmioFirstIrq = 5;

/// A virtio-mmio device window and its interrupt (shared by ACPI and the command line).
struct VirtioMmioSlot {
  uint64_t base = 0;
  uint64_t size = kVirtioMmioSlotSize;
  uint32_t irq = 0;
};

/// The window and IRQ of virtio-mmio slot `index`.
/// Errors: kInvalidArgument when index >= kVirtioMmioMaxSlots.
[[nodiscard]] Result<VirtioMmioSlot> virtio_mmio_slot(uint32_t index);

/// One contiguous range of guest RAM.
struct RamRegion {
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint64_t end() const noexcept { return gpa + size; }
};

/// Where the configured RAM lands: low RAM [0, low_ram_end) and high RAM from 4 GiB.
struct MemoryLayout {
  uint64_t ram_bytes = 0;
  uint64_t low_ram_end = 0;     // exclusive; min(ram_bytes, kMmioHoleStart)
  uint64_t high_ram_bytes = 0;  // RAM at [kHighRamStart, kHighRamStart + high_ram_bytes)

  /// The one or two RAM regions, low first (these are the KVM memory slots).
  std::vector<RamRegion> ram_regions() const;
};

/// Largest firmware image: the whole firmware region [kFirmwareStart, 4 GiB).
inline constexpr uint64_t kMaxFirmwareBytes = kFirmwareEnd - kFirmwareStart;

/// Where a firmware image of `image_bytes` is mapped for a plain (non-TEE) firmware boot: it
/// ends at 4 GiB, so its last 16 bytes hold the reset vector at 0xfffffff0 (Intel SDM Vol. 3A
/// §9.1.4 "First Instruction Executed"). Errors: kInvalidArgument, naming `path`, when the
/// size is 0, not a multiple of 4 KiB, or above kMaxFirmwareBytes.
[[nodiscard]] Result<RamRegion> firmware_region(uint64_t image_bytes, std::string_view path);

/// Smallest RAM cvmm accepts: the fixed structures end at 1 MiB and a Linux kernel with its
/// decompression buffer (init_size) needs well over 8 MiB more.
inline constexpr uint64_t kMinRamBytes = 16 * kMiB;
/// Largest RAM: keeps every guest-physical address below 2^40 (1 TiB), which every x86-64
/// CPU and KVM configuration we target can address.
inline constexpr uint64_t kMaxRamBytes = (1ull << 40) - kHighRamStart;

/// Splits `ram_bytes` around the MMIO hole.
/// Errors: kInvalidArgument if ram_bytes is not a multiple of 4 KiB, below kMinRamBytes or
/// above kMaxRamBytes.
[[nodiscard]] Result<MemoryLayout> compute_memory_layout(uint64_t ram_bytes);

}  // namespace cvm::vmm::x86
