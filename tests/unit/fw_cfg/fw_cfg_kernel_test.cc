// SPDX-License-Identifier: Apache-2.0
// The bzImage split for fw_cfg direct boot: setup ‖ kernel is the unmodified file, so the SEV
// kernel hash cvmm measures is the hash of what the guest's firmware receives.
#include "firmware/fw_cfg_kernel.h"

#include <gtest/gtest.h>

#include "firmware/snp/kernel_hashes.h"
#include "tests/unit/x86/synthetic_images.h"

namespace cvm::firmware {
namespace {

using vmm::x86::testing::BzImageOptions;
using vmm::x86::testing::make_bzimage;

TEST(FwCfgKernelTest, SetupIsSetupSectsPlusOneSectorsAndKernelIsTheRest) {
  const auto image = make_bzimage({.setup_sects = 7, .payload_size = 0x3000});
  auto parts = split_bzimage_for_fw_cfg(image);
  ASSERT_TRUE(parts.has_value()) << parts.error().message();
  EXPECT_EQ(parts->setup.size(), 8u * 512);
  EXPECT_EQ(parts->kernel.size(), 0x3000u);
  EXPECT_EQ(parts->setup.data(), image.data());
  EXPECT_EQ(parts->kernel.data(), image.data() + 8 * 512);
}

TEST(FwCfgKernelTest, ZeroSetupSectsMeansFour) {
  const auto image = make_bzimage({.setup_sects = 0});
  auto parts = split_bzimage_for_fw_cfg(image);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->setup.size(), 5u * 512);
}

TEST(FwCfgKernelTest, SetupThenKernelIsTheFileAndHashesLikeTheSevKernelHash) {
  const auto image = make_bzimage({.setup_sects = 3, .payload_size = 0x4321});
  auto parts = split_bzimage_for_fw_cfg(image);
  ASSERT_TRUE(parts.has_value());
  std::vector<std::byte> joined(parts->setup.begin(), parts->setup.end());
  joined.insert(joined.end(), parts->kernel.begin(), parts->kernel.end());
  EXPECT_EQ(joined, image);
  Hasher hasher(HashAlgorithm::kSha256);
  hasher.update(parts->setup).update(parts->kernel);
  Sha256Digest streamed{};
  hasher.finish(streamed);
  const auto hashes = snp::compute_kernel_hashes(image, {}, "console=ttyS0");
  EXPECT_EQ(streamed, hashes.kernel);
  EXPECT_EQ(sha256(fw_cfg_cmdline("console=ttyS0")), hashes.cmdline);
}

TEST(FwCfgKernelTest, CommandLineCarriesItsNul) {
  const auto bytes = fw_cfg_cmdline("ro");
  EXPECT_EQ(bytes, (std::vector<std::byte>{std::byte{'r'}, std::byte{'o'}, std::byte{0}}));
  EXPECT_EQ(fw_cfg_cmdline(""), std::vector<std::byte>(1));
}

TEST(FwCfgKernelTest, NonBzImagesAreRefusedWithAClearError) {
  std::vector<std::byte> elf(4096);
  elf[0] = std::byte{0x7f};
  auto not_bz = split_bzimage_for_fw_cfg(elf);
  ASSERT_FALSE(not_bz.has_value());
  EXPECT_EQ(not_bz.error().code(), ErrorCode::kMalformedImage);
  EXPECT_EQ(not_bz.error().message(),
            "kernel: not a bzImage (no \"HdrS\" setup header at 0x202); firmware direct boot "
            "takes a bzImage");
  EXPECT_FALSE(split_bzimage_for_fw_cfg(std::vector<std::byte>(16)).has_value());
  auto zimage = split_bzimage_for_fw_cfg(make_bzimage({.loadflags = 0}));
  ASSERT_FALSE(zimage.has_value());
  EXPECT_EQ(zimage.error().message(),
            "kernel: boot protocol 0x020f with loadflags 0x00 is a zImage, not a bzImage (needs "
            "protocol >= 2.00 and LOADED_HIGH)");
  auto old = split_bzimage_for_fw_cfg(make_bzimage({.version = 0x0105}));
  EXPECT_FALSE(old.has_value());
  auto truncated = make_bzimage({.setup_sects = 4});
  truncated.resize(5 * 512);
  auto no_kernel = split_bzimage_for_fw_cfg(truncated);
  ASSERT_FALSE(no_kernel.has_value());
  EXPECT_EQ(no_kernel.error().message(),
            "kernel: setup of 0xa00 bytes (5 sectors) leaves no kernel in a 0xa00-byte file");
}

}  // namespace
}  // namespace cvm::firmware
