// SPDX-License-Identifier: Apache-2.0
#include "tests/unit/firmware/snp/synthetic_ovmf.h"

#include <algorithm>
#include <span>

#include "base/byte_reader.h"
#include "firmware/ovmf/footer_table.h"

namespace cvm::firmware::testing {
namespace {

void put_guid(std::vector<std::byte>& image, std::size_t at, const Guid& guid) {
  std::copy(guid.bytes().begin(), guid.bytes().end(), image.begin() + static_cast<long>(at));
}

// Writes one footer entry ending (exclusive) at `end`; returns the entry's start.
std::size_t put_entry(std::vector<std::byte>& image, std::size_t end, const Guid& guid,
                      const std::vector<uint32_t>& words) {
  const std::size_t data_size = words.size() * 4;
  const std::size_t start = end - 18 - data_size;
  for (std::size_t i = 0; i < words.size(); ++i) {
    put_u32(image, start + 4 * i, words[i]);
  }
  put_u16(image, start + data_size, static_cast<uint16_t>(data_size + 18));
  put_guid(image, start + data_size + 2, guid);
  return start;
}

}  // namespace

void put_u32(std::vector<std::byte>& image, std::size_t at, uint32_t value) {
  store_le<uint32_t>(std::span<std::byte>(image).subspan(at).first<4>(), value);
}

void put_u16(std::vector<std::byte>& image, std::size_t at, uint16_t value) {
  store_le<uint16_t>(std::span<std::byte>(image).subspan(at).first<2>(), value);
}

std::size_t synthetic_metadata_offset(const SyntheticOvmfOptions& options) {
  return options.size - options.metadata_offset_from_end;
}

std::vector<std::byte> build_synthetic_ovmf(const SyntheticOvmfOptions& options) {
  std::vector<std::byte> image(options.size);
  for (std::size_t i = 0; i < image.size(); ++i) {
    image[i] = static_cast<std::byte>((i * 7 + 3) & 0xff);
  }
  const std::size_t footer_guid = image.size() - 0x30;
  put_guid(image, footer_guid, ovmf::kFooterTableGuid);
  std::size_t cursor = footer_guid - 2;  // entries end where the table length field starts
  if (options.with_metadata) {
    cursor = put_entry(image, cursor, ovmf::kSevMetadataOffsetGuid,
                       {options.metadata_offset_from_end});
  }
  if (options.with_reset_block) {
    cursor = put_entry(image, cursor, ovmf::kSevEsResetBlockGuid, {options.ap_reset_address});
  }
  if (options.with_hashes_area) {
    cursor = put_entry(image, cursor, ovmf::kSevHashTableGuid,
                       {options.hashes_base, options.hashes_size});
  }
  put_u16(image, footer_guid - 2, static_cast<uint16_t>(footer_guid + 16 - cursor));

  const std::size_t header = synthetic_metadata_offset(options);
  const auto count = static_cast<uint32_t>(options.sections.size());
  image[header] = std::byte{'A'};
  image[header + 1] = std::byte{'S'};
  image[header + 2] = std::byte{'E'};
  image[header + 3] = std::byte{'V'};
  put_u32(image, header + 4, 16 + 12 * count);
  put_u32(image, header + 8, 1);
  put_u32(image, header + 12, count);
  for (uint32_t i = 0; i < count; ++i) {
    const ovmf::SevMetadataSection& s = options.sections[i];
    put_u32(image, header + 16 + 12 * i, s.gpa);
    put_u32(image, header + 20 + 12 * i, s.size);
    put_u32(image, header + 24 + 12 * i, static_cast<uint32_t>(s.type));
  }
  return image;
}

}  // namespace cvm::firmware::testing
