// SPDX-License-Identifier: Apache-2.0
// FwCfgDevice against fw_cfg.rst and QEMU's fw_cfg.c behaviour: traditional port interface,
// file directory layout, DMA (select/read/skip/write), and hostile DMA requests.
#include "devices/fw_cfg/fw_cfg_device.h"

#include <gtest/gtest.h>

#include <string>

#include "base/byte_reader.h"
#include "tests/unit/fw_cfg/fw_cfg_guest.h"

namespace cvm::devices::fw_cfg {
namespace {

using testing::FwCfgGuest;

constexpr uint64_t kRamBytes = 1 << 20;
constexpr uint64_t kAccess = 0x1000;  // DMA access structure
constexpr uint64_t kBuffer = 0x2000;  // DMA destination

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto span = as_bytes(text);
  return {span.begin(), span.end()};
}

std::string text_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

FwCfgStore make_store(bool dma = true) {
  FwCfgStoreBuilder builder;
  EXPECT_TRUE(builder.add_file("opt/z", FwCfgBytes(bytes_of("last"))).has_value());
  EXPECT_TRUE(builder.add_file("etc/e820", FwCfgBytes(bytes_of("0123456789"))).has_value());
  EXPECT_TRUE(builder.add_file("bootorder", FwCfgBytes(bytes_of(""))).has_value());
  EXPECT_TRUE(builder.add_item(kKeyNbCpus, le16_item(3)).has_value());
  auto store = std::move(builder).build(dma);
  EXPECT_TRUE(store.has_value());
  return std::move(store).value();
}

struct Fixture {
  BufferGuestMemory memory{0, kRamBytes};
  FwCfgDevice device;
  FwCfgGuest guest{device, memory};
  explicit Fixture(bool dma = true) : device(make_store(dma), memory) {}

  std::vector<std::byte> ram(uint64_t gpa, std::size_t length) {
    std::vector<std::byte> out(length);
    EXPECT_TRUE(memory.read(gpa, out).has_value());
    return out;
  }
  void fill(uint64_t gpa, std::size_t length, uint8_t value) {
    std::vector<std::byte> bytes(length, std::byte{value});
    ASSERT_TRUE(memory.write(gpa, bytes).has_value());
  }
  uint32_t control_word() {
    const auto c = ram(kAccess, 4);
    return load_be<uint32_t>(std::span<const std::byte, 4>(c.data(), 4));
  }
};

TEST(FwCfgDeviceTest, SignatureIsSelectedAfterResetAndIdAdvertisesDma) {
  Fixture f;
  EXPECT_EQ(text_of(f.guest.read_port(4)), "QEMU");
  f.guest.select(kKeyId);
  EXPECT_EQ(f.guest.read_port(4), (std::vector<std::byte>{std::byte{3}, {}, {}, {}}));
  f.guest.select(kKeySignature);
  EXPECT_EQ(text_of(f.guest.read_port(6)), std::string("QEMU\0\0", 6));  // zeros past the end
}

TEST(FwCfgDeviceTest, DmaRegisterReadsQemuCfgInEveryWidth) {
  Fixture f;
  std::array<std::byte, 8> all{};
  f.device.read(4, all);
  EXPECT_EQ(text_of(all), "QEMU CFG");
  std::array<std::byte, 4> half{};
  f.device.read(8, half);
  EXPECT_EQ(text_of(half), " CFG");
  std::array<std::byte, 1> one{};
  f.device.read(7, one);
  EXPECT_EQ(text_of(one), "U");
}

TEST(FwCfgDeviceTest, FileDirectoryIsSortedByNameWithBigEndianFields) {
  Fixture f;
  f.guest.select(kKeyFileDir);
  const auto dir = f.guest.read_port(4 + 3 * 64);
  EXPECT_EQ(dir[3], std::byte{3});  // BE u32 count
  EXPECT_EQ(dir[0], std::byte{0});
  // Entry 0: "bootorder", size 0, key 0x20; entry 1: "etc/e820", size 10, key 0x21.
  std::vector<std::byte> expected(64);
  expected[3] = std::byte{10};
  expected[5] = std::byte{0x21};
  for (std::size_t i = 0; i < 8; ++i) {
    expected[8 + i] = static_cast<std::byte>("etc/e820"[i]);
  }
  EXPECT_EQ(std::vector<std::byte>(dir.begin() + 4 + 64, dir.begin() + 4 + 128), expected);
  EXPECT_EQ(text_of(std::span(dir).subspan(4 + 8, 9)), "bootorder");
  EXPECT_EQ(dir[4 + 5], std::byte{0x20});
  EXPECT_EQ(text_of(std::span(dir).subspan(4 + 128 + 8, 6)), std::string("opt/z\0", 6));
  EXPECT_EQ(dir[4 + 128 + 5], std::byte{0x22});
  const auto files = f.guest.directory();
  EXPECT_EQ(files.at("opt/z"), std::make_pair(uint16_t{0x22}, uint32_t{4}));
}

TEST(FwCfgDeviceTest, SelectResetsTheOffsetAndUnknownKeysReadZero) {
  Fixture f;
  f.guest.select(0x21);
  EXPECT_EQ(text_of(f.guest.read_port(4)), "0123");
  f.guest.select(0x21);
  EXPECT_EQ(text_of(f.guest.read_port(2)), "01");
  f.guest.select(0x21 | kKeyWriteFlag);  // bit 14 does not change the item
  EXPECT_EQ(text_of(f.guest.read_port(3)), "012");
  f.guest.select(0x1234);
  EXPECT_EQ(f.guest.read_port(3), std::vector<std::byte>(3));
  f.guest.select(kKeyNbCpus);
  EXPECT_EQ(f.guest.read_port(2), (std::vector<std::byte>{std::byte{3}, {}}));
}

TEST(FwCfgDeviceTest, WiderDataReadsAreStringPreservingAndDataWritesAreIgnored) {
  Fixture f;
  f.guest.select(0x21);
  const std::array<std::byte, 1> junk{std::byte{'X'}};
  f.device.write(1, junk);
  std::array<std::byte, 4> word{};
  f.device.read(1, word);
  EXPECT_EQ(text_of(word), "0123");
  std::array<std::byte, 1> one{};
  f.device.read(0, one);  // QEMU also serves 1-byte data reads at 0x510
  EXPECT_EQ(text_of(one), "4");
}

TEST(FwCfgDeviceTest, DmaSelectReadCopiesTheItemAndZeroFillsPastTheEnd) {
  Fixture f;
  f.fill(kBuffer, 32, 0xaa);
  const uint32_t control = f.guest.dma(kAccess, (0x21u << 16) | kDmaCtlSelect | kDmaCtlRead, 16,
                                       kBuffer);
  EXPECT_EQ(control, 0u);
  auto got = f.ram(kBuffer, 17);
  EXPECT_EQ(text_of(std::span(got).first(10)), "0123456789");
  EXPECT_EQ(std::vector<std::byte>(got.begin() + 10, got.begin() + 16), std::vector<std::byte>(6));
  EXPECT_EQ(got[16], std::byte{0xaa});  // nothing beyond `length`
  EXPECT_EQ(f.device.dma_stats().transfers, 1u);
  EXPECT_EQ(f.device.dma_stats().errors, 0u);
}

TEST(FwCfgDeviceTest, DmaContinuesAtThePortOffsetAndSkipAdvancesIt) {
  Fixture f;
  f.guest.select(0x21);
  EXPECT_EQ(text_of(f.guest.read_port(2)), "01");
  EXPECT_EQ(f.guest.dma(kAccess, kDmaCtlSkip, 3, 0), 0u);
  EXPECT_EQ(f.guest.dma(kAccess, kDmaCtlRead, 2, kBuffer), 0u);
  EXPECT_EQ(text_of(f.ram(kBuffer, 2)), "56");
  EXPECT_EQ(f.guest.dma(kAccess, kDmaCtlSkip, 0xffffffff, 0), 0u);  // stops at the end
  EXPECT_EQ(f.guest.read_port(1), std::vector<std::byte>(1));
  EXPECT_EQ(f.guest.dma(kAccess, (0x21u << 16) | kDmaCtlSelect, 5, kBuffer), 0u);  // select only
  EXPECT_EQ(text_of(f.guest.read_port(1)), "0");
}

TEST(FwCfgDeviceTest, DmaWriteIsRefusedWithTheErrorBitAndChangesNothing) {
  Fixture f;
  f.fill(kBuffer, 4, 'W');
  EXPECT_EQ(f.guest.dma(kAccess, (0x21u << 16) | kDmaCtlSelect | kDmaCtlWrite, 4, kBuffer),
            kDmaCtlError);
  f.guest.select(0x21);
  EXPECT_EQ(text_of(f.guest.read_port(4)), "0123");
  EXPECT_EQ(f.device.dma_stats().errors, 1u);
}

TEST(FwCfgDeviceTest, DmaDestinationOutsideRamFailsBeforeWritingAnything) {
  Fixture f;
  f.fill(kRamBytes - 8, 8, 0xaa);
  EXPECT_EQ(f.guest.dma(kAccess, (0x21u << 16) | kDmaCtlSelect | kDmaCtlRead, 16, kRamBytes - 8),
            kDmaCtlError);
  EXPECT_EQ(f.ram(kRamBytes - 8, 8), std::vector<std::byte>(8, std::byte{0xaa}));
  // A destination that wraps around 2^64.
  EXPECT_EQ(f.guest.dma(kAccess, kDmaCtlRead, 0x20, ~uint64_t{0} - 0xf), kDmaCtlError);
  // A length larger than RAM, for an unknown key (zero-fill path).
  EXPECT_EQ(f.guest.dma(kAccess, (0x999u << 16) | kDmaCtlSelect | kDmaCtlRead, 0xffffffff, 0),
            kDmaCtlError);
}

TEST(FwCfgDeviceTest, DmaZeroFillCoversAnyLengthInsideRam) {
  Fixture f;
  f.fill(0x10000, kRamBytes - 0x10000, 0x55);
  EXPECT_EQ(f.guest.dma(kAccess, (0x999u << 16) | kDmaCtlSelect | kDmaCtlRead,
                        kRamBytes - 0x10000, 0x10000),
            0u);
  EXPECT_EQ(f.ram(kRamBytes - 4, 4), std::vector<std::byte>(4));
  EXPECT_EQ(f.ram(0x10000, 4), std::vector<std::byte>(4));
}

TEST(FwCfgDeviceTest, AccessStructureOutsideRamDoesNothing) {
  Fixture f;
  std::array<std::byte, 4> half{};
  half[3] = std::byte{1};  // high half 1: the structure is at 4 GiB + ...
  f.device.write(4, half);
  half[3] = std::byte{0};
  f.device.write(8, half);
  EXPECT_EQ(f.device.dma_stats().errors, 1u);
  // The register went back to 0: a low-only write now reaches RAM again.
  EXPECT_EQ(f.guest.dma(kAccess, kDmaCtlSkip, 1, 0), 0u);
}

TEST(FwCfgDeviceTest, OneSixtyFourBitWriteStartsATransfer) {
  Fixture f;
  std::array<std::byte, 16> access{};
  access[3] = static_cast<std::byte>(kDmaCtlSelect | kDmaCtlRead);
  access[1] = std::byte{0x21};  // key in bits 31:16
  access[7] = std::byte{4};
  access[14] = std::byte{0x20};  // address 0x2000
  ASSERT_TRUE(f.memory.write(kAccess, access).has_value());
  std::array<std::byte, 8> address{};
  address[6] = std::byte{0x10};  // 0x1000, big-endian
  f.device.write(4, address);
  EXPECT_EQ(f.control_word(), 0u);
  EXPECT_EQ(text_of(f.ram(kBuffer, 4)), "0123");
}

TEST(FwCfgDeviceTest, WithoutDmaTheIdHasOnlyBitZeroAndTheRegisterIsInert) {
  Fixture f(/*dma=*/false);
  f.guest.select(kKeyId);
  EXPECT_EQ(f.guest.read_port(4), (std::vector<std::byte>{std::byte{1}, {}, {}, {}}));
  std::array<std::byte, 8> reg{};
  f.device.read(4, reg);
  EXPECT_EQ(reg, (std::array<std::byte, 8>{}));
  f.guest.dma(kAccess, (0x21u << 16) | kDmaCtlSelect | kDmaCtlRead, 4, kBuffer);
  EXPECT_EQ(f.device.dma_stats().transfers, 0u);
}

}  // namespace
}  // namespace cvm::devices::fw_cfg
