// SPDX-License-Identifier: Apache-2.0
#include "firmware/fw_cfg_kernel.h"

#include "base/byte_reader.h"

namespace cvm::firmware {
namespace {

constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS" little-endian
constexpr uint16_t kMinBootProtocol = 0x200;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr std::size_t kDefaultSetupSects = 4;

}  // namespace

Result<FwCfgKernelParts> split_bzimage_for_fw_cfg(std::span<const std::byte> image) {
  const ByteReader reader(image, "kernel");
  auto magic = reader.le<uint32_t>(kBzHeaderMagicOffset, "setup header magic");
  if (!magic || *magic != kHdrSMagic) {
    return make_error(ErrorCode::kMalformedImage,
                      "kernel: not a bzImage (no \"HdrS\" setup header at {:#x}); firmware "
                      "direct boot takes a bzImage",
                      kBzHeaderMagicOffset);
  }
  CVM_ASSIGN_OR_RETURN(const uint16_t version, reader.le<uint16_t>(kBzVersionOffset, "version"));
  CVM_ASSIGN_OR_RETURN(const uint8_t loadflags,
                       reader.le<uint8_t>(kBzLoadflagsOffset, "loadflags"));
  if (version < kMinBootProtocol || (loadflags & kLoadedHigh) == 0) {
    return make_error(ErrorCode::kMalformedImage,
                      "kernel: boot protocol {:#06x} with loadflags {:#04x} is a zImage, not a "
                      "bzImage (needs protocol >= 2.00 and LOADED_HIGH)",
                      version, loadflags);
  }
  CVM_ASSIGN_OR_RETURN(const uint8_t setup_sects,
                       reader.le<uint8_t>(kBzSetupSectsOffset, "setup_sects"));
  const std::size_t sectors = (setup_sects == 0 ? kDefaultSetupSects : setup_sects) + 1;
  const std::size_t setup_size = sectors * kBzSectorSize;
  if (setup_size >= image.size()) {
    return make_error(ErrorCode::kMalformedImage,
                      "kernel: setup of {:#x} bytes ({} sectors) leaves no kernel in a {:#x}-byte "
                      "file",
                      setup_size, sectors, image.size());
  }
  return FwCfgKernelParts{image.first(setup_size), image.subspan(setup_size)};
}

std::vector<std::byte> fw_cfg_cmdline(std::string_view cmdline) {
  std::vector<std::byte> bytes(cmdline.size() + 1);
  for (std::size_t i = 0; i < cmdline.size(); ++i) {
    bytes[i] = static_cast<std::byte>(cmdline[i]);
  }
  return bytes;  // the last byte stays 0: the NUL
}

}  // namespace cvm::firmware
