// SPDX-License-Identifier: Apache-2.0
// bzImage parsing (Documentation/arch/x86/boot.rst, "The real-mode kernel header").
#include <algorithm>
#include <bit>

#include "base/byte_reader.h"
#include "base/checked.h"
#include "vmm/x86/kernel_image.h"
#include "vmm/x86/layout.h"
#include "vmm/x86/setup_header.h"

namespace cvm::vmm::x86 {
namespace {

using namespace boot;  // NOLINT: offsets only

constexpr uint16_t kMinVersion = 0x0206;     // cmdline_size exists from 2.06
constexpr uint16_t kVersionPrefAddress = 0x020a;  // pref_address, init_size
constexpr uint16_t kVersionXloadflags = 0x020c;
constexpr uint64_t kLegacyLoadAddress = 0x100000;  // protected-mode kernel before 2.10

/// The setup header's last byte offset a given protocol version must cover.
std::size_t required_header_end(uint16_t version) {
  return version >= kVersionPrefAddress ? kInitSize + 4 : kCmdlineSize + 4;
}

Result<void> check_magic(const ByteReader& r) {
  CVM_ASSIGN_OR_RETURN(auto magic, r.le<uint32_t>(kHeader, "header magic"));
  if (magic != kHeaderMagic) {
    return make_error(ErrorCode::kMalformedImage,
                      "bzImage: header magic at 0x202 is {:#x}, not \"HdrS\"", magic);
  }
  CVM_ASSIGN_OR_RETURN(auto boot_flag, r.le<uint16_t>(kBootFlag, "boot_flag"));
  if (boot_flag != kBootFlagMagic) {
    return make_error(ErrorCode::kMalformedImage, "bzImage: boot_flag is {:#x}, not 0xaa55",
                      boot_flag);
  }
  return ok();
}

/// Reads the header length byte at 0x201 and returns the header's span from 0x1f1.
Result<std::span<const std::byte>> header_span(const ByteReader& r, uint16_t version) {
  CVM_ASSIGN_OR_RETURN(auto jump_len, r.le<uint8_t>(kJump + 1, "setup header length"));
  const std::size_t end = kHeader + jump_len;
  if (end < required_header_end(version)) {
    return make_error(ErrorCode::kMalformedImage,
                      "bzImage: setup header ends at {:#x}, before the fields of boot "
                      "protocol {:#x} (need {:#x})",
                      end, version, required_header_end(version));
  }
  return r.slice(kSetupSects, std::min(end, kSetupHeaderLimit) - kSetupSects,
                 "setup header");
}

Result<void> read_payload(const ByteReader& r, BzImageInfo& info) {
  CVM_ASSIGN_OR_RETURN(auto setup_sects, r.le<uint8_t>(kSetupSects, "setup_sects"));
  // setup_sects 0 means 4 (boot.rst); the boot sector itself adds one more.
  const uint32_t sects = setup_sects == 0 ? 4u : setup_sects;
  info.setup_bytes = (sects + 1u) * 512u;
  if (info.setup_bytes >= r.size()) {
    return make_error(ErrorCode::kMalformedImage,
                      "bzImage: setup_sects {} puts the kernel at {:#x}, past the end "
                      "(size {:#x})",
                      setup_sects, info.setup_bytes, r.size());
  }
  CVM_ASSIGN_OR_RETURN(info.syssize, r.le<uint32_t>(kSyssize, "syssize"));
  auto sys_bytes = checked_mul<uint64_t>(info.syssize, 16);
  const uint64_t available = r.size() - info.setup_bytes;
  if (!sys_bytes || *sys_bytes > available || *sys_bytes == 0) {
    return make_error(ErrorCode::kMalformedImage,
                      "bzImage: syssize {:#x} (x16) does not match the {:#x} bytes after "
                      "the setup code",
                      info.syssize, available);
  }
  // Bytes past syssize * 16 (e.g. an appended signature) are not part of the kernel.
  info.payload = r.bytes().subspan(info.setup_bytes, static_cast<std::size_t>(*sys_bytes));
  return ok();
}

Result<void> read_fields(const ByteReader& r, BzImageInfo& info) {
  CVM_ASSIGN_OR_RETURN(info.loadflags, r.le<uint8_t>(kLoadflags, "loadflags"));
  if ((info.loadflags & kLoadedHigh) == 0) {
    return make_error(ErrorCode::kMalformedImage,
                      "bzImage: loadflags LOADED_HIGH is clear (a zImage, not supported)");
  }
  CVM_ASSIGN_OR_RETURN(info.initrd_addr_max, r.le<uint32_t>(kInitrdAddrMax, "initrd_addr_max"));
  CVM_ASSIGN_OR_RETURN(info.kernel_alignment,
                       r.le<uint32_t>(kKernelAlignment, "kernel_alignment"));
  CVM_ASSIGN_OR_RETURN(auto relocatable, r.le<uint8_t>(kRelocatableKernel, "relocatable_kernel"));
  info.relocatable = relocatable != 0;
  CVM_ASSIGN_OR_RETURN(info.cmdline_size, r.le<uint32_t>(kCmdlineSize, "cmdline_size"));
  info.pref_address = kLegacyLoadAddress;
  if (info.version >= kVersionPrefAddress) {
    CVM_ASSIGN_OR_RETURN(info.pref_address, r.le<uint64_t>(kPrefAddress, "pref_address"));
    CVM_ASSIGN_OR_RETURN(info.init_size, r.le<uint32_t>(kInitSize, "init_size"));
  }
  if (info.version >= kVersionXloadflags) {
    CVM_ASSIGN_OR_RETURN(info.xloadflags, r.le<uint16_t>(kXloadflags, "xloadflags"));
  }
  return ok();
}

}  // namespace

Result<BzImageInfo> parse_bzimage(std::span<const std::byte> image) {
  const ByteReader r(image, "bzImage");
  CVM_TRY(check_magic(r));
  BzImageInfo info;
  CVM_ASSIGN_OR_RETURN(info.version, r.le<uint16_t>(kVersion, "version"));
  if (info.version < kMinVersion) {
    return make_error(ErrorCode::kMalformedImage,
                      "bzImage: boot protocol {}.{:02} is too old (need 2.06 or later)",
                      info.version >> 8, info.version & 0xff);
  }
  CVM_ASSIGN_OR_RETURN(info.setup_header, header_span(r, info.version));
  CVM_TRY(read_payload(r, info));
  CVM_TRY(read_fields(r, info));
  return info;
}

namespace {

/// The load address: pref_address when the kernel fits there, else (relocatable kernels)
/// the first kernel_alignment boundary at or above 1 MiB.
Result<uint64_t> choose_load_address(const BzImageInfo& info, uint64_t footprint,
                                     uint64_t ram_end) {
  auto fits = [&](uint64_t at) {
    return at >= kKernelMinAddress && range_within<uint64_t>(at, footprint, ram_end);
  };
  if (fits(info.pref_address)) {
    return info.pref_address;
  }
  if (info.relocatable) {
    if (!std::has_single_bit(info.kernel_alignment)) {
      return make_error(ErrorCode::kMalformedImage,
                        "bzImage: kernel_alignment {:#x} is not a power of two",
                        info.kernel_alignment);
    }
    auto at = checked_align_up<uint64_t>(kKernelMinAddress, info.kernel_alignment);
    if (at && fits(*at)) {
      return *at;
    }
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "bzImage needs {:#x} bytes at {:#x}{} but low guest ram ends at {:#x}",
                    footprint, info.pref_address, info.relocatable ? " (relocatable)" : "",
                    ram_end);
}

}  // namespace

Result<LoadedKernel> load_bzimage(std::span<const std::byte> image, std::span<std::byte> ram) {
  CVM_ASSIGN_OR_RETURN(auto info, parse_bzimage(image));
  if ((info.xloadflags & kXlfKernel64) == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bzImage has no 64-bit entry point (boot protocol {:#x}, xloadflags "
                      "XLF_KERNEL_64 clear)",
                      info.version);
  }
  const uint64_t footprint = std::max<uint64_t>(info.init_size, info.payload.size());
  CVM_ASSIGN_OR_RETURN(auto load, choose_load_address(info, footprint, ram.size()));
  // Bounds: choose_load_address checked [load, load + footprint) within ram, and
  // footprint >= payload.size().
  std::copy(info.payload.begin(), info.payload.end(), ram.begin() + static_cast<long>(load));
  LoadedKernel kernel;
  kernel.format = KernelFormat::kBzImage;
  kernel.entry64 = load + kEntry64Offset;
  kernel.start = load;
  kernel.end = load + footprint;
  kernel.setup_header.assign(info.setup_header.begin(), info.setup_header.end());
  kernel.cmdline_max = info.cmdline_size;
  kernel.initrd_addr_max = info.initrd_addr_max;
  return kernel;
}

}  // namespace cvm::vmm::x86
