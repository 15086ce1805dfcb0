// SPDX-License-Identifier: Apache-2.0
#include "firmware/ovmf/sev_metadata.h"

#include <fmt/format.h>

#include "base/byte_reader.h"
#include "base/checked.h"

namespace cvm::firmware::ovmf {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kFourGiB = uint64_t{1} << 32;
// QEMU's legacy SEV info block ends 0x20 bytes before the end of the flash; its GUID and u16
// length sit directly below that point (QEMU target/i386/sev.c sev_es_find_reset_vector).
constexpr std::size_t kLegacyBlockEndFromEnd = 0x20;
constexpr std::size_t kGuidSize = 16;
constexpr std::size_t kEntryHeaderSize = kGuidSize + sizeof(uint16_t);

Result<SevSectionType> section_type_from_wire(uint32_t value, std::size_t index) {
  switch (value) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 0x10:
      return static_cast<SevSectionType>(value);
    default:
      return make_error(ErrorCode::kMalformedImage,
                        "SEV metadata: section {} has unknown type {:#x}", index, value);
  }
}

// Range checks of one section; overlap is checked by the caller.
Result<void> check_section(const SevMetadataSection& section, std::size_t index) {
  const uint64_t gpa = section.gpa;
  const uint64_t size = section.size;
  if (size == 0 || size % kPageSize != 0) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: section {} ({}) size {:#x} is not a non-zero multiple of "
                      "4 KiB",
                      index, sev_section_type_name(section.type), size);
  }
  if (gpa % kPageSize != 0) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: section {} ({}) base {:#x} is not 4 KiB aligned", index,
                      sev_section_type_name(section.type), gpa);
  }
  // Both are u32, so the sum cannot overflow u64.
  if (gpa + size > kFourGiB) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: section {} ({}) [{:#x}, {:#x}) ends above 4 GiB", index,
                      sev_section_type_name(section.type), gpa, gpa + size);
  }
  return ok();
}

Result<void> check_no_overlap(std::span<const SevMetadataSection> earlier,
                              const SevMetadataSection& section, std::size_t index) {
  const uint64_t begin = section.gpa;
  const uint64_t end = begin + section.size;
  for (std::size_t i = 0; i < earlier.size(); ++i) {
    const uint64_t other_begin = earlier[i].gpa;
    const uint64_t other_end = other_begin + earlier[i].size;
    if (begin < other_end && other_begin < end) {
      return make_error(ErrorCode::kMalformedImage,
                        "SEV metadata: section {} [{:#x}, {:#x}) overlaps section {} "
                        "[{:#x}, {:#x})",
                        index, begin, end, i, other_begin, other_end);
    }
  }
  return ok();
}

// Reads the ASEV header at `start` and returns the number of sections after validating the
// header fields against the image.
Result<uint32_t> read_header(const ByteReader& reader, std::size_t start) {
  CVM_ASSIGN_OR_RETURN(auto signature, reader.slice(start, 4, "signature"));
  if (signature[0] != std::byte{'A'} || signature[1] != std::byte{'S'} ||
      signature[2] != std::byte{'E'} || signature[3] != std::byte{'V'}) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: signature at {:#x} is not \"ASEV\"", start);
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t length, reader.le<uint32_t>(start + 4, "length"));
  CVM_ASSIGN_OR_RETURN(const uint32_t version, reader.le<uint32_t>(start + 8, "version"));
  CVM_ASSIGN_OR_RETURN(const uint32_t count, reader.le<uint32_t>(start + 12, "section count"));
  if (version != 1) {
    return make_error(ErrorCode::kMalformedImage, "SEV metadata: version {} is not 1", version);
  }
  if (length < kSevMetadataHeaderSize || !range_within<std::size_t>(start, length, reader.size())) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: length {:#x} at {:#x} is out of range (image size {:#x})",
                      length, start, reader.size());
  }
  // count * 12 + 16 <= length, computed without overflow.
  const auto needed = checked_mul<uint64_t>(count, kSevMetadataSectionSize);
  if (!needed || *needed > length - kSevMetadataHeaderSize) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: section count {} does not fit in length {:#x}", count,
                      length);
  }
  return count;
}

}  // namespace

std::string_view sev_section_type_name(SevSectionType type) noexcept {
  switch (type) {
    case SevSectionType::kSnpSecMem:
      return "SNP_SEC_MEM";
    case SevSectionType::kSnpSecrets:
      return "SNP_SECRETS";
    case SevSectionType::kCpuid:
      return "CPUID";
    case SevSectionType::kSvsmCaa:
      return "SVSM_CAA";
    case SevSectionType::kSnpKernelHashes:
      return "SNP_KERNEL_HASHES";
  }
  return "UNKNOWN";
}

Result<std::optional<std::vector<SevMetadataSection>>> parse_sev_metadata(
    std::span<const std::byte> image, const FooterTable& table) {
  if (table.find(kSevMetadataOffsetGuid) == nullptr) {
    return std::optional<std::vector<SevMetadataSection>>();
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t offset_from_end, table.u32(kSevMetadataOffsetGuid));
  if (offset_from_end < kSevMetadataHeaderSize || offset_from_end > image.size()) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: offset {:#x} from the end is outside the image (size {:#x})",
                      offset_from_end, image.size());
  }
  const std::size_t start = image.size() - offset_from_end;
  const ByteReader reader(image, "SEV metadata");
  CVM_ASSIGN_OR_RETURN(const uint32_t count, read_header(reader, start));

  std::vector<SevMetadataSection> sections;
  sections.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::size_t at = start + kSevMetadataHeaderSize + i * kSevMetadataSectionSize;
    CVM_ASSIGN_OR_RETURN(const uint32_t gpa, reader.le<uint32_t>(at, "section base"));
    CVM_ASSIGN_OR_RETURN(const uint32_t size, reader.le<uint32_t>(at + 4, "section size"));
    CVM_ASSIGN_OR_RETURN(const uint32_t type_value, reader.le<uint32_t>(at + 8, "section type"));
    CVM_ASSIGN_OR_RETURN(const SevSectionType type, section_type_from_wire(type_value, i));
    const SevMetadataSection section{gpa, size, type};
    CVM_TRY(check_section(section, i));
    CVM_TRY(check_no_overlap(sections, section, i));
    sections.push_back(section);
  }
  return std::optional<std::vector<SevMetadataSection>>(std::move(sections));
}

Result<std::optional<uint32_t>> find_sev_es_reset_address(std::span<const std::byte> image,
                                                          const FooterTable* table) {
  if (table != nullptr && table->find(kSevEsResetBlockGuid) != nullptr) {
    CVM_ASSIGN_OR_RETURN(const uint32_t address, table->u32(kSevEsResetBlockGuid));
    return std::optional<uint32_t>(address);
  }
  // Legacy layout: [reset_addr u32 ...][u16 length][GUID] ending at end-0x20.
  if (image.size() < kLegacyBlockEndFromEnd + kEntryHeaderSize) {
    return std::optional<uint32_t>();
  }
  const std::size_t block_end = image.size() - kLegacyBlockEndFromEnd;
  const ByteReader reader(image, "SEV-ES legacy reset block");
  CVM_ASSIGN_OR_RETURN(auto guid_bytes, reader.slice(block_end - kGuidSize, kGuidSize, "GUID"));
  if (Guid::from_bytes(guid_bytes.first<kGuidSize>()) != kSevEsResetBlockGuid) {
    return std::optional<uint32_t>();
  }
  CVM_ASSIGN_OR_RETURN(const uint16_t length,
                       reader.le<uint16_t>(block_end - kEntryHeaderSize, "length"));
  if (length < kEntryHeaderSize + sizeof(uint32_t) || length > block_end) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV-ES legacy reset block: length {:#x} is out of range", length);
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t address,
                       reader.le<uint32_t>(block_end - length, "reset address"));
  return std::optional<uint32_t>(address);
}

Result<SevFirmwareInfo> parse_sev_firmware(std::span<const std::byte> image) {
  SevFirmwareInfo info;
  auto table = parse_footer_table(image);
  if (!table.has_value()) {
    if (table.error().code() != ErrorCode::kNotFound) {
      return std::move(table).error();
    }
    CVM_ASSIGN_OR_RETURN(info.ap_reset_address, find_sev_es_reset_address(image, nullptr));
    return info;
  }
  CVM_ASSIGN_OR_RETURN(auto sections, parse_sev_metadata(image, *table));
  if (sections.has_value()) {
    info.has_metadata = true;
    info.sections = std::move(*sections);
  }
  CVM_ASSIGN_OR_RETURN(info.ap_reset_address, find_sev_es_reset_address(image, &*table));
  if (table->find(kSevHashTableGuid) != nullptr) {
    CVM_ASSIGN_OR_RETURN(const uint32_t base, table->u32(kSevHashTableGuid, 0));
    CVM_ASSIGN_OR_RETURN(const uint32_t size, table->u32(kSevHashTableGuid, 4));
    info.hashes_area = SevHashesArea{base, size};
  }
  return info;
}

}  // namespace cvm::firmware::ovmf
