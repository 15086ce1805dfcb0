// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/rtmr.h"

#include "base/file.h"
#include "base/hex.h"
#include "tests/unit/firmware/tdx/tdvf_test_image.h"

#include <gtest/gtest.h>

#include <memory>

namespace cvm::firmware::tdx {
namespace {

constexpr std::string_view kCmdline = "console=ttyS0 loglevel=7";
// SHA-384 of "console=ttyS0 loglevel=7" in UTF-16LE with NUL, as TDVF-booted Linux measures it.
constexpr std::string_view kCmdlineDigest =
    "799728bc56f2a2e2ec0f99fadf8a091ad1b29cf5133c2c0d0cc8c389d178ddeb7e54bd87e46ae99879277aef84ed60"
    "36";

Sha384Digest digest_from_hex(std::string_view hex) {
  auto bytes = from_hex(hex, "digest");
  Sha384Digest out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

TEST(RtmrTest, CmdlineEventDigestReferenceValue) {
  EXPECT_EQ(to_hex(cmdline_event_digest(kCmdline)), kCmdlineDigest);
}

TEST(RtmrTest, LoadOptionsAppendInitrdLikeEdk2Stable202211) {
  EXPECT_EQ(to_hex(sha384(qemu_load_options(kCmdline, false))), kCmdlineDigest);
  // "console=ttyS0 loglevel=7 initrd=initrd" + NUL in UTF-16LE.
  EXPECT_EQ(to_hex(sha384(qemu_load_options(kCmdline, true))),
            "52f77592a0a956ba5df88188dcce39ac66d306aa21ef6ff9f92db287cb51342cf52d9feb9d24442a13c7"
            "31b8ea5b649e");
  EXPECT_TRUE(qemu_load_options("", false).empty());
  EXPECT_EQ(qemu_load_options("a", false).size(), 4u);
}

TEST(RtmrTest, ExtendIsSha384OfOldAndDigest) {
  const Sha384Digest extended = rtmr_extend(Sha384Digest{}, digest_from_hex(kCmdlineDigest));
  EXPECT_EQ(to_hex(extended),
            "7529292b698c447f34aa3e25d5d6dca93b0d4953817a4f0ec10bd851867f9096a7e260eeb45704f377b2"
            "b743e52bf820");
  const std::vector<RtmrEvent> events = {{2, 6, "cmdline", digest_from_hex(kCmdlineDigest)}};
  const RtmrValues values = replay_rtmrs(events);
  EXPECT_EQ(values[2], extended);
  EXPECT_EQ(values[0], Sha384Digest{});
}

TEST(RtmrTest, UnknownFirmwareIsRefused) {
  const std::vector<std::byte> image = testing::make_image(testing::default_sections());
  auto build = identify_tdvf_build(image);
  ASSERT_FALSE(build.has_value());
  EXPECT_EQ(build.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(build.error().message().find("refusing to predict RTMRs"), std::string::npos);
}

TEST(RtmrTest, DebianOvmfExtendsNoRtmr) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image.has_value()) {
    GTEST_SKIP() << "reference image absent: " << image.error().message();
  }
  auto build = identify_tdvf_build(*image);
  if (!build.has_value()) {
    GTEST_SKIP() << build.error().message();
  }
  const Blob firmware = std::make_shared<const std::vector<std::byte>>(std::move(*image));
  auto launch = build_tdx_launch({.firmware = firmware, .memory_size = 0x8000'0000, .vcpus = 1});
  ASSERT_TRUE(launch.has_value()) << launch.error().message();
  const std::vector<std::byte> initrd(100, std::byte{0x42});
  DirectBootInputs boot{.kernel = std::nullopt, .initrd = initrd, .cmdline = std::string(kCmdline)};
  auto model = model_rtmrs(*firmware, *launch, boot);
  ASSERT_TRUE(model.has_value()) << model.error().message();
  EXPECT_FALSE(model->build.extends_rtmrs);
  EXPECT_TRUE(model->events.empty());
  for (const Sha384Digest& value : model->values) {
    EXPECT_EQ(value, Sha384Digest{});
  }
  ASSERT_EQ(model->input_digests.size(), 4u);
  // The HOB event covers the PHIT and 3 + 3 resource descriptors (2 GiB, OVMF's 4 accepted
  // sections, two of them adjacent), not the End HOB.
  EXPECT_EQ(to_hex(model->input_digests[0].digest),
            to_hex(sha384(std::span(*launch->td_hob).first(56 + 48 * launch->ram.size()))));
  EXPECT_EQ(to_hex(model->input_digests[2].digest),
            to_hex(sha384(qemu_load_options(kCmdline, true))));
  EXPECT_EQ(to_hex(model->input_digests[3].digest), to_hex(sha384(initrd)));

  boot.kernel = std::span<const std::byte>(initrd);  // not a PE image
  auto refused = model_rtmrs(*firmware, *launch, boot);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message(),
            "kernel (an EFI-stub bzImage is required): PE image: no \"MZ\" DOS header");
}

}  // namespace
}  // namespace cvm::firmware::tdx
