// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/snp_launch_plan.h"

#include <fmt/format.h>

#include <memory>
#include <utility>
#include <vector>

#include "firmware/ovmf/sev_metadata.h"
#include "firmware/snp/launch_digest.h"

namespace cvm::firmware::snp {
namespace {

using ovmf::SevFirmwareInfo;
using ovmf::SevMetadataSection;
using ovmf::SevSectionType;

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kFourGiB = uint64_t{1} << 32;

Blob make_blob(std::vector<std::byte> bytes) {
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

PlanRange blob_range(uint64_t gpa, uint64_t size, Blob blob, PageKind kind, std::string label) {
  PlanRange range;
  range.gpa = gpa;
  range.size = size;
  range.length = blob ? blob->size() : 0;
  range.blob = std::move(blob);
  range.kind = kind;
  range.measured = kind == PageKind::kNormal || kind == PageKind::kVmsa;
  range.label = std::move(label);
  return range;
}

Result<PlanRange> firmware_range(const Blob& firmware) {
  if (!firmware) {
    return make_error(ErrorCode::kInvalidArgument, "no firmware image given");
  }
  const uint64_t size = firmware->size();
  if (size == 0 || size % kPageSize != 0 || size > kFourGiB) {
    return make_error(ErrorCode::kMalformedImage,
                      "firmware size {:#x} is not a non-zero multiple of 4 KiB up to 4 GiB",
                      size);
  }
  return blob_range(kFourGiB - size, size, firmware, PageKind::kNormal, "OVMF");
}

// The hashes area, checked the way QEMU's sev_add_kernel_loader_hashes does.
Result<ovmf::SevHashesArea> usable_hashes_area(const SevFirmwareInfo& info) {
  if (!info.hashes_area) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a kernel was given but the firmware has no SEV hashes table GUID "
                      "(7255371f-...): it does not support measured direct boot");
  }
  const ovmf::SevHashesArea area = *info.hashes_area;
  if (area.base == 0 || area.size < kPaddedKernelHashesTableSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a kernel was given but the firmware's SEV hashes area is unusable "
                      "(base {:#x} size {:#x}): it does not support measured direct boot",
                      area.base, area.size);
  }
  return area;
}

// The SNP_KERNEL_HASHES section's range: a NORMAL page with the table when a kernel is
// measured, else ZERO pages (QEMU snp_populate_metadata_pages; sev-snp-measure guest.py).
Result<PlanRange> kernel_hashes_range(const SevMetadataSection& section, std::size_t index,
                                      const SevFirmwareInfo& info,
                                      const std::optional<KernelHashes>& hashes) {
  const std::string label = fmt::format("ASEV #{} SNP_KERNEL_HASHES", index);
  if (!hashes) {
    return blob_range(section.gpa, section.size, nullptr, PageKind::kZero, label);
  }
  CVM_ASSIGN_OR_RETURN(const ovmf::SevHashesArea area, usable_hashes_area(info));
  if (section.size != kPageSize || (area.base & ~(kPageSize - 1)) != section.gpa) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: section {} (SNP_KERNEL_HASHES) [{:#x}, +{:#x}) is not the "
                      "4 KiB page holding the SEV hashes area at {:#x}",
                      index, section.gpa, section.size, area.base);
  }
  CVM_ASSIGN_OR_RETURN(auto page, build_kernel_hashes_page(build_kernel_hashes_table(*hashes),
                                                           area.base & (kPageSize - 1)));
  return blob_range(section.gpa, kPageSize, make_blob(std::move(page)), PageKind::kNormal, label);
}

Result<void> check_outside_firmware(const SevMetadataSection& section, std::size_t index,
                                    const PlanRange& firmware) {
  const uint64_t end = uint64_t{section.gpa} + section.size;
  if (section.gpa < firmware.gpa + firmware.size && firmware.gpa < end) {
    return make_error(ErrorCode::kMalformedImage,
                      "SEV metadata: section {} [{:#x}, {:#x}) overlaps the firmware image at "
                      "[{:#x}, {:#x})",
                      index, section.gpa, end, firmware.gpa, firmware.gpa + firmware.size);
  }
  return ok();
}

PageKind section_page_kind(SevSectionType type, VmmType vmm) {
  switch (type) {
    case SevSectionType::kSnpSecMem:
      // GCE leaves SEC memory unmeasured; QEMU (and cvmm) add zero pages.
      return vmm == VmmType::kGce ? PageKind::kUnmeasured : PageKind::kZero;
    case SevSectionType::kSnpSecrets:
      return PageKind::kSecrets;
    case SevSectionType::kCpuid:
      return PageKind::kCpuid;
    case SevSectionType::kSvsmCaa:
    case SevSectionType::kSnpKernelHashes:
      return PageKind::kZero;
  }
  CVM_UNREACHABLE("unknown SEV section type");
}

Result<void> add_snp_sections(LaunchPlan& plan, const SevFirmwareInfo& info,
                              const SnpLaunchInputs& inputs) {
  if (!info.has_metadata) {
    return make_error(ErrorCode::kMalformedImage,
                      "firmware has no SEV metadata (no \"ASEV\" table via footer GUID "
                      "dc886566-...): it does not support SEV-SNP");
  }
  bool has_kernel_hashes_section = false;
  std::vector<PlanRange> deferred_cpuid;  // EC2 adds CPUID pages after all other sections
  for (std::size_t i = 0; i < info.sections.size(); ++i) {
    const SevMetadataSection& section = info.sections[i];
    CVM_TRY(check_outside_firmware(section, i, plan.ranges.front()));
    if (section.type == SevSectionType::kSnpKernelHashes) {
      has_kernel_hashes_section = true;
      CVM_ASSIGN_OR_RETURN(auto range, kernel_hashes_range(section, i, info, inputs.kernel_hashes));
      plan.ranges.push_back(std::move(range));
      continue;
    }
    PlanRange range = blob_range(
        section.gpa, section.size, nullptr, section_page_kind(section.type, inputs.vmm),
        fmt::format("ASEV #{} {}", i, ovmf::sev_section_type_name(section.type)));
    if (section.type == SevSectionType::kCpuid && inputs.vmm == VmmType::kEc2) {
      deferred_cpuid.push_back(std::move(range));
      continue;
    }
    plan.ranges.push_back(std::move(range));
  }
  for (PlanRange& range : deferred_cpuid) {
    plan.ranges.push_back(std::move(range));
  }
  if (inputs.kernel_hashes && !has_kernel_hashes_section) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a kernel was given but the firmware's SEV metadata has no "
                      "SNP_KERNEL_HASHES section: it does not support measured direct boot");
  }
  return ok();
}

// SEV / SEV-ES: the padded table goes to the hashes-area base via LAUNCH_UPDATE_DATA.
Result<void> add_sev_kernel_hashes(LaunchPlan& plan, const SevFirmwareInfo& info,
                                   const KernelHashes& hashes) {
  CVM_ASSIGN_OR_RETURN(const ovmf::SevHashesArea area, usable_hashes_area(info));
  const KernelHashesTable table = build_kernel_hashes_table(hashes);
  plan.ranges.push_back(blob_range(area.base, table.size(),
                                   make_blob(std::vector<std::byte>(table.begin(), table.end())),
                                   PageKind::kNormal, "kernel hashes table"));
  return ok();
}

Result<uint32_t> ap_reset_address(const SevFirmwareInfo& info) {
  // QEMU refuses SEV-ES/SNP when the address is missing or 0 (sev_es_save_reset_vector).
  if (!info.ap_reset_address) {
    return make_error(ErrorCode::kMalformedImage,
                      "firmware has no SEV-ES AP reset block (GUID 00f771de-...)");
  }
  if (*info.ap_reset_address == 0) {
    return make_error(ErrorCode::kMalformedImage, "firmware's SEV-ES AP reset address is 0");
  }
  return *info.ap_reset_address;
}

Result<void> add_vmsas(LaunchPlan& plan, const SevFirmwareInfo& info,
                       const SnpLaunchInputs& inputs) {
  CVM_ASSIGN_OR_RETURN(const uint32_t ap_address, ap_reset_address(info));
  const uint64_t features = inputs.guest_features.value_or(default_guest_features(inputs.mode));
  if (inputs.mode == SevMode::kSnp && (features & kSevFeatureSnpActive) == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "guest features {:#x} lack SNPActive (bit 0), which every SNP VMSA has",
                      features);
  }
  VcpuResetParams params{inputs.vmm, kBspResetAddress, inputs.cpu_signature, features};
  const Blob bsp = make_blob(encode_vmsa(vcpu_reset_state(params)));
  params.reset_address = ap_address;
  // One AP page shared by every AP range: the plan never duplicates bytes.
  const Blob ap = inputs.vcpus > 1 ? make_blob(encode_vmsa(vcpu_reset_state(params))) : nullptr;
  for (uint32_t i = 0; i < inputs.vcpus; ++i) {
    plan.ranges.push_back(blob_range(kVmsaGpa, kVmsaSize, i == 0 ? bsp : ap, PageKind::kVmsa,
                                     fmt::format("VMSA vCPU {}", i)));
    const uint32_t address = i == 0 ? kBspResetAddress : ap_address;
    plan.vcpus.push_back(VcpuStart{address & 0xffff0000u, 0xf000, address & 0xffffu});
  }
  return ok();
}

}  // namespace

std::optional<SevMode> parse_sev_mode(std::string_view text) noexcept {
  if (text == "sev") {
    return SevMode::kSev;
  }
  if (text == "seves" || text == "sev-es") {
    return SevMode::kSevEs;
  }
  if (text == "snp" || text == "sev-snp") {
    return SevMode::kSnp;
  }
  return std::nullopt;
}

std::string_view sev_mode_name(SevMode mode) noexcept {
  switch (mode) {
    case SevMode::kSev:
      return "sev";
    case SevMode::kSevEs:
      return "seves";
    case SevMode::kSnp:
      return "snp";
  }
  return "unknown";
}

uint64_t default_guest_features(SevMode mode) noexcept {
  return mode == SevMode::kSnp ? kSevFeatureSnpActive : 0;
}

Result<LaunchPlan> build_snp_launch_plan(const SnpLaunchInputs& inputs) {
  LaunchPlan plan;
  CVM_ASSIGN_OR_RETURN(PlanRange firmware, firmware_range(inputs.firmware));
  CVM_ASSIGN_OR_RETURN(const SevFirmwareInfo info, ovmf::parse_sev_firmware(*inputs.firmware));
  plan.ranges.push_back(std::move(firmware));
  plan.firmware_ranges = 1;
  if (inputs.mode != SevMode::kSev && (inputs.vcpus == 0 || inputs.vcpus > kMaxSnpVcpus)) {
    return make_error(ErrorCode::kInvalidArgument, "vCPU count {} is not in [1, {}]",
                      inputs.vcpus, kMaxSnpVcpus);
  }
  if (inputs.mode == SevMode::kSnp) {
    CVM_TRY(add_snp_sections(plan, info, inputs));
  } else if (inputs.kernel_hashes) {
    CVM_TRY(add_sev_kernel_hashes(plan, info, *inputs.kernel_hashes));
  }
  if (inputs.mode == SevMode::kSev) {
    // Plain SEV has no VMSA: every vCPU takes the architectural reset path.
    plan.vcpus.assign(std::max<uint32_t>(inputs.vcpus, 1), VcpuStart{});
    return plan;
  }
  CVM_TRY(add_vmsas(plan, info, inputs));
  return plan;
}

}  // namespace cvm::firmware::snp
