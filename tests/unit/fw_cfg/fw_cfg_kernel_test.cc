// SPDX-License-Identifier: Apache-2.0
// The bzImage split for fw_cfg direct boot: setup ‖ kernel is the unmodified file, so the SEV
// kernel hash cvmm measures is the hash of what the guest's firmware receives; and the one rule
// (check_firmware_boot_kernel) deciding which kernels cvmm and cvmm-measure take for it.
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

TEST(FwCfgKernelTest, NonBzImagesAreRefusedWithTheFirmwareBootError) {
  std::vector<std::byte> elf(4096);
  elf[0] = std::byte{0x7f};
  auto not_bz = split_bzimage_for_fw_cfg(elf);
  ASSERT_FALSE(not_bz.has_value());
  EXPECT_EQ(not_bz.error().code(), ErrorCode::kMalformedImage);
  EXPECT_EQ(not_bz.error().message(),
            "kernel: firmware direct boot needs a bzImage (the firmware loads the kernel through "
            "fw_cfg): no \"HdrS\" setup header at 0x202");
  EXPECT_FALSE(split_bzimage_for_fw_cfg(std::vector<std::byte>(16)).has_value());
  auto zimage = split_bzimage_for_fw_cfg(make_bzimage({.loadflags = 0}));
  ASSERT_FALSE(zimage.has_value());
  EXPECT_EQ(zimage.error().message(),
            "kernel: firmware direct boot needs a bzImage (the firmware loads the kernel through "
            "fw_cfg): boot protocol 0x020f with loadflags 0x00 is a zImage (needs protocol >= "
            "2.00 and LOADED_HIGH)");
  auto old = split_bzimage_for_fw_cfg(make_bzimage({.version = 0x0105}));
  EXPECT_FALSE(old.has_value());
  auto truncated = make_bzimage({.setup_sects = 4});
  truncated.resize(5 * 512);
  auto no_kernel = split_bzimage_for_fw_cfg(truncated);
  ASSERT_FALSE(no_kernel.has_value());
  EXPECT_EQ(no_kernel.error().message(),
            "kernel: firmware direct boot needs a bzImage (the firmware loads the kernel through "
            "fw_cfg): setup of 0xa00 bytes (5 sectors) leaves no kernel in a 0xa00-byte file");
}

// check_firmware_boot_kernel: the rule cvmm (--firmware --kernel) and cvmm-measure
// (--vmm-type cvmm, tdx) share.
constexpr std::string_view kRule =
    "firmware direct boot needs a bzImage (the firmware loads the kernel through fw_cfg): ";

/// The smallest file the rule accepts, written field by field (not with make_bzimage): one
/// setup sector after the boot sector, a "HdrS" header of protocol 2.00 with LOADED_HIGH, and
/// one byte of kernel.
std::vector<std::byte> minimal_bzimage(uint16_t version = 0x0200) {
  std::vector<std::byte> image(2 * 512 + 1);
  image[0x1f1] = std::byte{1};  // setup_sects
  const char magic[] = "HdrS";
  for (std::size_t i = 0; i < 4; ++i) {
    image[0x202 + i] = static_cast<std::byte>(magic[i]);
  }
  image[0x206] = static_cast<std::byte>(version & 0xff);
  image[0x207] = static_cast<std::byte>(version >> 8);
  image[0x211] = std::byte{0x01};  // LOADED_HIGH
  return image;
}

std::string rule_error(std::span<const std::byte> image) {
  auto checked = check_firmware_boot_kernel(image);
  if (checked) {
    return "accepted";
  }
  EXPECT_EQ(checked.error().code(), ErrorCode::kMalformedImage);
  return checked.error().message();
}

TEST(FirmwareBootKernelTest, AcceptsAMinimalBzImageAndTheSyntheticOne) {
  EXPECT_EQ(rule_error(minimal_bzimage()), "accepted");
  EXPECT_EQ(rule_error(make_bzimage()), "accepted");
  EXPECT_EQ(rule_error(make_bzimage({.setup_sects = 0})), "accepted");  // 0 means 4
}

TEST(FirmwareBootKernelTest, RefusesAnElfVmlinux) {
  EXPECT_EQ(rule_error(vmm::x86::testing::make_elf()),
            std::string(kRule) + "this is an ELF vmlinux");
}

TEST(FirmwareBootKernelTest, RefusesFilesTooShortForASetupHeader) {
  EXPECT_EQ(rule_error({}),
            std::string(kRule) + "a 0-byte file is too short for a setup header (0x212 bytes)");
  auto cut = minimal_bzimage();
  cut.resize(0x211);  // loadflags missing
  EXPECT_EQ(rule_error(cut),
            std::string(kRule) + "a 529-byte file is too short for a setup header (0x212 bytes)");
}

TEST(FirmwareBootKernelTest, RefusesAWrongMagic) {
  auto image = minimal_bzimage();
  image[0x205] = std::byte{'s'};  // "Hdrs"
  EXPECT_EQ(rule_error(image), std::string(kRule) + "no \"HdrS\" setup header at 0x202");
  // The sev-snp-measure reference kernel (a 10000-byte pattern) is not a bzImage either.
  std::vector<std::byte> pattern(10000);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    pattern[i] = static_cast<std::byte>((i * 13 + 1) & 0xff);
  }
  EXPECT_EQ(rule_error(pattern), std::string(kRule) + "no \"HdrS\" setup header at 0x202");
}

TEST(FirmwareBootKernelTest, RefusesOldProtocolsAndZImages) {
  EXPECT_EQ(rule_error(minimal_bzimage(0x01ff)),
            std::string(kRule) +
                "boot protocol 0x01ff with loadflags 0x01 is a zImage (needs protocol >= 2.00 "
                "and LOADED_HIGH)");
  auto zimage = minimal_bzimage();
  zimage[0x211] = std::byte{0};
  EXPECT_EQ(rule_error(zimage),
            std::string(kRule) +
                "boot protocol 0x0200 with loadflags 0x00 is a zImage (needs protocol >= 2.00 "
                "and LOADED_HIGH)");
}

TEST(FirmwareBootKernelTest, RefusesASetupWithoutKernel) {
  auto image = minimal_bzimage();
  image.pop_back();
  EXPECT_EQ(rule_error(image),
            std::string(kRule) +
                "setup of 0x400 bytes (2 sectors) leaves no kernel in a 0x400-byte file");
}

}  // namespace
}  // namespace cvm::firmware
