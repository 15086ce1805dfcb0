// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/cpu_features.h"

#include <algorithm>
#include <array>
#include <utility>

namespace cvm::vmm::x86 {
namespace {

constexpr std::array<std::pair<CpuFeature, std::string_view>, 14> kNames = {{
    {CpuFeature::kCx16, "cx16"},
    {CpuFeature::kPopcnt, "popcnt"},
    {CpuFeature::kXsave, "xsave"},
    {CpuFeature::kFsgsbase, "fsgsbase"},
    {CpuFeature::kRdtscp, "rdtscp"},
    {CpuFeature::kSmep, "smep"},
    {CpuFeature::kSmap, "smap"},
    {CpuFeature::kPcid, "pcid"},
    {CpuFeature::kInvpcid, "invpcid"},
    {CpuFeature::kRdrand, "rdrand"},
    {CpuFeature::kRdseed, "rdseed"},
    {CpuFeature::kRdpid, "rdpid"},
    {CpuFeature::kUmip, "umip"},
    {CpuFeature::kPdpe1gb, "pdpe1gb"},
}};

std::string known_names() {
  std::string out;
  for (const auto& [feature, name] : kNames) {
    out += out.empty() ? "" : ", ";
    out += name;
  }
  return out;
}

}  // namespace

std::string_view cpu_feature_name(CpuFeature feature) noexcept {
  for (const auto& [f, name] : kNames) {
    if (f == feature) {
      return name;
    }
  }
  return "unknown";
}

Result<std::vector<CpuFeature>> parse_cpu_features(std::string_view list) {
  std::vector<CpuFeature> out;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    const auto* it = std::find_if(kNames.begin(), kNames.end(),
                                  [&](const auto& entry) { return entry.second == name; });
    if (it == kNames.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown cpu feature \"{}\" (known: {})", name, known_names());
    }
    if (std::find(out.begin(), out.end(), it->first) == out.end()) {
      out.push_back(it->first);
    }
  }
  return out;
}

std::string clearcpuid_argument(std::span<const CpuFeature> features) {
  if (features.empty()) {
    return {};
  }
  std::string out = "clearcpuid=";
  for (std::size_t i = 0; i < features.size(); ++i) {
    out += i == 0 ? "" : ",";
    out += cpu_feature_name(features[i]);
  }
  return out;
}

}  // namespace cvm::vmm::x86
