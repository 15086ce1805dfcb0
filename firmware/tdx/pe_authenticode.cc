// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/pe_authenticode.h"

#include "base/byte_reader.h"
#include "base/checked.h"

#include <algorithm>
#include <vector>

namespace cvm::firmware::tdx {
namespace {

constexpr uint16_t kDosMagic = 0x5a4d;         // "MZ"
constexpr uint32_t kPeSignature = 0x00004550;  // "PE\0\0"
constexpr uint16_t kPe32Magic = 0x10b;
constexpr uint16_t kPe32PlusMagic = 0x20b;
constexpr std::size_t kCoffHeaderSize = 20;
constexpr std::size_t kSectionHeaderSize = 40;
constexpr uint32_t kSecurityDirectoryIndex = 4;
constexpr std::size_t kDataDirectorySize = 8;

struct PeLayout {
  std::size_t checksum_offset;
  std::size_t size_of_headers;
  /// File offset of the Certificate Table directory entry; 0 when the image has none.
  std::size_t cert_entry_offset;
  uint32_t cert_size;
  std::size_t section_table_offset;
  uint16_t section_count;
};

Result<PeLayout> read_layout(const ByteReader& r) {
  CVM_ASSIGN_OR_RETURN(const uint16_t dos_magic, r.le<uint16_t>(0, "DOS magic"));
  if (dos_magic != kDosMagic) {
    return make_error(ErrorCode::kMalformedImage, "PE image: no \"MZ\" DOS header");
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t pe_offset, r.le<uint32_t>(0x3c, "e_lfanew"));
  CVM_ASSIGN_OR_RETURN(const uint32_t signature, r.le<uint32_t>(pe_offset, "PE signature"));
  if (signature != kPeSignature) {
    return make_error(ErrorCode::kMalformedImage, "PE image: no \"PE\" signature at {:#x}",
                      pe_offset);
  }
  const std::size_t coff = std::size_t{pe_offset} + 4;
  PeLayout l{};
  CVM_ASSIGN_OR_RETURN(l.section_count, r.le<uint16_t>(coff + 2, "NumberOfSections"));
  CVM_ASSIGN_OR_RETURN(const uint16_t optional_size,
                       r.le<uint16_t>(coff + 16, "SizeOfOptionalHeader"));
  const std::size_t opt = coff + kCoffHeaderSize;
  CVM_ASSIGN_OR_RETURN(const uint16_t magic, r.le<uint16_t>(opt, "optional header Magic"));
  if (magic != kPe32Magic && magic != kPe32PlusMagic) {
    return make_error(ErrorCode::kMalformedImage, "PE image: optional header Magic {:#x} unknown",
                      magic);
  }
  const bool plus = magic == kPe32PlusMagic;
  CVM_ASSIGN_OR_RETURN(const uint32_t size_of_headers, r.le<uint32_t>(opt + 60, "SizeOfHeaders"));
  l.size_of_headers = size_of_headers;
  l.checksum_offset = opt + 64;
  CVM_ASSIGN_OR_RETURN(const uint32_t rva_count,
                       r.le<uint32_t>(opt + (plus ? 108 : 92), "NumberOfRvaAndSizes"));
  const std::size_t directories = opt + (plus ? 112 : 96);
  if (rva_count > kSecurityDirectoryIndex) {
    l.cert_entry_offset = directories + kSecurityDirectoryIndex * kDataDirectorySize;
    CVM_ASSIGN_OR_RETURN(l.cert_size,
                         r.le<uint32_t>(l.cert_entry_offset + 4, "Certificate Table size"));
  }
  l.section_table_offset = opt + optional_size;
  // Header fields that are hashed must lie inside the hashed header bytes.
  const std::size_t header_end =
      std::max(l.checksum_offset + 4, l.cert_entry_offset + kDataDirectorySize);
  if (l.size_of_headers > r.size() || header_end > l.size_of_headers) {
    return make_error(ErrorCode::kMalformedImage,
                      "PE image: SizeOfHeaders {:#x} does not cover the headers ({:#x}) or exceeds "
                      "the file ({:#x})",
                      l.size_of_headers, header_end, r.size());
  }
  return l;
}

struct RawSection {
  uint32_t offset;
  uint32_t size;
};

Result<std::vector<RawSection>> read_sections(const ByteReader& r, const PeLayout& l) {
  std::vector<RawSection> sections;
  for (uint16_t i = 0; i < l.section_count; ++i) {
    const std::size_t at = l.section_table_offset + std::size_t{i} * kSectionHeaderSize;
    CVM_ASSIGN_OR_RETURN(const uint32_t size, r.le<uint32_t>(at + 16, "section SizeOfRawData"));
    CVM_ASSIGN_OR_RETURN(const uint32_t offset,
                         r.le<uint32_t>(at + 20, "section PointerToRawData"));
    if (size == 0) {
      continue;
    }
    CVM_TRY(r.slice(offset, size, fmt::format("section {} raw data", i)));
    sections.push_back({offset, size});
  }
  std::stable_sort(sections.begin(), sections.end(),
                   [](const RawSection& a, const RawSection& b) { return a.offset < b.offset; });
  return sections;
}

}  // namespace

Result<Sha384Digest> pe_authenticode_sha384(std::span<const std::byte> image) {
  const ByteReader r(image, "PE image");
  CVM_ASSIGN_OR_RETURN(const PeLayout l, read_layout(r));
  CVM_ASSIGN_OR_RETURN(const std::vector<RawSection> sections, read_sections(r, l));
  Hasher hasher(HashAlgorithm::kSha384);
  hasher.update(image.first(l.checksum_offset));
  if (l.cert_entry_offset == 0) {
    hasher.update(image.subspan(l.checksum_offset + 4, l.size_of_headers - l.checksum_offset - 4));
  } else {
    hasher.update(
        image.subspan(l.checksum_offset + 4, l.cert_entry_offset - l.checksum_offset - 4));
    const std::size_t after = l.cert_entry_offset + kDataDirectorySize;
    hasher.update(image.subspan(after, l.size_of_headers - after));
  }
  uint64_t hashed = l.size_of_headers;
  for (const RawSection& s : sections) {
    hasher.update(image.subspan(s.offset, s.size));
    hashed += s.size;
  }
  if (image.size() > hashed) {
    const uint64_t tail_end = image.size() - std::min<uint64_t>(l.cert_size, image.size());
    if (tail_end < hashed) {
      return make_error(ErrorCode::kMalformedImage,
                        "PE image: Certificate Table size {:#x} overlaps the hashed data",
                        l.cert_size);
    }
    hasher.update(image.subspan(static_cast<std::size_t>(hashed),
                                static_cast<std::size_t>(tail_end - hashed)));
  }
  Sha384Digest digest{};
  hasher.finish(digest);
  return digest;
}

}  // namespace cvm::firmware::tdx
