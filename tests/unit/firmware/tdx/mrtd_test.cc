// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/mrtd.h"

#include "base/file.h"
#include "base/hex.h"
#include "tests/unit/firmware/tdx/tdvf_test_image.h"

#include <gtest/gtest.h>

#include <memory>

namespace cvm::firmware::tdx {
namespace {

constexpr uint64_t kMemory = 0x100'0000;

Blob blob_of(std::vector<std::byte> bytes) {
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

// The TDX module's measurement records, written out independently of mrtd.cc: 128 bytes each,
// the ASCII operation name from byte 0, the GPA little-endian from byte 16.
void append_record(std::vector<std::byte>& stream, const std::string& name, uint64_t gpa) {
  std::vector<std::byte> record(128, std::byte{0});
  for (std::size_t i = 0; i < name.size(); ++i) {
    record[i] = static_cast<std::byte>(name[i]);
  }
  for (int i = 0; i < 8; ++i) {
    record[16 + static_cast<std::size_t>(i)] = static_cast<std::byte>((gpa >> (8 * i)) & 0xff);
  }
  stream.insert(stream.end(), record.begin(), record.end());
}

// Pages of one section: PAGE.ADD then (if measured) 16 x (MR.EXTEND record + 256 bytes).
void append_section(std::vector<std::byte>& stream, uint64_t gpa, uint64_t size,
                    const std::vector<std::byte>& contents, bool measured) {
  for (uint64_t page = 0; page < size; page += 4096) {
    append_record(stream, "MEM.PAGE.ADD", gpa + page);
    if (!measured) {
      continue;
    }
    for (uint64_t chunk = page; chunk < page + 4096; chunk += 256) {
      append_record(stream, "MR.EXTEND", gpa + chunk);
      for (uint64_t i = chunk; i < chunk + 256; ++i) {
        stream.push_back(i < contents.size() ? contents[i] : std::byte{0});
      }
    }
  }
}

TEST(TdxLaunchPlanTest, RangesFollowMetadataOrder) {
  const Blob image = blob_of(testing::make_image(testing::default_sections()));
  auto launch = build_tdx_launch({.firmware = image, .memory_size = kMemory, .vcpus = 2});
  ASSERT_TRUE(launch.has_value()) << launch.error().message();
  const LaunchPlan& plan = launch->plan;
  ASSERT_EQ(plan.ranges.size(), 4u);
  EXPECT_EQ(plan.ranges[0].label, "BFV (section 0)");
  EXPECT_EQ(plan.ranges[0].gpa, 0xffff8000u);
  EXPECT_EQ(plan.ranges[0].offset, 0x8000u);
  EXPECT_EQ(plan.ranges[0].length, 0x8000u);
  EXPECT_TRUE(plan.ranges[0].measured);
  EXPECT_EQ(plan.ranges[1].label, "CFV (section 1)");
  EXPECT_FALSE(plan.ranges[1].measured);
  EXPECT_EQ(plan.ranges[2].kind, PageKind::kZero);
  EXPECT_EQ(plan.ranges[2].contents().size(), 0u);
  EXPECT_EQ(plan.ranges[3].label, "TD_HOB (section 3)");
  EXPECT_EQ(plan.ranges[3].blob, launch->td_hob);
  EXPECT_EQ(plan.ranges[3].size, 0x1000u);
  EXPECT_EQ(plan.td_hob_gpa, 0x3000u);
  EXPECT_EQ(plan.vcpus.size(), 2u);
}

TEST(TdxLaunchPlanTest, LowersToOneInitMemRegionPerRange) {
  const Blob image = blob_of(testing::make_image(testing::default_sections()));
  auto plan = build_tdx_launch_plan({.firmware = image, .memory_size = kMemory, .vcpus = 1});
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  const std::vector<TdxInitMemRegion> regions = lower_tdx_plan(*plan);
  ASSERT_EQ(regions.size(), 4u);
  EXPECT_EQ(regions[0].gpa, 0xffff8000u);
  EXPECT_EQ(regions[0].nr_pages, 8u);
  EXPECT_TRUE(regions[0].measure);
  EXPECT_EQ(regions[0].contents.data(), image->data() + 0x8000);
  EXPECT_EQ(regions[0].contents.size(), 0x8000u);
  EXPECT_EQ(regions[1].nr_pages, 4u);
  EXPECT_FALSE(regions[1].measure);
  EXPECT_EQ(regions[2].gpa, 0x1000u);
  EXPECT_TRUE(regions[2].contents.empty());
  EXPECT_EQ(regions[3].gpa, 0x3000u);
  EXPECT_EQ(regions[3].nr_pages, 1u);
  EXPECT_EQ(regions[3].contents.size(), 0x100u);  // the HOB list; the rest of the page is zero
  EXPECT_EQ(measure_mrtd(regions), measure_mrtd(*plan));
}

TEST(TdxLaunchPlanTest, PayloadSectionsAreRefused) {
  auto sections = testing::default_sections();
  sections.push_back({0, 0, 0x10000, 0x1000, 5, 0});
  auto plan = build_tdx_launch_plan(
      {.firmware = blob_of(testing::make_image(sections)), .memory_size = kMemory, .vcpus = 1});
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().message(),
            "TDVF section 4 (Payload): td-shim payload sections are not supported");
}

TEST(TdxMrtdTest, SyntheticImageMatchesExplicitByteStream) {
  const std::vector<std::byte> image = testing::make_image(testing::default_sections());
  auto launch = build_tdx_launch({.firmware = blob_of(image), .memory_size = kMemory, .vcpus = 1});
  ASSERT_TRUE(launch.has_value()) << launch.error().message();

  std::vector<std::byte> stream;
  const std::vector<std::byte> bfv(image.begin() + 0x8000, image.end());
  append_section(stream, 0xffff8000, 0x8000, bfv, true);
  append_section(stream, 0xffff0000, 0x4000, {}, false);
  append_section(stream, 0x1000, 0x2000, {}, false);
  append_section(stream, 0x3000, 0x1000, {}, false);
  ASSERT_EQ(stream.size(), 8u * (128 + 16 * (128 + 256)) + 7u * 128);

  EXPECT_EQ(to_hex(measure_mrtd(launch->plan)), to_hex(sha384(stream)));
}

TEST(TdxMrtdTest, MeasuredFlagAndContentsChangeTheDigest) {
  const std::vector<std::byte> image = testing::make_image(testing::default_sections());
  auto launch = build_tdx_launch({.firmware = blob_of(image), .memory_size = kMemory, .vcpus = 1});
  ASSERT_TRUE(launch.has_value());
  const Sha384Digest base = measure_mrtd(launch->plan);
  LaunchPlan unmeasured = launch->plan;
  unmeasured.ranges[0].measured = false;
  EXPECT_NE(measure_mrtd(unmeasured), base);
  std::vector<std::byte> changed = image;
  changed[0x8000] ^= std::byte{1};
  auto other = build_tdx_launch({.firmware = blob_of(changed), .memory_size = kMemory, .vcpus = 1});
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(measure_mrtd(other->plan), base);
}

// Reference: Debian 12 ovmf 2022.11-6+deb12u2 OVMF.fd. The value was obtained with an
// independent page-by-page implementation of tee-kvm-reference.md §2.9 and does not depend on
// the memory size (TD_HOB and TempMem contribute only their GPAs).
TEST(TdxMrtdTest, DebianOvmfReferenceValue) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image.has_value()) {
    GTEST_SKIP() << "reference image absent: " << image.error().message();
  }
  if (to_hex(sha256(*image)) !=
      "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773") {
    GTEST_SKIP() << CVMM_OVMF_FD << " is not the Debian 2022.11-6+deb12u2 reference build";
  }
  const Blob firmware = blob_of(std::move(*image));
  for (const uint64_t memory : {uint64_t{0x8000'0000}, uint64_t{0x2'0000'0000}}) {
    auto plan = build_tdx_launch_plan({.firmware = firmware, .memory_size = memory, .vcpus = 1});
    ASSERT_TRUE(plan.has_value()) << plan.error().message();
    EXPECT_EQ(to_hex(measure_mrtd(*plan)),
              "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a2"
              "12967fb231c47");
  }
}

}  // namespace
}  // namespace cvm::firmware::tdx
