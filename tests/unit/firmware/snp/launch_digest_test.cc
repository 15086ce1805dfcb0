// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/launch_digest.h"

#include <memory>

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "base/hex.h"

namespace cvm::firmware::snp {
namespace {

Blob blob_of(std::size_t size, std::byte fill) {
  return std::make_shared<const std::vector<std::byte>>(size, fill);
}

PlanRange range(uint64_t gpa, uint64_t size, Blob blob, PageKind kind) {
  PlanRange r;
  r.gpa = gpa;
  r.size = size;
  r.length = blob ? blob->size() : 0;
  r.blob = std::move(blob);
  r.kind = kind;
  return r;
}

// Expected values computed independently with Python hashlib from the SEV-SNP ABI PAGE_INFO
// layout (§8.17.2): a NORMAL page of 0x5a bytes at GPA 0xffffe000 on a zero digest, then a
// ZERO page at 0x800000.
constexpr std::string_view kPageInfo =
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000057381dd99f9b05400d52117455965c1cc0f539df13eb8512a1f8bbef0878eb"
    "40315edf7deada7cf28b2851fc5cd072700001000000000000e0ffff00000000";
constexpr std::string_view kDigestAfterNormal =
    "635d1f9c6dd2171b2968dfa12c1dc32c243403ae76dab31fb344e1ad886e35b0512ab4786895e9b40ff6e8f5f8a3ec2b";
constexpr std::string_view kDigestAfterZero =
    "d17da9b454f5057e4bfc0881204bbed5af9450ff7dbabde3a419a7ad7b6cedf4b0c1f35d28cde362171d5cca076515a4";

TEST(SnpLaunchDigestTest, PageInfoBytesOfKnownPage) {
  const std::vector<std::byte> page(4096, std::byte{0x5a});
  const PageInfo info = encode_page_info(Sha384Digest{}, sha384(page), SnpPageType::kNormal,
                                         0xffffe000);
  EXPECT_EQ(to_hex(info), kPageInfo);
  EXPECT_EQ(info[0x60], std::byte{0x70});  // LENGTH
  EXPECT_EQ(info[0x62], std::byte{1});     // PAGE_TYPE NORMAL
}

TEST(SnpLaunchDigestTest, FoldsNormalThenZeroPage) {
  SnpLaunchDigest gctx;
  EXPECT_EQ(gctx.digest(), Sha384Digest{});
  gctx.update_page(SnpPageType::kNormal, 0xffffe000, std::vector<std::byte>(4096, std::byte{0x5a}));
  EXPECT_EQ(to_hex(gctx.digest()), kDigestAfterNormal);
  gctx.update_page(SnpPageType::kZero, 0x800000, {});
  EXPECT_EQ(to_hex(gctx.digest()), kDigestAfterZero);
}

TEST(SnpLaunchDigestTest, PlanFoldEqualsPageByPageUpdates) {
  LaunchPlan plan;
  plan.ranges.push_back(range(0xffffe000, 4096, blob_of(4096, std::byte{0x5a}), PageKind::kNormal));
  plan.ranges.push_back(range(0x800000, 4096, nullptr, PageKind::kZero));
  EXPECT_EQ(to_hex(measure_snp(plan)), kDigestAfterZero);
}

TEST(SnpLaunchDigestTest, ShortBlobIsZeroFilledToTheRangeSize) {
  std::vector<std::byte> full(8192, std::byte{0});
  std::fill(full.begin(), full.begin() + 5000, std::byte{0x11});
  LaunchPlan padded;
  padded.ranges.push_back(range(0x1000, 8192, blob_of(5000, std::byte{0x11}), PageKind::kNormal));
  LaunchPlan explicit_zeros;
  explicit_zeros.ranges.push_back(range(
      0x1000, 8192, std::make_shared<const std::vector<std::byte>>(full), PageKind::kNormal));
  EXPECT_EQ(measure_snp(padded), measure_snp(explicit_zeros));
}

TEST(SnpLaunchDigestTest, VmsaPagesAreRecordedAtTheVmsaGpa) {
  const Blob page = blob_of(4096, std::byte{0x42});
  LaunchPlan plan;
  plan.ranges.push_back(range(0x1234000, 4096, page, PageKind::kVmsa));
  SnpLaunchDigest expected;
  expected.update(SnpPageType::kVmsa, kVmsaGpa, sha384(*page));
  EXPECT_EQ(measure_snp(plan), expected.digest());
}

TEST(SnpLaunchDigestTest, UnmeasuredKindsContributeTypeAndAddressOnly) {
  for (const PageKind kind : {PageKind::kZero, PageKind::kUnmeasured, PageKind::kSecrets,
                              PageKind::kCpuid}) {
    LaunchPlan plan;
    plan.ranges.push_back(range(0x2000, 8192, blob_of(8192, std::byte{0x77}), kind));
    SnpLaunchDigest expected;
    expected.update(snp_page_type(kind), 0x2000, Sha384Digest{});
    expected.update(snp_page_type(kind), 0x3000, Sha384Digest{});
    EXPECT_EQ(measure_snp(plan), expected.digest()) << static_cast<int>(kind);
  }
}

TEST(SnpLaunchDigestTest, FirmwareDigestSeedsTheFold) {
  LaunchPlan plan;
  plan.ranges.push_back(range(0xffffe000, 4096, blob_of(4096, std::byte{0x5a}), PageKind::kNormal));
  plan.ranges.push_back(range(0x800000, 4096, nullptr, PageKind::kZero));
  plan.firmware_ranges = 1;
  const Sha384Digest firmware = measure_snp_firmware(plan);
  EXPECT_EQ(to_hex(firmware), kDigestAfterNormal);
  EXPECT_EQ(measure_snp(plan, firmware), measure_snp(plan));
}

TEST(SevLaunchDigestTest, HashesNormalAndVmsaBytesInOrder) {
  LaunchPlan plan;
  plan.ranges.push_back(range(0x1000, 3, blob_of(2, std::byte{'a'}), PageKind::kNormal));
  plan.ranges.push_back(range(0x0, 4096, nullptr, PageKind::kZero));  // not measured by SEV
  plan.ranges.push_back(range(kVmsaGpa, 2, blob_of(2, std::byte{'b'}), PageKind::kVmsa));
  const std::string expected_input("aa\0bb", 5);
  EXPECT_EQ(measure_sev(plan), sha256(as_bytes(expected_input)));
}

}  // namespace
}  // namespace cvm::firmware::snp
