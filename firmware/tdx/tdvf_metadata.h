// SPDX-License-Identifier: Apache-2.0
// TDVF metadata: the table inside a TDX-capable OVMF image that tells the VMM which parts of
// the image go where in TD private memory and which of them are measured into MRTD
// (tee-kvm-reference.md §2.6; Intel TDX Virtual Firmware Design Guide §11; td-shim spec
// "TDVF metadata"). Pure parsing: a byte span in, validated values out.
//
// Location: the OVMF footer GUID table entry e47a6535-984a-4798-865e-4685a7bf8ec2 holds a
// u32 offset *from the end* of the image to the descriptor; images without that entry use the
// legacy u32 at end-0x20, a *file offset*. Either way the 16-byte TDVF metadata GUID
// e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae must sit immediately before the descriptor.
//
// Descriptor (16 bytes, then N sections of 32 bytes):
//   @0  Signature            u32  "TDVF" (0x46564454)
//   @4  Length               u32  16 + 32*N
//   @8  Version              u32  1
//   @12 NumberOfSectionEntry u32  N
// Section:
//   @0  DataOffset      u32  offset of the raw bytes in the image file
//   @4  RawDataSize     u32  bytes copied from the image (rest of the range is zero)
//   @8  MemoryAddress   u64  GPA, 4 KiB aligned
//   @16 MemoryDataSize  u64  4 KiB aligned, >= RawDataSize
//   @24 Type            u32  TdvfSectionType
//   @28 Attributes      u32  bit0 MR.EXTEND, bit1 PAGE.AUG, bits 2-31 reserved (zero)
#pragma once

#include "base/result.h"
#include "firmware/guid.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cvm::firmware::tdx {

/// Precedes the "TDVF" descriptor in the image (edk2 OvmfPkg/ResetVector/X64/IntelTdxMetadata).
inline constexpr Guid kTdvfMetadataGuid = Guid::parse("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");
inline constexpr uint32_t kTdvfSignature = 0x46564454;  // "TDVF" read as a LE u32
inline constexpr uint32_t kTdvfVersion = 1;
inline constexpr std::size_t kTdvfDescriptorSize = 16;
inline constexpr std::size_t kTdvfSectionSize = 32;
inline constexpr uint64_t kTdxPageSize = 4096;

/// Section types (td-shim spec Table 1.1-4; TDVF design guide Table 11-2).
enum class TdvfSectionType : uint32_t {
  kBfv = 0,           // boot firmware volume: PAGE.ADD (+ MR.EXTEND), holds the reset vector
  kCfv = 1,           // configuration volume (variable store): PAGE.ADD
  kTdHob = 2,         // VMM-built HOB list: PAGE.ADD of the HOB bytes
  kTempMem = 3,       // zeroed working memory: PAGE.ADD
  kPermMem = 4,       // PAGE.AUG: accepted later by the TD
  kPayload = 5,       // td-shim payload (kernel)
  kPayloadParam = 6,  // td-shim payload parameters (command line)
  kTdInfo = 7,        // TD_INFO structure inside the BFV; no memory of its own
};

inline constexpr uint32_t kTdvfAttributeMrExtend = 1u << 0;
inline constexpr uint32_t kTdvfAttributePageAug = 1u << 1;
inline constexpr uint32_t kTdvfAttributeReservedMask =
    ~(kTdvfAttributeMrExtend | kTdvfAttributePageAug);

/// "BFV", "CFV", "TD_HOB", "TempMem", "PermMem", "Payload", "PayloadParam", "TD_INFO".
std::string_view section_type_name(TdvfSectionType type) noexcept;

struct TdvfSection {
  uint32_t data_offset = 0;
  uint32_t raw_data_size = 0;
  uint64_t memory_address = 0;
  uint64_t memory_data_size = 0;
  TdvfSectionType type = TdvfSectionType::kBfv;
  uint32_t attributes = 0;

  bool mr_extend() const noexcept { return (attributes & kTdvfAttributeMrExtend) != 0; }
  bool page_aug() const noexcept { return (attributes & kTdvfAttributePageAug) != 0; }
};

/// How the descriptor was found.
enum class TdvfLocator {
  kFooterTable,   // OVMF footer GUID e47a6535-...: offset from the end of the image
  kLegacyOffset,  // u32 file offset at end-0x20 (td-shim, early TDVF)
};

struct TdvfMetadata {
  /// File offset of the "TDVF" signature.
  std::size_t descriptor_offset = 0;
  TdvfLocator locator = TdvfLocator::kFooterTable;
  /// Sections in metadata order: the order the VMM must add (and the TDX module measure) them.
  std::vector<TdvfSection> sections;

  /// The TD_HOB section, or nullptr when the image has none.
  const TdvfSection* td_hob() const noexcept;
};

/// Locates and validates the TDVF metadata of a whole firmware image. kNotFound if the image
/// carries no TDVF metadata at all; kMalformedImage naming the section index and field for
/// every rule of tee-kvm-reference.md §2.6 that fails: signature, length, version, count,
/// known type, reserved attribute bits, 4 KiB alignment, RawDataSize <= MemoryDataSize, raw
/// bytes inside the image, GPA ranges without overflow and without overlap, per-type rules
/// (BFV/CFV carry bytes, TD_HOB/TempMem/PermMem do not, at most one TD_HOB, exactly one BFV).
Result<TdvfMetadata> parse_tdvf_metadata(std::span<const std::byte> image);

}  // namespace cvm::firmware::tdx
