// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/acpi/aml.h"

#include <gtest/gtest.h>

namespace cvm::vmm::x86::acpi::aml {
namespace {

Bytes hex(std::initializer_list<unsigned> values) {
  Bytes out;
  for (unsigned v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

Bytes ascii(std::string_view text) {
  Bytes out;
  for (char c : text) {
    out.push_back(static_cast<std::byte>(c));
  }
  return out;
}

TEST(AmlTest, PkgLengthEncodingsAtTheBoundaries) {
  EXPECT_EQ(pkg_length(0), hex({0x01}));
  EXPECT_EQ(pkg_length(62), hex({0x3f}));           // 63 total: the largest 1-byte form
  EXPECT_EQ(pkg_length(63), hex({0x41, 0x04}));     // 65 total = 0x041
  EXPECT_EQ(pkg_length(4093), hex({0x4f, 0xff}));   // 4095 total: the largest 2-byte form
  EXPECT_EQ(pkg_length(4094), hex({0x81, 0x00, 0x01}));  // 4097 = 0x1001
  EXPECT_EQ(pkg_length((1u << 20) - 4), hex({0x8f, 0xff, 0xff}));  // 0xfffff: largest 3-byte form
  EXPECT_EQ(pkg_length((1u << 20) - 3), hex({0xc1, 0x00, 0x00, 0x01}));  // 0x100001
}

TEST(AmlTest, NameStrings) {
  EXPECT_EQ(name_string("\\_SB_"), hex({0x5c, '_', 'S', 'B', '_'}));
  EXPECT_EQ(name_string("_S5"), ascii("_S5_"));
  EXPECT_EQ(name_string("\\_SB_.COM1"), concat({hex({0x5c, 0x2e}), ascii("_SB_COM1")}));
  EXPECT_EQ(name_string("A.B.C"), concat({hex({0x2f, 0x03}), ascii("A___B___C___")}));
  EXPECT_EQ(name_string("^PCI0"), concat({hex({0x5e}), ascii("PCI0")}));
  EXPECT_EQ(name_string("\\"), hex({0x5c, 0x00}));
}

TEST(AmlTest, IntegersUseTheShortestEncoding) {
  EXPECT_EQ(integer(0), hex({0x00}));
  EXPECT_EQ(integer(1), hex({0x01}));
  EXPECT_EQ(integer(5), hex({0x0a, 0x05}));
  EXPECT_EQ(integer(0x3f8), hex({0x0b, 0xf8, 0x03}));
  EXPECT_EQ(integer(0xd0000000), hex({0x0c, 0x00, 0x00, 0x00, 0xd0}));
  EXPECT_EQ(integer(0x100000000ull), hex({0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(AmlTest, StringsAndEisaIds) {
  EXPECT_EQ(string("LNRO0005"), concat({hex({0x0d}), ascii("LNRO0005"), hex({0x00})}));
  EXPECT_EQ(eisa_id("PNP0501"), hex({0x0c, 0x41, 0xd0, 0x05, 0x01}));
  EXPECT_EQ(eisa_id("PNP0303"), hex({0x0c, 0x41, 0xd0, 0x03, 0x03}));
  EXPECT_EQ(eisa_id("PNP0A03"), hex({0x0c, 0x41, 0xd0, 0x0a, 0x03}));
}

TEST(AmlTest, S5PackageName) {
  EXPECT_EQ(name("\\_S5_", package({integer(5), integer(5)})),
            hex({0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05}));
}

TEST(AmlTest, Com1ResourceTemplate) {
  EXPECT_EQ(resource_template({io_port(0x3f8, 0x3f8, 0, 8), irq_no_flags(4)}),
            hex({0x11, 0x10, 0x0a, 0x0d,                            // Buffer, len, size 13
                 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08,    // IO(Decode16, ...)
                 0x22, 0x10, 0x00,                                  // IRQNoFlags {4}
                 0x79, 0x00}));                                     // EndTag
}

TEST(AmlTest, VirtioResourceDescriptors) {
  EXPECT_EQ(memory32_fixed(true, 0xd0000000, 0x1000),
            hex({0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}));
  EXPECT_EQ(extended_interrupt(true, false, false, 5),
            hex({0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00}));
  EXPECT_EQ(extended_interrupt(false, true, true, 0x1234),
            hex({0x89, 0x06, 0x00, 0x0d, 0x01, 0x34, 0x12, 0x00, 0x00}));
}

TEST(AmlTest, DeviceAndScopeWrapTheirBodies) {
  const Bytes hid = name("_HID", eisa_id("PNP0501"));
  ASSERT_EQ(hid.size(), 10u);
  EXPECT_EQ(device("COM1", hid),
            concat({hex({0x5b, 0x82, 0x0f}), ascii("COM1"), hid}));  // 1 + 4 + 10 = 15
  EXPECT_EQ(scope("\\_SB_", {}), concat({hex({0x10, 0x06, 0x5c}), ascii("_SB_")}));
}

TEST(AmlTest, LongBufferUsesTwoBytePkgLength) {
  const Bytes data(100, std::byte{0xaa});
  const Bytes buf = buffer(data);
  // BufferOp, PkgLength(2 bytes) + BytePrefix 100 (2 bytes) + 100 data = total 104 = 0x68.
  ASSERT_EQ(buf.size(), 1u + 2u + 2u + 100u);
  EXPECT_EQ(buf[1], std::byte{0x48});
  EXPECT_EQ(buf[2], std::byte{0x06});
  EXPECT_EQ(buf[3], std::byte{0x0a});
  EXPECT_EQ(buf[4], std::byte{100});
}

}  // namespace
}  // namespace cvm::vmm::x86::acpi::aml
