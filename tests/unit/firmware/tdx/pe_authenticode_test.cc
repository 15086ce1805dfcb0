// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/pe_authenticode.h"

#include "base/byte_reader.h"
#include "base/hex.h"

#include <gtest/gtest.h>

namespace cvm::firmware::tdx {
namespace {

constexpr std::size_t kOptionalHeader = 0x58;
constexpr std::size_t kCertEntry = kOptionalHeader + 112 + 4 * 8;

void put16(std::vector<std::byte>& b, std::size_t at, uint16_t v) {
  store_le<uint16_t>(std::span(b).subspan(at).first<2>(), v);
}
void put32(std::vector<std::byte>& b, std::size_t at, uint32_t v) {
  store_le<uint32_t>(std::span(b).subspan(at).first<4>(), v);
}

// A minimal PE32+ file: headers in [0, 0x200), section ".text" at file offset 0x400 listed
// before ".data" at 0x200 (so the digest depends on sorting), 0x80 bytes of trailing data.
std::vector<std::byte> synthetic_pe() {
  std::vector<std::byte> pe(0x680);
  for (std::size_t i = 0x200; i < pe.size(); ++i) {
    pe[i] = static_cast<std::byte>((i * 13 + 5) & 0xff);
  }
  put16(pe, 0, 0x5a4d);
  put32(pe, 0x3c, 0x40);
  put32(pe, 0x40, 0x00004550);
  put16(pe, 0x44, 0x8664);  // Machine x86-64
  put16(pe, 0x46, 2);       // NumberOfSections
  put16(pe, 0x54, 0xf0);    // SizeOfOptionalHeader
  put16(pe, 0x56, 0x2022);  // Characteristics
  const std::size_t opt = kOptionalHeader;
  put16(pe, opt, 0x20b);            // PE32+
  put32(pe, opt + 4, 0x200);        // SizeOfCode
  put32(pe, opt + 16, 0x1000);      // AddressOfEntryPoint
  put32(pe, opt + 20, 0x1000);      // BaseOfCode
  put32(pe, opt + 32, 0x1000);      // SectionAlignment
  put32(pe, opt + 36, 0x200);       // FileAlignment
  put32(pe, opt + 56, 0x3000);      // SizeOfImage
  put32(pe, opt + 60, 0x200);       // SizeOfHeaders
  put32(pe, opt + 64, 0x12345678);  // CheckSum (excluded from the digest)
  put16(pe, opt + 68, 10);          // Subsystem: EFI application
  put32(pe, opt + 108, 16);         // NumberOfRvaAndSizes
  const std::size_t sections = opt + 0xf0;
  const char* names[] = {".text", ".data"};
  const uint32_t rva[] = {0x1000, 0x2000};
  const uint32_t raw[] = {0x400, 0x200};
  for (std::size_t i = 0; i < 2; ++i) {
    const std::size_t s = sections + 40 * i;
    for (std::size_t c = 0; names[i][c] != 0; ++c) {
      pe[s + c] = static_cast<std::byte>(names[i][c]);
    }
    put32(pe, s + 8, 0x200);        // VirtualSize
    put32(pe, s + 12, rva[i]);      // VirtualAddress
    put32(pe, s + 16, 0x200);       // SizeOfRawData
    put32(pe, s + 20, raw[i]);      // PointerToRawData
    put32(pe, s + 36, 0x60000020);  // Characteristics
  }
  return pe;
}

// Reference: osslsigncode 2.9 on the bytes of synthetic_pe() written to a file: "sign -h sha384"
// with a throw-away self-signed certificate, then "verify" reports this as both the signed and
// the calculated message digest.
constexpr std::string_view kReferenceDigest =
    "a76967206477a174ff84005b1bdf07e3a24f9fd9fb39ec59ee544b0620d578d864d7a5c0e8218e155733f4e62276"
    "bcdd";

TEST(PeAuthenticodeTest, SyntheticImageMatchesOsslsigncode) {
  const auto pe = synthetic_pe();
  auto digest = pe_authenticode_sha384(pe);
  ASSERT_TRUE(digest.has_value()) << digest.error().message();
  EXPECT_EQ(to_hex(*digest), kReferenceDigest);
}

TEST(PeAuthenticodeTest, ChecksumAndCertificateAreExcluded) {
  const auto pe = synthetic_pe();
  auto signed_pe = pe;
  put32(signed_pe, kOptionalHeader + 64, 0xdeadbeef);
  put32(signed_pe, kCertEntry, static_cast<uint32_t>(signed_pe.size()));
  put32(signed_pe, kCertEntry + 4, 0x40);
  signed_pe.resize(signed_pe.size() + 0x40, std::byte{0x77});
  EXPECT_EQ(to_hex(*pe_authenticode_sha384(pe)), to_hex(*pe_authenticode_sha384(signed_pe)));
  auto changed = pe;
  changed[0x650] ^= std::byte{1};  // trailing data is hashed
  EXPECT_NE(to_hex(*pe_authenticode_sha384(pe)), to_hex(*pe_authenticode_sha384(changed)));
}

TEST(PeAuthenticodeTest, NonPeIsMalformed) {
  std::vector<std::byte> not_pe(0x400);
  auto digest = pe_authenticode_sha384(not_pe);
  ASSERT_FALSE(digest.has_value());
  EXPECT_EQ(digest.error().message(), "PE image: no \"MZ\" DOS header");
  auto pe = synthetic_pe();
  put32(pe, kOptionalHeader + 0xf0 + 20, 0x600);  // .text raw data now runs past the end
  digest = pe_authenticode_sha384(pe);
  ASSERT_FALSE(digest.has_value());
  EXPECT_EQ(digest.error().message(),
            "PE image: section 0 raw data at offset 0x600 length 0x200 runs past the end (size "
            "0x680)");
}

TEST(PeAuthenticodeTest, EveryTruncationFailsOrSucceedsCleanly) {
  const auto pe = synthetic_pe();
  for (std::size_t size = 0; size < pe.size(); size += 8) {
    (void)pe_authenticode_sha384(std::span(pe).first(size));
  }
}

}  // namespace
}  // namespace cvm::firmware::tdx
