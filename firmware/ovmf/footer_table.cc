// SPDX-License-Identifier: Apache-2.0
#include "firmware/ovmf/footer_table.h"

#include "base/byte_reader.h"

namespace cvm::firmware::ovmf {
namespace {
constexpr std::size_t kFooterGuidFromEnd = 0x30;
constexpr std::size_t kGuidSize = 16;
constexpr std::size_t kEntryHeaderSize = kGuidSize + sizeof(uint16_t);
}  // namespace

const FooterEntry* FooterTable::find(const Guid& guid) const noexcept {
  for (const FooterEntry& entry : entries_) {
    if (entry.guid == guid) {
      return &entry;
    }
  }
  return nullptr;
}

Result<uint32_t> FooterTable::u32(const Guid& guid, std::size_t offset) const {
  const FooterEntry* entry = find(guid);
  if (entry == nullptr) {
    return make_error(ErrorCode::kNotFound, "OVMF footer table has no entry {}",
                      guid.to_string());
  }
  ByteReader reader(entry->data, "OVMF footer table entry");
  auto value = reader.le<uint32_t>(offset, guid.to_string());
  if (!value) {
    return std::move(value).error();
  }
  return *value;
}

Result<FooterTable> parse_footer_table(std::span<const std::byte> image) {
  ByteReader reader(image, "OVMF footer table");
  if (image.size() < kFooterGuidFromEnd + sizeof(uint16_t)) {
    return make_error(ErrorCode::kMalformedImage,
                      "firmware image too small for an OVMF footer table ({} bytes)",
                      image.size());
  }
  const std::size_t footer_guid_offset = image.size() - kFooterGuidFromEnd;
  CVM_ASSIGN_OR_RETURN(auto footer_guid_bytes,
                       reader.slice(footer_guid_offset, kGuidSize, "footer GUID"));
  if (Guid::from_bytes(footer_guid_bytes.first<kGuidSize>()) != kFooterTableGuid) {
    return make_error(ErrorCode::kNotFound, "firmware image has no OVMF footer GUID table");
  }
  const std::size_t length_offset = footer_guid_offset - sizeof(uint16_t);
  CVM_ASSIGN_OR_RETURN(const uint16_t total_length, reader.le<uint16_t>(length_offset, "table length"));
  // The total length counts the footer's own GUID and length field.
  if (total_length < kEntryHeaderSize || total_length > footer_guid_offset + kGuidSize) {
    return make_error(ErrorCode::kMalformedImage,
                      "OVMF footer table: table length {:#x} is out of range", total_length);
  }
  const std::size_t table_start = footer_guid_offset + kGuidSize - total_length;

  std::vector<FooterEntry> entries;
  // `cursor` is the end (exclusive) of the next entry to read, walking backwards.
  std::size_t cursor = length_offset;
  while (cursor > table_start) {
    if (cursor - table_start < kEntryHeaderSize) {
      return make_error(ErrorCode::kMalformedImage,
                        "OVMF footer table: {} trailing bytes at {:#x} are too short for an entry",
                        cursor - table_start, table_start);
    }
    const std::size_t guid_offset = cursor - kGuidSize;
    const std::size_t len_offset = guid_offset - sizeof(uint16_t);
    CVM_ASSIGN_OR_RETURN(auto guid_bytes, reader.slice(guid_offset, kGuidSize, "entry GUID"));
    CVM_ASSIGN_OR_RETURN(const uint16_t entry_length, reader.le<uint16_t>(len_offset, "entry length"));
    if (entry_length < kEntryHeaderSize || entry_length > cursor - table_start) {
      return make_error(ErrorCode::kMalformedImage,
                        "OVMF footer table: entry at {:#x} has length {:#x}, outside the table",
                        guid_offset, entry_length);
    }
    const std::size_t data_offset = cursor - entry_length;
    CVM_ASSIGN_OR_RETURN(auto data,
                         reader.slice(data_offset, entry_length - kEntryHeaderSize, "entry data"));
    entries.push_back({Guid::from_bytes(guid_bytes.first<kGuidSize>()), data_offset, data});
    cursor = data_offset;
  }
  return FooterTable(std::move(entries));
}

}  // namespace cvm::firmware::ovmf
