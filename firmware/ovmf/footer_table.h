// SPDX-License-Identifier: Apache-2.0
// The OVMF footer GUID table: a list of {GUID, data} entries stored just below the reset
// vector at the end of the firmware image. TDX finds its TDVF metadata and SEV its ASEV
// metadata, hashes area and AP reset vector through it.
// Layout (edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.nasm.inc; QEMU
// hw/i386/pc_sysfw_ovmf.c): at end-0x30 the footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d,
// at end-0x32 a u16 total table length (including the footer's 18 bytes); entries walk
// backwards, each laid out as [data][u16 entry_len][GUID] with entry_len = data + 18.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "firmware/guid.h"

namespace cvm::firmware::ovmf {

inline constexpr Guid kFooterTableGuid = Guid::parse("96b582de-1fb2-45f7-baea-a366c55a082d");
/// u32 offset from the end of the image to the "TDVF" descriptor.
inline constexpr Guid kTdxMetadataOffsetGuid =
    Guid::parse("e47a6535-984a-4798-865e-4685a7bf8ec2");
/// u32 offset from the end of the image to the "ASEV" header.
inline constexpr Guid kSevMetadataOffsetGuid =
    Guid::parse("dc886566-984a-4798-a75e-5585a7bf67cc");
/// u32 base GPA, u32 size of the SEV kernel-hashes area.
inline constexpr Guid kSevHashTableGuid = Guid::parse("7255371f-3a3b-4b04-927b-1da6efa8d454");
/// u32 base, u32 size of the SEV launch-secret area.
inline constexpr Guid kSevSecretGuid = Guid::parse("4c2eb361-7d9b-4cc3-8081-127c90d3d294");
/// u32 SEV-ES AP reset address (CS base high half | IP).
inline constexpr Guid kSevEsResetBlockGuid = Guid::parse("00f771de-1a7e-4fcb-890e-68c77e2fb44e");

struct FooterEntry {
  Guid guid;
  /// Offset of the entry's data in the image file.
  std::size_t data_offset = 0;
  std::span<const std::byte> data;
};

/// The parsed table; views into the image passed to parse_footer_table, which must outlive it.
class FooterTable final {
 public:
  explicit FooterTable(std::vector<FooterEntry> entries) : entries_(std::move(entries)) {}

  const std::vector<FooterEntry>& entries() const noexcept { return entries_; }
  /// The entry with `guid`, or nullptr.
  const FooterEntry* find(const Guid& guid) const noexcept;
  /// The entry's data read as a little-endian u32 at `offset` inside the data.
  /// kMalformedImage if the entry is too short; kNotFound if it is absent.
  Result<uint32_t> u32(const Guid& guid, std::size_t offset = 0) const;

 private:
  std::vector<FooterEntry> entries_;
};

/// Parses the table of a whole firmware image (the unified OVMF.fd or a CODE volume).
/// kMalformedImage naming the field on any inconsistency; an image without the footer GUID
/// yields kNotFound ("no OVMF footer GUID table").
Result<FooterTable> parse_footer_table(std::span<const std::byte> image);

}  // namespace cvm::firmware::ovmf
