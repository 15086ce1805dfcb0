// SPDX-License-Identifier: Apache-2.0
#include "vmm/fw_cfg_items.h"

#include <filesystem>
#include <limits>
#include <system_error>

#include "base/byte_reader.h"
#include "base/file.h"
#include "firmware/fw_cfg_kernel.h"
#include "vmm/x86/acpi/acpi_fw_cfg.h"

namespace cvm::vmm {
namespace {

namespace fw = devices::fw_cfg;

Result<void> add_acpi(fw::FwCfgStoreBuilder& builder, const x86::acpi::AcpiSpec& acpi) {
  CVM_ASSIGN_OR_RETURN(auto tables, x86::acpi::build_fw_cfg_acpi_tables(acpi));
  CVM_TRY(builder.add_file(x86::acpi::kAcpiRsdpFile, fw::FwCfgBytes(std::move(tables.rsdp))));
  CVM_TRY(builder.add_file(x86::acpi::kAcpiTablesFile, fw::FwCfgBytes(std::move(tables.tables))));
  CVM_TRY(builder.add_file(x86::acpi::kTableLoaderFile, fw::FwCfgBytes(std::move(tables.loader))));
  return ok();
}

Result<uint32_t> size32(std::size_t size, std::string_view what) {
  if (size > std::numeric_limits<uint32_t>::max()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} of {:#x} bytes does not fit fw_cfg's 32-bit size", what, size);
  }
  return static_cast<uint32_t>(size);
}

/// Adds SIZE (LE u32) and DATA for [offset, offset + size) of `owner`.
Result<void> add_sized(fw::FwCfgStoreBuilder& builder, uint16_t size_key, uint16_t data_key,
                       const firmware::Blob& owner, std::size_t offset, std::size_t size,
                       std::string_view what) {
  CVM_ASSIGN_OR_RETURN(const uint32_t size32_value, size32(size, what));
  CVM_ASSIGN_OR_RETURN(fw::FwCfgBytes bytes, fw::FwCfgBytes::slice(owner, offset, size));
  CVM_TRY(builder.add_item(size_key, fw::le32_item(size32_value)));
  return builder.add_item(data_key, std::move(bytes));
}

Result<void> add_kernel(fw::FwCfgStoreBuilder& builder, const FwCfgMachineSpec& spec) {
  auto parts = firmware::split_bzimage_for_fw_cfg(*spec.kernel);
  if (!parts) {
    return std::move(parts).error().context("fw_cfg direct boot");
  }
  CVM_TRY(add_sized(builder, fw::kKeySetupSize, fw::kKeySetupData, spec.kernel, 0,
                    parts->setup.size(), "kernel setup"));
  CVM_TRY(add_sized(builder, fw::kKeyKernelSize, fw::kKeyKernelData, spec.kernel,
                    parts->setup.size(), parts->kernel.size(), "kernel"));
  if (spec.initrd && !spec.initrd->empty()) {
    CVM_TRY(add_sized(builder, fw::kKeyInitrdSize, fw::kKeyInitrdData, spec.initrd, 0,
                      spec.initrd->size(), "initrd"));
  }
  auto cmdline = std::make_shared<const std::vector<std::byte>>(
      firmware::fw_cfg_cmdline(spec.cmdline));
  return add_sized(builder, fw::kKeyCmdlineSize, fw::kKeyCmdlineData, cmdline, 0,
                   cmdline->size(), "command line");
}

Result<firmware::Blob> read_blob(const std::string& path, std::string_view what) {
  auto bytes = read_file(path);
  if (!bytes) {
    return std::move(bytes).error().context(what);
  }
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes).value());
}

}  // namespace

std::vector<std::byte> build_e820_fw_cfg_file(std::span<const x86::E820Entry> map) {
  std::vector<std::byte> out(map.size() * kE820FileEntrySize);
  std::span<std::byte> bytes(out);
  for (std::size_t i = 0; i < map.size(); ++i) {
    auto entry = bytes.subspan(i * kE820FileEntrySize, kE820FileEntrySize);
    store_le<uint64_t>(entry.subspan<0, 8>(), map[i].addr);
    store_le<uint64_t>(entry.subspan<8, 8>(), map[i].size);
    store_le<uint32_t>(entry.subspan<16, 4>(), static_cast<uint32_t>(map[i].type));
  }
  return out;
}

Result<fw::FwCfgStore> build_machine_fw_cfg(const FwCfgMachineSpec& spec) {
  fw::FwCfgStoreBuilder builder;
  const auto e820 = x86::build_firmware_e820_map(spec.layout, spec.firmware);
  CVM_TRY(builder.add_file(kE820File, fw::FwCfgBytes(build_e820_fw_cfg_file(e820))));
  CVM_TRY(add_acpi(builder, spec.acpi));
  CVM_TRY(builder.add_item(fw::kKeyRamSize, fw::le64_item(spec.layout.ram_bytes)));
  CVM_TRY(builder.add_item(fw::kKeyNbCpus, fw::le16_item(static_cast<uint16_t>(spec.boot_vcpus))));
  CVM_TRY(builder.add_item(fw::kKeyMaxCpus, fw::le16_item(static_cast<uint16_t>(spec.boot_vcpus))));
  if (spec.kernel) {
    CVM_TRY(add_kernel(builder, spec));
  }
  return std::move(builder).build();
}

Result<FwCfgMachineSpec> fw_cfg_machine_spec(const VmConfig& config,
                                             const x86::MemoryLayout& layout,
                                             std::size_t virtio_count, FwCfgPayload payload) {
  FwCfgMachineSpec spec;
  spec.layout = layout;
  spec.boot_vcpus = config.cpus.boot_vcpus;
  spec.acpi.vcpu_count = config.cpus.boot_vcpus;
  spec.acpi.fw_cfg = true;
  for (std::size_t i = 0; i < virtio_count; ++i) {
    CVM_ASSIGN_OR_RETURN(const x86::VirtioMmioSlot slot,
                         x86::virtio_mmio_slot(static_cast<uint32_t>(i)));
    spec.acpi.virtio_devices.push_back(slot);
  }
  uint64_t firmware_bytes = payload.firmware_bytes;
  if (firmware_bytes == 0 && config.payload.firmware) {
    std::error_code error;
    firmware_bytes = std::filesystem::file_size(*config.payload.firmware, error);
    if (error) {
      return make_error(ErrorCode::kIo, "firmware {}: {}", *config.payload.firmware,
                        error.message());
    }
  }
  CVM_ASSIGN_OR_RETURN(spec.firmware,
                       x86::firmware_region(firmware_bytes, config.payload.firmware.value_or("")));
  spec.kernel = std::move(payload.kernel);
  spec.initrd = std::move(payload.initrd);
  if (!spec.kernel && !config.payload.kernel.empty()) {
    CVM_ASSIGN_OR_RETURN(spec.kernel, read_blob(config.payload.kernel, "reading the kernel"));
  }
  if (!spec.initrd && config.payload.initramfs) {
    CVM_ASSIGN_OR_RETURN(spec.initrd,
                         read_blob(*config.payload.initramfs, "reading the initramfs"));
  }
  spec.cmdline = config.payload.cmdline;
  return spec;
}

}  // namespace cvm::vmm
