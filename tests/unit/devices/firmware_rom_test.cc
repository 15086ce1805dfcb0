// SPDX-License-Identifier: Apache-2.0
// FirmwareRom: reads are the image bytes (then zeros), writes are dropped, counted and logged
// once; on a Bus the whole window is claimed, so OVMF's SEV-ES/SNP flash writes are handled.
#include "devices/firmware_rom/firmware_rom.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::firmware_rom {
namespace {

using testing::read_le;
using testing::write_le;

std::shared_ptr<const std::vector<std::byte>> image_of(std::size_t size) {
  auto bytes = std::make_shared<std::vector<std::byte>>(size);
  for (std::size_t i = 0; i < size; ++i) {
    (*bytes)[i] = static_cast<std::byte>((i * 7 + 3) & 0xff);
  }
  return bytes;
}

struct LogLines {
  std::vector<std::string> lines;
  InfoLog sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(FirmwareRomTest, ReadsReturnTheImageBytesAtEveryWidth) {
  const auto image = image_of(0x2000);
  LogLines log;
  FirmwareRom rom(image, *image, image->size(), "rom", log.sink());
  EXPECT_EQ(rom.size(), 0x2000u);
  EXPECT_EQ(read_le(rom, 0, 1), 0x03u);
  EXPECT_EQ(read_le(rom, 1, 1), 0x0au);
  EXPECT_EQ(read_le(rom, 0x100, 2), 0x0a03u);  // bytes 0x100, 0x101: 0x03, 0x0a
  EXPECT_EQ(read_le(rom, 0x1ff8, 8), 0xfcf5eee7e0d9d2cbu);  // the last 8 bytes
  EXPECT_TRUE(log.lines.empty());
}

TEST(FirmwareRomTest, WritesAreDroppedCountedAndLoggedOnce) {
  const auto image = image_of(0x1000);
  LogLines log;
  FirmwareRom rom(image, *image, image->size(), "firmware [0xfffff000, 0x100000000)",
                  log.sink());
  // QemuFlashWrite: WRITE_BYTE_CMD then the data byte, READ_ARRAY_CMD at the end.
  write_le(rom, 0x10, 0x10, 1);
  write_le(rom, 0x10, 0xab, 1);
  write_le(rom, 0x10, 0xff, 1);
  write_le(rom, 0x20, 0x1122334455667788, 8);
  EXPECT_EQ(rom.discarded_writes(), 4u);
  EXPECT_EQ(read_le(rom, 0x10, 1), static_cast<uint64_t>((0x10 * 7 + 3) & 0xff));
  EXPECT_EQ(read_le(rom, 0x20, 1), static_cast<uint64_t>((0x20 * 7 + 3) & 0xff));
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0],
            "firmware [0xfffff000, 0x100000000) is read-only: guest writes are discarded, so "
            "UEFI variable writes are not persisted under a TEE");
}

TEST(FirmwareRomTest, WindowBeyondTheContentsReadsZero) {
  const auto image = image_of(0x10);
  FirmwareRom rom(image, *image, 0x1000, "rom", [](std::string_view) {});
  EXPECT_EQ(read_le(rom, 0x0c, 8), 0x000000006c655e57u);  // 4 image bytes, then zeros
  EXPECT_EQ(read_le(rom, 0x800, 8), 0u);
}

TEST(FirmwareRomTest, HostileOffsetsNeverReadOutsideTheImage) {
  const auto image = image_of(0x10);
  FirmwareRom rom(image, *image, 0x10, "rom", [](std::string_view) {});
  EXPECT_EQ(read_le(rom, 0x10, 8), 0u);
  EXPECT_EQ(read_le(rom, UINT64_MAX, 8), 0u);
  EXPECT_EQ(read_le(rom, 0x0f, 8), 0x6cu);
  std::byte none[1];
  rom.read(0, std::span<std::byte>(none, 0));
  write_le(rom, UINT64_MAX, 1, 1);
  EXPECT_EQ(rom.discarded_writes(), 1u);
}

TEST(FirmwareRomTest, ContentsLongerThanTheWindowAreCut) {
  const auto image = image_of(0x20);
  FirmwareRom rom(image, *image, 0x10, "rom", [](std::string_view) {});
  EXPECT_EQ(read_le(rom, 0x0f, 1), 0x6cu);
  EXPECT_EQ(read_le(rom, 0x10, 1), 0u);
}

TEST(FirmwareRomTest, OnABusTheWholeWindowIsClaimed) {
  const auto image = image_of(0x2000);
  Bus mmio(BusKind::kMmio);
  auto rom = std::make_shared<FirmwareRom>(image, *image, image->size(), "rom",
                                           [](std::string_view) {});
  constexpr uint64_t kBase = 0x100000000 - 0x2000;
  ASSERT_TRUE(mmio.insert(rom, kBase, 0x2000).has_value());
  const std::byte data[1] = {std::byte{0x50}};  // CLEAR_STATUS_CMD
  EXPECT_TRUE(mmio.write(kBase, data));
  EXPECT_TRUE(mmio.write(kBase + 0x1fff, data));
  std::byte out[8] = {};
  EXPECT_TRUE(mmio.read(kBase + 0x1ff8, out));
  EXPECT_EQ(out[7], (*image)[0x1fff]);
  EXPECT_EQ(mmio.unhandled_writes(), 0u);
  EXPECT_EQ(mmio.unhandled_reads(), 0u);
  EXPECT_EQ(rom->discarded_writes(), 2u);
  EXPECT_FALSE(mmio.write(kBase - 1, data));  // outside: still unhandled
  EXPECT_EQ(mmio.unhandled_writes(), 1u);
}

TEST(FirmwareRomTest, ConcurrentWritersLogOnceAndCountAll) {
  const auto image = image_of(0x1000);
  LogLines log;
  FirmwareRom rom(image, *image, image->size(), "rom", log.sink());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&rom] {
      for (int i = 0; i < 1000; ++i) {
        write_le(rom, static_cast<uint64_t>(i), 0x10, 1);
        EXPECT_EQ(read_le(rom, 0, 1), 0x03u);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(rom.discarded_writes(), 4000u);
  EXPECT_EQ(log.lines.size(), 1u);
}

}  // namespace
}  // namespace cvm::devices::firmware_rom
