// SPDX-License-Identifier: Apache-2.0
// The "etc/table-loader" fw_cfg file: a script of 128-byte commands with which firmware places
// fw_cfg blobs (ACPI tables) in guest memory and links them (QEMU hw/acpi/bios-linker-loader.c;
// consumers: edk2 OvmfPkg/AcpiPlatformDxe/QemuFwCfgAcpi.c, SeaBIOS src/fw/romfile_loader.c).
// All integers little-endian; file names are NUL-terminated in 56 bytes (55 characters).
//
//   @0 command u32: 1 ALLOCATE, 2 ADD_POINTER, 3 ADD_CHECKSUM (4 WRITE_POINTER is not used)
//   ALLOCATE:     file[56] @4, align u32 @60 (power of two; OVMF refuses > 4096),
//                 zone u8 @64 (1 HIGH, 2 FSEG = the 0xe0000-0xfffff BIOS segment)
//   ADD_POINTER:  dest_file[56] @4, src_file[56] @60, offset u32 @116, size u8 @120 (1/2/4/8):
//                 dest[offset..+size] += address of src (the field holds an offset into src)
//   ADD_CHECKSUM: file[56] @4, result_offset u32 @60, start u32 @64, length u32 @68:
//                 file[result_offset] = 0 - sum(file[start..+length]) (OVMF overwrites the byte,
//                 SeaBIOS subtracts the sum from it; both agree when the byte starts as 0)
//   the remaining bytes up to 128 are zero.
// Pure; included by vmm/x86/acpi and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"

namespace cvm::devices::fw_cfg {

inline constexpr std::size_t kLoaderCommandSize = 128;
inline constexpr std::size_t kLoaderFileNameSize = 56;
inline constexpr uint32_t kLoaderAllocate = 1;
inline constexpr uint32_t kLoaderAddPointer = 2;
inline constexpr uint32_t kLoaderAddChecksum = 3;
inline constexpr uint32_t kLoaderMaxAlign = 4096;  // OVMF ProcessCmdAllocate

enum class LoaderZone : uint8_t { kHigh = 1, kFseg = 2 };

struct LoaderAllocate {
  std::string file;
  uint32_t align = 0;
  LoaderZone zone = LoaderZone::kHigh;
  friend bool operator==(const LoaderAllocate&, const LoaderAllocate&) = default;
};

struct LoaderAddPointer {
  std::string dest_file;
  std::string src_file;
  uint32_t offset = 0;
  uint8_t size = 0;
  friend bool operator==(const LoaderAddPointer&, const LoaderAddPointer&) = default;
};

struct LoaderAddChecksum {
  std::string file;
  uint32_t result_offset = 0;
  uint32_t start = 0;
  uint32_t length = 0;
  friend bool operator==(const LoaderAddChecksum&, const LoaderAddChecksum&) = default;
};

using LoaderCommand = std::variant<LoaderAllocate, LoaderAddPointer, LoaderAddChecksum>;

/// The script bytes for `commands`, in the given order.
/// Errors: kInvalidArgument for an empty or over-long (> 55) file name, an alignment that is
/// not a power of two or exceeds 4096, or a pointer size other than 1, 2, 4, 8.
[[nodiscard]] Result<std::vector<std::byte>> encode_table_loader(
    std::span<const LoaderCommand> commands);

/// Parses a script as firmware does. Unknown command numbers are skipped (OVMF and SeaBIOS
/// ignore them). Errors: kMalformedImage when the size is not a multiple of 128 or a file
/// name is not NUL-terminated within 56 bytes.
[[nodiscard]] Result<std::vector<LoaderCommand>> parse_table_loader(
    std::span<const std::byte> script);

}  // namespace cvm::devices::fw_cfg
