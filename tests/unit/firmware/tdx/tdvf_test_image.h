// SPDX-License-Identifier: Apache-2.0
// Builds small synthetic TDVF images for the tdx tests: a 64 KiB "firmware" whose footer table
// points at a TDVF descriptor, with sections the test chooses.
#pragma once

#include "base/byte_reader.h"
#include "firmware/guid.h"
#include "firmware/ovmf/footer_table.h"
#include "firmware/tdx/tdvf_metadata.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cvm::firmware::tdx::testing {

struct RawSection {
  uint32_t data_offset = 0;
  uint32_t raw_data_size = 0;
  uint64_t memory_address = 0;
  uint64_t memory_data_size = 0;
  uint32_t type = 0;
  uint32_t attributes = 0;
};

inline constexpr std::size_t kImageSize = 0x10000;
/// The descriptor sits at this file offset (the GUID 16 bytes before it).
inline constexpr std::size_t kDescriptorOffset = 0xe000;

inline void put_u16(std::vector<std::byte>& image, std::size_t at, uint16_t v) {
  store_le<uint16_t>(std::span<std::byte>(image).subspan(at).first<2>(), v);
}
inline void put_u32(std::vector<std::byte>& image, std::size_t at, uint32_t v) {
  store_le<uint32_t>(std::span<std::byte>(image).subspan(at).first<4>(), v);
}
inline void put_u64(std::vector<std::byte>& image, std::size_t at, uint64_t v) {
  store_le<uint64_t>(std::span<std::byte>(image).subspan(at).first<8>(), v);
}
inline void put_guid(std::vector<std::byte>& image, std::size_t at, const Guid& g) {
  std::copy(g.bytes().begin(), g.bytes().end(), image.begin() + static_cast<long>(at));
}

/// The default sections: BFV = the last 32 KiB of the image at 0xffff8000 (measured), CFV = the
/// first 16 KiB at 0xffff0000 (16 KiB unused gap follows), TempMem 0x1000+0x2000,
/// TD_HOB 0x3000+0x1000.
inline std::vector<RawSection> default_sections() {
  return {
      {0x8000, 0x8000, 0xffff8000, 0x8000, 0, 1},
      {0x0, 0x4000, 0xffff0000, 0x4000, 1, 0},
      {0, 0, 0x1000, 0x2000, 3, 0},
      {0, 0, 0x3000, 0x1000, 2, 0},
  };
}

/// Writes descriptor + sections at kDescriptorOffset and, if `footer`, a footer table entry with
/// the offset from the end. The image bytes outside the metadata follow a fixed pattern.
inline std::vector<std::byte> make_image(const std::vector<RawSection>& sections,
                                         bool footer = true) {
  std::vector<std::byte> image(kImageSize);
  for (std::size_t i = 0; i < image.size(); ++i) {
    image[i] = static_cast<std::byte>((i * 7 + 3) & 0xff);
  }
  put_guid(image, kDescriptorOffset - 16, kTdvfMetadataGuid);
  put_u32(image, kDescriptorOffset, kTdvfSignature);
  put_u32(image, kDescriptorOffset + 4, static_cast<uint32_t>(16 + 32 * sections.size()));
  put_u32(image, kDescriptorOffset + 8, 1);
  put_u32(image, kDescriptorOffset + 12, static_cast<uint32_t>(sections.size()));
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const std::size_t at = kDescriptorOffset + 16 + 32 * i;
    put_u32(image, at, sections[i].data_offset);
    put_u32(image, at + 4, sections[i].raw_data_size);
    put_u64(image, at + 8, sections[i].memory_address);
    put_u64(image, at + 16, sections[i].memory_data_size);
    put_u32(image, at + 24, sections[i].type);
    put_u32(image, at + 28, sections[i].attributes);
  }
  // Clear the footer area, then write the footer GUID table with one TDX entry.
  std::fill(image.end() - 0x60, image.end(), std::byte{0});
  if (footer) {
    const std::size_t footer_guid = image.size() - 0x30;
    put_guid(image, footer_guid, ovmf::kFooterTableGuid);
    put_u16(image, footer_guid - 2, 18 + 22);
    const std::size_t entry_guid = footer_guid - 2 - 16;
    put_guid(image, entry_guid, ovmf::kTdxMetadataOffsetGuid);
    put_u16(image, entry_guid - 2, 22);
    put_u32(image, entry_guid - 6, static_cast<uint32_t>(image.size() - kDescriptorOffset));
  } else {
    put_u32(image, image.size() - 0x20, static_cast<uint32_t>(kDescriptorOffset));
  }
  return image;
}

}  // namespace cvm::firmware::tdx::testing
