// SPDX-License-Identifier: Apache-2.0
// Where a --firmware image goes (ending at 4 GiB, size limits) and the firmware-boot e820 map.
#include <gtest/gtest.h>

#include "vmm/x86/e820.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {
namespace {

TEST(FirmwareLayoutTest, ImageEndsAt4GiB) {
  auto region = firmware_region(2 * kMiB, "OVMF.fd");
  ASSERT_TRUE(region.has_value()) << region.error().message();
  EXPECT_EQ(region->gpa, 0xffe00000u);
  EXPECT_EQ(region->size, 2 * kMiB);
  region = firmware_region(64 * kKiB, "fw.bin");
  ASSERT_TRUE(region.has_value());
  EXPECT_EQ(region->gpa, 0xffff0000u);
  region = firmware_region(16 * kMiB, "big.fd");
  ASSERT_TRUE(region.has_value());
  EXPECT_EQ(region->gpa, kFirmwareStart);
}

TEST(FirmwareLayoutTest, BadSizesNameTheFile) {
  EXPECT_EQ(firmware_region(0, "/tmp/empty.fd").error().message(),
            "firmware /tmp/empty.fd: size 0x0 is not a non-zero multiple of 4 KiB");
  EXPECT_EQ(firmware_region(4097, "/tmp/odd.fd").error().message(),
            "firmware /tmp/odd.fd: size 0x1001 is not a non-zero multiple of 4 KiB");
  EXPECT_EQ(firmware_region(16 * kMiB + kPageSize, "/tmp/huge.fd").error().message(),
            "firmware /tmp/huge.fd: size 16 MiB exceeds the 16 MiB firmware region below 4 GiB");
  EXPECT_EQ(firmware_region(16 * kMiB + kPageSize, "x").error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(FirmwareLayoutTest, E820ReservesTheFirmwareBetweenLowAndHighRam) {
  const auto layout = compute_memory_layout(5 * kGiB);
  ASSERT_TRUE(layout.has_value());
  const auto region = firmware_region(2 * kMiB, "OVMF.fd");
  ASSERT_TRUE(region.has_value());
  const std::vector<E820Entry> expected = {
      {.addr = 0, .size = 3 * kGiB, .type = E820Type::kRam},
      {.addr = 0xffe00000, .size = 2 * kMiB, .type = E820Type::kReserved},
      {.addr = 4 * kGiB, .size = 2 * kGiB, .type = E820Type::kRam},
  };
  EXPECT_EQ(build_firmware_e820_map(*layout, *region), expected);
  const auto small = compute_memory_layout(128 * kMiB);
  ASSERT_TRUE(small.has_value());
  const auto map = build_firmware_e820_map(*small, *region);
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map[0], (E820Entry{.addr = 0, .size = 128 * kMiB, .type = E820Type::kRam}));
}

}  // namespace
}  // namespace cvm::vmm::x86
