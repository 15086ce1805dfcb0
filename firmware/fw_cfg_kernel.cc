// SPDX-License-Identifier: Apache-2.0
#include "firmware/fw_cfg_kernel.h"

#include <algorithm>
#include <array>
#include <string>

#include <fmt/format.h>

#include "base/byte_reader.h"

namespace cvm::firmware {
namespace {

constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS" little-endian
constexpr uint16_t kMinBootProtocol = 0x200;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr std::size_t kDefaultSetupSects = 4;
/// Bytes the checks below read: through loadflags (the last field they need).
constexpr std::size_t kHeaderBytes = kBzLoadflagsOffset + 1;
constexpr std::array<std::byte, 4> kElfMagic = {std::byte{0x7f}, std::byte{'E'}, std::byte{'L'},
                                                 std::byte{'F'}};

Error not_for_firmware_boot(std::string reason) {
  return make_error(ErrorCode::kMalformedImage,
                    "firmware direct boot needs a bzImage (the firmware loads the kernel through "
                    "fw_cfg): {}",
                    reason);
}

/// Setup bytes (boot sector included) of a bzImage the firmware can take.
Result<std::size_t> firmware_boot_setup_size(std::span<const std::byte> image) {
  if (image.size() >= kElfMagic.size() &&
      std::equal(kElfMagic.begin(), kElfMagic.end(), image.begin())) {
    return not_for_firmware_boot("this is an ELF vmlinux");
  }
  if (image.size() < kHeaderBytes) {
    return not_for_firmware_boot(fmt::format(
        "a {}-byte file is too short for a setup header ({:#x} bytes)", image.size(),
        kHeaderBytes));
  }
  // Bounds: every read below lies inside the first kHeaderBytes, checked above.
  const ByteReader reader(image, "kernel");
  CVM_ASSIGN_OR_RETURN(const uint32_t magic, reader.le<uint32_t>(kBzHeaderMagicOffset, "magic"));
  if (magic != kHdrSMagic) {
    return not_for_firmware_boot(
        fmt::format("no \"HdrS\" setup header at {:#x}", kBzHeaderMagicOffset));
  }
  CVM_ASSIGN_OR_RETURN(const uint16_t version, reader.le<uint16_t>(kBzVersionOffset, "version"));
  CVM_ASSIGN_OR_RETURN(const uint8_t loadflags,
                       reader.le<uint8_t>(kBzLoadflagsOffset, "loadflags"));
  if (version < kMinBootProtocol || (loadflags & kLoadedHigh) == 0) {
    return not_for_firmware_boot(fmt::format(
        "boot protocol {:#06x} with loadflags {:#04x} is a zImage (needs protocol >= 2.00 and "
        "LOADED_HIGH)",
        version, loadflags));
  }
  CVM_ASSIGN_OR_RETURN(const uint8_t setup_sects,
                       reader.le<uint8_t>(kBzSetupSectsOffset, "setup_sects"));
  const std::size_t sectors = (setup_sects == 0 ? kDefaultSetupSects : setup_sects) + 1;
  const std::size_t setup_size = sectors * kBzSectorSize;
  if (setup_size >= image.size()) {
    return not_for_firmware_boot(
        fmt::format("setup of {:#x} bytes ({} sectors) leaves no kernel in a {:#x}-byte file",
                    setup_size, sectors, image.size()));
  }
  return setup_size;
}

}  // namespace

Result<void> check_firmware_boot_kernel(std::span<const std::byte> image) {
  CVM_TRY(firmware_boot_setup_size(image));
  return ok();
}

Result<FwCfgKernelParts> split_bzimage_for_fw_cfg(std::span<const std::byte> image) {
  auto setup_size = firmware_boot_setup_size(image);
  if (!setup_size) {
    return std::move(setup_size).error().context("kernel");
  }
  return FwCfgKernelParts{image.first(*setup_size), image.subspan(*setup_size)};
}

std::vector<std::byte> fw_cfg_cmdline(std::string_view cmdline) {
  std::vector<std::byte> bytes(cmdline.size() + 1);
  for (std::size_t i = 0; i < cmdline.size(); ++i) {
    bytes[i] = static_cast<std::byte>(cmdline[i]);
  }
  return bytes;  // the last byte stays 0: the NUL
}

}  // namespace cvm::firmware
