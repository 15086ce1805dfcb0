// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/tdvf_metadata.h"

#include "base/byte_reader.h"
#include "base/checked.h"
#include "firmware/ovmf/footer_table.h"

#include <algorithm>
#include <string>

namespace cvm::firmware::tdx {
namespace {

constexpr std::size_t kGuidSize = 16;
/// Legacy locator: u32 file offset of the descriptor at end-0x20 (td-shim "Metadata Location").
constexpr std::size_t kLegacyOffsetFromEnd = 0x20;
constexpr uint32_t kMaxSectionType = static_cast<uint32_t>(TdvfSectionType::kTdInfo);
/// More sections than this cannot be a real TDVF (OVMF has 6, td-shim about 8); the cap keeps
/// a hostile count from driving a huge allocation before the length check.
constexpr uint32_t kMaxSections = 256;

/// Finds the descriptor's file offset through the footer table, else the legacy u32.
Result<std::pair<std::size_t, TdvfLocator>> locate_descriptor(std::span<const std::byte> image) {
  auto table = ovmf::parse_footer_table(image);
  if (table.has_value() && table->find(ovmf::kTdxMetadataOffsetGuid) != nullptr) {
    CVM_ASSIGN_OR_RETURN(const uint32_t from_end, table->u32(ovmf::kTdxMetadataOffsetGuid));
    if (from_end > image.size() || from_end < kTdvfDescriptorSize) {
      return make_error(ErrorCode::kMalformedImage,
                        "TDVF metadata offset {:#x} (from the end) does not fit the {:#x}-byte "
                        "image",
                        from_end, image.size());
    }
    return std::pair{image.size() - from_end, TdvfLocator::kFooterTable};
  }
  if (!table.has_value() && table.error().code() != ErrorCode::kNotFound) {
    return std::move(table).error();
  }
  ByteReader reader(image, "firmware image");
  if (image.size() < kLegacyOffsetFromEnd) {
    return make_error(ErrorCode::kNotFound, "firmware image ({} bytes) has no TDVF metadata",
                      image.size());
  }
  CVM_ASSIGN_OR_RETURN(
      const uint32_t file_offset,
      reader.le<uint32_t>(image.size() - kLegacyOffsetFromEnd, "legacy TDVF metadata offset"));
  if (file_offset < kGuidSize || file_offset > image.size() - kTdvfDescriptorSize) {
    return make_error(ErrorCode::kNotFound,
                      "firmware image has no TDVF metadata (no footer GUID {} and no usable "
                      "legacy offset at end-0x20)",
                      ovmf::kTdxMetadataOffsetGuid.to_string());
  }
  return std::pair{std::size_t{file_offset}, TdvfLocator::kLegacyOffset};
}

Result<TdvfSection> read_section(const ByteReader& reader, std::size_t at, uint32_t index) {
  const std::string what = fmt::format("TDVF section {}", index);
  auto field = [&](std::string_view name) { return fmt::format("{} {}", what, name); };
  TdvfSection s;
  CVM_ASSIGN_OR_RETURN(s.data_offset, reader.le<uint32_t>(at + 0, field("DataOffset")));
  CVM_ASSIGN_OR_RETURN(s.raw_data_size, reader.le<uint32_t>(at + 4, field("RawDataSize")));
  CVM_ASSIGN_OR_RETURN(s.memory_address, reader.le<uint64_t>(at + 8, field("MemoryAddress")));
  CVM_ASSIGN_OR_RETURN(s.memory_data_size, reader.le<uint64_t>(at + 16, field("MemoryDataSize")));
  CVM_ASSIGN_OR_RETURN(const uint32_t type, reader.le<uint32_t>(at + 24, field("Type")));
  CVM_ASSIGN_OR_RETURN(s.attributes, reader.le<uint32_t>(at + 28, field("Attributes")));
  if (type > kMaxSectionType) {
    return make_error(ErrorCode::kMalformedImage, "{}: Type {} is not a known section type", what,
                      type);
  }
  s.type = static_cast<TdvfSectionType>(type);
  return s;
}

/// Rules that concern one section alone.
Result<void> check_section(const TdvfSection& s, uint32_t index, std::size_t image_size) {
  const std::string what = fmt::format("TDVF section {} ({})", index, section_type_name(s.type));
  auto fail = [&](std::string text) {
    return Error(ErrorCode::kMalformedImage, fmt::format("{}: {}", what, text));
  };
  if ((s.attributes & kTdvfAttributeReservedMask) != 0) {
    return fail(fmt::format("Attributes {:#x} has reserved bits set", s.attributes));
  }
  if (s.memory_address % kTdxPageSize != 0) {
    return fail(fmt::format("MemoryAddress {:#x} is not 4 KiB aligned", s.memory_address));
  }
  if (s.memory_data_size % kTdxPageSize != 0) {
    return fail(fmt::format("MemoryDataSize {:#x} is not 4 KiB aligned", s.memory_data_size));
  }
  if (s.raw_data_size > s.memory_data_size) {
    return fail(fmt::format("RawDataSize {:#x} exceeds MemoryDataSize {:#x}", s.raw_data_size,
                            s.memory_data_size));
  }
  if (!checked_add<uint64_t>(s.memory_address, s.memory_data_size)) {
    return fail(fmt::format("MemoryAddress {:#x} + MemoryDataSize {:#x} overflows",
                            s.memory_address, s.memory_data_size));
  }
  if (s.raw_data_size != 0 && !range_within<uint64_t>(s.data_offset, s.raw_data_size, image_size)) {
    return fail(fmt::format(
        "DataOffset {:#x} + RawDataSize {:#x} runs past the end of the {:#x}-byte image (the "
        "metadata describes a larger image: a split OVMF_CODE.fd cannot be used for TDX, pass "
        "the unified OVMF.fd)",
        s.data_offset, s.raw_data_size, image_size));
  }
  const bool carries_bytes = s.type == TdvfSectionType::kBfv || s.type == TdvfSectionType::kCfv;
  const bool holds_no_bytes = s.type == TdvfSectionType::kTdHob ||
                              s.type == TdvfSectionType::kTempMem ||
                              s.type == TdvfSectionType::kPermMem;
  if (carries_bytes && s.raw_data_size == 0) {
    return fail("RawDataSize is 0 but this section type is copied from the image");
  }
  if (holds_no_bytes && s.raw_data_size != 0) {
    return fail(fmt::format("RawDataSize {:#x} must be 0 for this section type", s.raw_data_size));
  }
  if ((carries_bytes || holds_no_bytes) && s.memory_data_size == 0) {
    return fail("MemoryDataSize is 0");
  }
  if (holds_no_bytes && s.mr_extend()) {
    return fail("attribute MR.EXTEND is not allowed for this section type");
  }
  if (s.page_aug() && s.type != TdvfSectionType::kPermMem) {
    return fail("attribute PAGE.AUG is only allowed for PermMem sections");
  }
  return ok();
}

/// Rules across sections: counts per type and GPA overlap.
Result<void> check_section_set(const std::vector<TdvfSection>& sections) {
  const auto count = [&](TdvfSectionType type) {
    return std::count_if(sections.begin(), sections.end(),
                         [type](const TdvfSection& s) { return s.type == type; });
  };
  if (count(TdvfSectionType::kBfv) != 1) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF metadata has {} BFV sections, exactly one is required",
                      count(TdvfSectionType::kBfv));
  }
  if (count(TdvfSectionType::kTdHob) > 1) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF metadata has {} TD_HOB sections, at most one is allowed",
                      count(TdvfSectionType::kTdHob));
  }
  for (std::size_t i = 0; i < sections.size(); ++i) {
    for (std::size_t j = i + 1; j < sections.size(); ++j) {
      const TdvfSection& a = sections[i];
      const TdvfSection& b = sections[j];
      if (a.memory_data_size == 0 || b.memory_data_size == 0) {
        continue;
      }
      // Both ends are overflow-checked by check_section.
      if (a.memory_address < b.memory_address + b.memory_data_size &&
          b.memory_address < a.memory_address + a.memory_data_size) {
        return make_error(ErrorCode::kMalformedImage,
                          "TDVF section {} ({}) at {:#x}+{:#x} overlaps section {} ({}) at "
                          "{:#x}+{:#x}",
                          j, section_type_name(b.type), b.memory_address, b.memory_data_size, i,
                          section_type_name(a.type), a.memory_address, a.memory_data_size);
      }
    }
  }
  return ok();
}

}  // namespace

std::string_view section_type_name(TdvfSectionType type) noexcept {
  switch (type) {
    case TdvfSectionType::kBfv:
      return "BFV";
    case TdvfSectionType::kCfv:
      return "CFV";
    case TdvfSectionType::kTdHob:
      return "TD_HOB";
    case TdvfSectionType::kTempMem:
      return "TempMem";
    case TdvfSectionType::kPermMem:
      return "PermMem";
    case TdvfSectionType::kPayload:
      return "Payload";
    case TdvfSectionType::kPayloadParam:
      return "PayloadParam";
    case TdvfSectionType::kTdInfo:
      return "TD_INFO";
  }
  return "unknown";
}

const TdvfSection* TdvfMetadata::td_hob() const noexcept {
  for (const TdvfSection& section : sections) {
    if (section.type == TdvfSectionType::kTdHob) {
      return &section;
    }
  }
  return nullptr;
}

Result<TdvfMetadata> parse_tdvf_metadata(std::span<const std::byte> image) {
  CVM_ASSIGN_OR_RETURN(const auto located, locate_descriptor(image));
  const auto [offset, locator] = located;
  ByteReader reader(image, "TDVF metadata");
  if (offset < kGuidSize) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF descriptor at {:#x} leaves no room for the metadata GUID", offset);
  }
  CVM_ASSIGN_OR_RETURN(auto guid_bytes, reader.slice(offset - kGuidSize, kGuidSize, "GUID"));
  const Guid guid = Guid::from_bytes(guid_bytes.first<kGuidSize>());
  if (guid != kTdvfMetadataGuid) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF metadata GUID before the descriptor at {:#x} is {}, expected {}",
                      offset, guid.to_string(), kTdvfMetadataGuid.to_string());
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t signature, reader.le<uint32_t>(offset, "Signature"));
  CVM_ASSIGN_OR_RETURN(const uint32_t length, reader.le<uint32_t>(offset + 4, "Length"));
  CVM_ASSIGN_OR_RETURN(const uint32_t version, reader.le<uint32_t>(offset + 8, "Version"));
  CVM_ASSIGN_OR_RETURN(const uint32_t count,
                       reader.le<uint32_t>(offset + 12, "NumberOfSectionEntry"));
  if (signature != kTdvfSignature) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF descriptor at {:#x}: Signature {:#010x} is not \"TDVF\"", offset,
                      signature);
  }
  if (version != kTdvfVersion) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF descriptor: Version {} is not supported (only 1 is defined)", version);
  }
  if (count == 0 || count > kMaxSections) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF descriptor: NumberOfSectionEntry {} is out of range (1..{})", count,
                      kMaxSections);
  }
  if (length != kTdvfDescriptorSize + kTdvfSectionSize * count) {
    return make_error(ErrorCode::kMalformedImage,
                      "TDVF descriptor: Length {:#x} does not match 16 + 32 * {} sections", length,
                      count);
  }
  CVM_TRY(reader.slice(offset, length, "descriptor and sections"));
  TdvfMetadata metadata{.descriptor_offset = offset, .locator = locator, .sections = {}};
  metadata.sections.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    CVM_ASSIGN_OR_RETURN(
        TdvfSection section,
        read_section(reader, offset + kTdvfDescriptorSize + kTdvfSectionSize * i, i));
    CVM_TRY(check_section(section, i, image.size()));
    metadata.sections.push_back(section);
  }
  CVM_TRY(check_section_set(metadata.sections));
  return metadata;
}

}  // namespace cvm::firmware::tdx
