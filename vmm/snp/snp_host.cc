// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_host.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/file.h"
#include "base/unique_fd.h"
#include "vmm/kvm/ioctl.h"

namespace cvm::vmm::snp {
namespace {

// One check: the finding line, and whether it rules SNP out.
struct Finding {
  std::string line;
  bool fatal = false;
};

Finding check_vm_type(const kvm::System& system) {
  auto types = system.check_extension(KVM_CAP_VM_TYPES);
  if (!types) {
    return {fmt::format("KVM VM type KVM_X86_SNP_VM ({}): {}", KVM_X86_SNP_VM,
                        types.error().message()),
            true};
  }
  const bool offered = *types > 0 && (*types & (1L << KVM_X86_SNP_VM)) != 0;
  return {fmt::format("KVM VM type KVM_X86_SNP_VM ({}): {} (KVM_CAP_VM_TYPES = {:#x})",
                      KVM_X86_SNP_VM, offered ? "offered" : "not offered", *types),
          !offered};
}

Finding check_module_parameter(const HostFileReader& read_file) {
  auto text = read_file(kSevSnpParameterPath);
  if (!text) {
    return {fmt::format("kvm_amd parameter sev_snp: unreadable ({}); kvm_amd is not loaded or "
                        "predates SNP",
                        text.error().message()),
            true};
  }
  const bool enabled = !text->empty() && ((*text)[0] == 'Y' || (*text)[0] == '1');
  return {fmt::format("kvm_amd parameter sev_snp: {} ({})", enabled ? "enabled" : "disabled",
                      kSevSnpParameterPath),
          !enabled};
}

Finding check_sev_device(kvm::Sys& sys) {
  const int fd = sys.open(kSevDevicePath, O_RDWR);
  if (fd < 0) {
    return {fmt::format("{}: cannot be opened ({}); the ccp driver has no SEV firmware or the "
                        "user lacks access",
                        kSevDevicePath, std::strerror(-fd)),
            true};
  }
  UniqueFd closer(fd);
  return {fmt::format("{}: present", kSevDevicePath), false};
}

Finding check_attributes(const kvm::System& system) {
  auto features = read_sev_attribute(system, KVM_X86_SEV_VMSA_FEATURES);
  if (!features || !*features) {
    return {fmt::format("SEV VMSA features (KVM_X86_SEV_VMSA_FEATURES): {}",
                        features ? "not reported (KVM before 6.10 has no KVM_SEV_INIT2)"
                                 : features.error().message()),
            true};
  }
  return {fmt::format("SEV VMSA features (KVM_X86_SEV_VMSA_FEATURES): {:#x}", **features),
          false};
}

Finding check_policy_bits(const kvm::System& system) {
  auto bits = read_sev_attribute(system, KVM_X86_SNP_POLICY_BITS);
  if (!bits) {
    return {fmt::format("SNP policy bits (KVM_X86_SNP_POLICY_BITS): {}", bits.error().message()),
            true};
  }
  if (!*bits) {
    return {"SNP policy bits (KVM_X86_SNP_POLICY_BITS): not reported (kernel before ≈6.19); "
            "policies are checked against the 6.11 rules",
            false};
  }
  return {fmt::format("SNP policy bits (KVM_X86_SNP_POLICY_BITS): {:#x}", **bits), false};
}

Finding check_capability(const kvm::System& system, long capability, const char* name,
                         long required_bits, const char* meaning) {
  auto value = system.check_extension(capability);
  if (!value) {
    return {fmt::format("{}: {}", name, value.error().message()), true};
  }
  const bool present = (*value & required_bits) == required_bits && *value > 0;
  return {fmt::format("{} = {:#x}: {}{}", name, *value, present ? "" : "no ", meaning), !present};
}

}  // namespace

HostFileReader real_host_file_reader() {
  return [](const std::string& path) { return read_text_file(path, 4096); };
}

Result<std::optional<uint64_t>> read_sev_attribute(const kvm::System& system, uint64_t attribute) {
  uint64_t value = 0;
  kvm_device_attr request{};
  request.group = KVM_X86_GRP_SEV;
  request.attr = attribute;
  request.addr = reinterpret_cast<uint64_t>(&value);
  auto result = CVM_KVM_IOCTL(system.sys(), system.fd(), KVM_GET_DEVICE_ATTR, &request);
  if (!result) {
    const int err = result.error().sys_errno();
    if (err == ENXIO || err == EINVAL) {
      return std::optional<uint64_t>();
    }
    return std::move(result).error().context(
        fmt::format("KVM_X86_GRP_SEV attribute {}", attribute));
  }
  return std::optional<uint64_t>(value);
}

Result<void> check_cert_forwarding(const kvm::System& system) {
  CVM_ASSIGN_OR_RETURN(const auto value, read_sev_attribute(system, KVM_X86_SEV_SNP_REQ_CERTS));
  if (value && *value == 1) {
    return ok();
  }
  return make_error(ErrorCode::kNotSupportedByHost,
                    "this kernel cannot forward SNP certificate requests (needs "
                    "KVM_X86_SEV_SNP_REQ_CERTS, Linux ≈7.0): the attribute {}",
                    value ? fmt::format("reads {}", *value) : std::string("is unknown to KVM"));
}

HostSupport check_snp_host(const kvm::System& system, const HostFileReader& read_file) {
  HostSupport support;
  support.tee = "sev-snp";
  const Finding findings[] = {
      check_vm_type(system),
      check_module_parameter(read_file),
      check_sev_device(system.sys()),
      check_attributes(system),
      check_policy_bits(system),
      check_capability(system, KVM_CAP_GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD", 1,
                       "guest_memfd private memory"),
      check_capability(system, KVM_CAP_MEMORY_ATTRIBUTES, "KVM_CAP_MEMORY_ATTRIBUTES",
                       static_cast<long>(KVM_MEMORY_ATTRIBUTE_PRIVATE),
                       "KVM_MEMORY_ATTRIBUTE_PRIVATE"),
      check_capability(system, KVM_CAP_EXIT_HYPERCALL, "KVM_CAP_EXIT_HYPERCALL",
                       1L << KVM_HC_MAP_GPA_RANGE, "KVM_HC_MAP_GPA_RANGE exits"),
  };
  for (const Finding& finding : findings) {
    support.findings.push_back(finding.line);
    if (finding.fatal && support.reason.empty()) {
      support.reason = finding.line;
    }
  }
  support.available = support.reason.empty();
  return support;
}

HostSupport probe_snp_host(kvm::Sys& sys, const HostFileReader& read_file, const char* kvm_path) {
  auto system = kvm::System::open(sys, kvm_path);
  if (!system) {
    HostSupport support;
    support.tee = "sev-snp";
    support.reason = system.error().message();
    support.findings.push_back(support.reason);
    return support;
  }
  return check_snp_host(*system, read_file);
}

}  // namespace cvm::vmm::snp
