// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/mrtd.h"

#include "base/byte_reader.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

namespace cvm::firmware::tdx {
namespace {

/// The plan range for `section`, or nullopt for sections that add none (PermMem, TD_INFO).
Result<std::optional<PlanRange>> plan_range_for(const TdvfSection& section, std::size_t index,
                                                const Blob& firmware, const Blob& td_hob) {
  PlanRange range;
  range.gpa = section.memory_address;
  range.size = section.memory_data_size;
  range.measured = section.mr_extend();
  range.label = fmt::format("{} (section {})", section_type_name(section.type), index);
  switch (section.type) {
    case TdvfSectionType::kBfv:
    case TdvfSectionType::kCfv:
      range.blob = firmware;
      range.offset = section.data_offset;
      range.length = section.raw_data_size;
      range.kind = PageKind::kNormal;
      return std::optional(std::move(range));
    case TdvfSectionType::kTdHob:
      range.blob = td_hob;
      range.length = td_hob->size();
      range.kind = PageKind::kNormal;
      return std::optional(std::move(range));
    case TdvfSectionType::kTempMem:
      range.kind = PageKind::kZero;
      return std::optional(std::move(range));
    case TdvfSectionType::kPermMem:
    case TdvfSectionType::kTdInfo:
      return std::optional<PlanRange>();
    case TdvfSectionType::kPayload:
    case TdvfSectionType::kPayloadParam:
      break;
  }
  return make_error(ErrorCode::kMalformedImage,
                    "TDVF section {} ({}): td-shim payload sections are not supported", index,
                    section_type_name(section.type));
}

void put_record(Hasher& hasher, std::string_view tag, uint64_t gpa) {
  std::array<std::byte, kMrRecordSize> record{};
  std::memcpy(record.data(), tag.data(), tag.size());
  store_le<uint64_t>(std::span(record).subspan<16, 8>(), gpa);
  hasher.update(record);
}

}  // namespace

Result<TdxLaunch> build_tdx_launch(const TdxLaunchInputs& inputs) {
  if (!inputs.firmware) {
    return make_error(ErrorCode::kInvalidArgument, "no TDVF firmware image given");
  }
  if (inputs.vcpus == 0) {
    return make_error(ErrorCode::kInvalidArgument, "a TD needs at least one vCPU");
  }
  TdxLaunch launch;
  CVM_ASSIGN_OR_RETURN(launch.metadata, parse_tdvf_metadata(*inputs.firmware));
  CVM_ASSIGN_OR_RETURN(launch.ram, td_ram_ranges(inputs.memory_size, launch.metadata));
  if (const TdvfSection* hob = launch.metadata.td_hob()) {
    CVM_ASSIGN_OR_RETURN(auto bytes,
                         build_td_hob(hob->memory_address, hob->memory_data_size, launch.ram));
    launch.td_hob = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
    launch.plan.td_hob_gpa = hob->memory_address;
  }
  const auto& sections = launch.metadata.sections;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    CVM_ASSIGN_OR_RETURN(auto range,
                         plan_range_for(sections[i], i, inputs.firmware, launch.td_hob));
    if (range) {
      launch.plan.ranges.push_back(std::move(*range));
    }
  }
  // The TDX module fixes the reset state; every vCPU starts at the reset vector.
  launch.plan.vcpus.assign(inputs.vcpus, VcpuStart{});
  return launch;
}

Result<LaunchPlan> build_tdx_launch_plan(const TdxLaunchInputs& inputs) {
  CVM_ASSIGN_OR_RETURN(TdxLaunch launch, build_tdx_launch(inputs));
  return std::move(launch.plan);
}

std::vector<TdxInitMemRegion> lower_tdx_plan(const LaunchPlan& plan) {
  std::vector<TdxInitMemRegion> regions;
  regions.reserve(plan.ranges.size());
  for (const PlanRange& range : plan.ranges) {
    // Invariant: plans come from build_tdx_launch_plan, which only emits aligned ranges whose
    // contents lie inside their blobs.
    CVM_CHECK(range.gpa % kTdxPageSize == 0 && range.size % kTdxPageSize == 0,
              "TDX plan range is not page aligned");
    CVM_CHECK(range.length <= range.size &&
                  (!range.blob ||
                   range_within<std::size_t>(range.offset, range.length, range.blob->size())),
              "TDX plan range contents out of bounds");
    regions.push_back({.gpa = range.gpa,
                       .nr_pages = range.size / kTdxPageSize,
                       .measure = range.measured,
                       .contents = range.contents()});
  }
  return regions;
}

Sha384Digest measure_mrtd(std::span<const TdxInitMemRegion> regions) {
  Hasher hasher(HashAlgorithm::kSha384);
  std::vector<std::byte> page(kTdxPageSize);
  for (const TdxInitMemRegion& region : regions) {
    const std::span<const std::byte> contents = region.contents;
    for (uint64_t index = 0; index < region.nr_pages; ++index) {
      const uint64_t page_offset = index * kTdxPageSize;
      const uint64_t gpa = region.gpa + page_offset;
      put_record(hasher, "MEM.PAGE.ADD", gpa);
      if (!region.measure) {
        continue;
      }
      std::fill(page.begin(), page.end(), std::byte{0});
      if (page_offset < contents.size()) {
        const auto part =
            contents.subspan(page_offset)
                .first(std::min<std::size_t>(kTdxPageSize, contents.size() - page_offset));
        std::copy(part.begin(), part.end(), page.begin());
      }
      for (std::size_t chunk = 0; chunk < kTdxPageSize; chunk += kMrExtendChunkSize) {
        put_record(hasher, "MR.EXTEND", gpa + chunk);
        hasher.update(std::span(page).subspan(chunk, kMrExtendChunkSize));
      }
    }
  }
  Sha384Digest digest{};
  hasher.finish(digest);
  return digest;
}

Sha384Digest measure_mrtd(const LaunchPlan& plan) { return measure_mrtd(lower_tdx_plan(plan)); }

}  // namespace cvm::firmware::tdx
