// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/direct_boot.h"

#include <algorithm>

#include "vmm/x86/e820.h"
#include "vmm/x86/pvh.h"
#include "vmm/x86/zero_page.h"

namespace cvm::vmm::x86 {
namespace {

Result<void> write_all(std::span<std::byte> ram, std::span<const GuestBlob> blobs) {
  for (const GuestBlob& blob : blobs) {
    CVM_TRY(write_blob(ram, 0, blob));
  }
  return ok();
}

Result<void> load_initrd(std::span<std::byte> ram, const DirectBootSpec& spec, DirectBoot& boot) {
  if (spec.initrd.empty()) {
    return ok();
  }
  CVM_ASSIGN_OR_RETURN(boot.initrd_gpa, place_initrd(spec.initrd.size(), boot.kernel, ram.size()));
  boot.initrd_size = spec.initrd.size();
  // Bounds: place_initrd keeps [initrd_gpa, initrd_gpa + size) below ram.size().
  std::copy(spec.initrd.begin(), spec.initrd.end(),
            ram.begin() + static_cast<long>(boot.initrd_gpa));
  return ok();
}

Result<void> write_cmdline(std::span<std::byte> ram, const DirectBootSpec& spec,
                           DirectBoot& boot) {
  CmdlineSpec cmdline = spec.cmdline;
  cmdline.max_length = std::min(cmdline.max_length, boot.kernel.cmdline_max);
  CVM_ASSIGN_OR_RETURN(boot.cmdline, build_kernel_cmdline(cmdline));
  GuestBlob blob{.gpa = kCmdlineAddress, .bytes = {}, .label = "kernel command line"};
  ByteAppender(blob.bytes).chars(boot.cmdline);
  blob.bytes.push_back(std::byte{0});
  return write_blob(ram, 0, blob);
}

Result<void> write_linux64(std::span<std::byte> ram, const MemoryLayout& layout,
                           const DirectBootSpec& spec, DirectBoot& boot) {
  const std::vector<E820Entry> e820 = build_e820_map(layout);
  CVM_ASSIGN_OR_RETURN(auto zero_page,
                       build_zero_page({.setup_header = boot.kernel.setup_header,
                                        .cmdline_gpa = kCmdlineAddress,
                                        .cmdline_size = static_cast<uint32_t>(boot.cmdline.size()),
                                        .initrd_gpa = boot.initrd_gpa,
                                        .initrd_size = boot.initrd_size,
                                        .acpi_rsdp_gpa = boot.rsdp_gpa,
                                        .e820 = e820}));
  CVM_ASSIGN_OR_RETURN(auto tables,
                       build_identity_page_tables(spec.identity_map_gib, IdentityPageSize::k2MiB));
  const GuestBlob blobs[] = {std::move(zero_page), std::move(tables),
                             build_boot_gdt(BootEntry::kLinux64)};
  CVM_TRY(write_all(ram, blobs));
  boot.entry = BootEntry::kLinux64;
  boot.bsp = linux64_boot_state(boot.kernel.entry64, kZeroPageAddress);
  return ok();
}

Result<void> write_pvh(std::span<std::byte> ram, const MemoryLayout& layout, DirectBoot& boot) {
  if (!boot.kernel.pvh_entry) {
    return make_error(ErrorCode::kInvalidArgument,
                      "pvh boot needs an ELF vmlinux with a XEN_ELFNOTE_PHYS32_ENTRY note "
                      "(CONFIG_PVH)");
  }
  const std::vector<E820Entry> e820 = build_e820_map(layout);
  CVM_ASSIGN_OR_RETURN(auto blobs, build_pvh_start_info({.cmdline_gpa = kCmdlineAddress,
                                                         .initrd_gpa = boot.initrd_gpa,
                                                         .initrd_size = boot.initrd_size,
                                                         .rsdp_gpa = boot.rsdp_gpa,
                                                         .memmap = e820}));
  blobs.push_back(build_boot_gdt(BootEntry::kPvh32));
  CVM_TRY(write_all(ram, blobs));
  boot.entry = BootEntry::kPvh32;
  boot.bsp = pvh_boot_state(*boot.kernel.pvh_entry, static_cast<uint32_t>(kPvhStartInfoAddress));
  return ok();
}

}  // namespace

Result<DirectBoot> prepare_direct_boot(std::span<std::byte> low_ram, const MemoryLayout& layout,
                                       const DirectBootSpec& spec) {
  if (low_ram.size() != layout.low_ram_end) {
    return make_error(ErrorCode::kInvalidArgument,
                      "low guest ram span is {:#x} bytes but the layout says {:#x}",
                      low_ram.size(), layout.low_ram_end);
  }
  DirectBoot boot;
  auto kernel = load_kernel(spec.kernel, low_ram);
  if (!kernel) {
    return std::move(kernel).error().context("loading the kernel");
  }
  boot.kernel = std::move(kernel).value();
  if (auto r = load_initrd(low_ram, spec, boot); !r) {
    return std::move(r).error().context("loading the initrd");
  }
  if (auto r = write_cmdline(low_ram, spec, boot); !r) {
    return std::move(r).error().context("writing the kernel command line");
  }
  if (spec.acpi) {
    auto tables = acpi::build_acpi_tables(*spec.acpi);
    if (!tables) {
      return std::move(tables).error().context("building acpi tables");
    }
    CVM_TRY(write_blob(low_ram, 0, tables->blob));
    boot.rsdp_gpa = tables->rsdp_gpa;
  }
  const bool pvh = spec.protocol == BootProtocol::kPvh;
  auto written = pvh ? write_pvh(low_ram, layout, boot) : write_linux64(low_ram, layout, spec, boot);
  if (!written) {
    return std::move(written).error().context(pvh ? "preparing the pvh boot"
                                                   : "preparing the 64-bit boot");
  }
  return boot;
}

}  // namespace cvm::vmm::x86
