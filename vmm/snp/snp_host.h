// SPDX-License-Identifier: Apache-2.0
// What an SEV-SNP launch needs from the host (tee-kvm-reference §0, §1.2, §3.2, §3.6) and the
// host queries that read it: the SNP VM type, kvm_amd's sev_snp parameter, /dev/sev, the
// KVM_X86_GRP_SEV device attributes, guest_memfd, memory attributes and the MapGPA exit.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/result.h"
#include "vmm/kvm/system.h"
#include "vmm/tee_backend.h"

namespace cvm::vmm::snp {

/// Reads a small host text file (sysfs). Injectable so host checks run without the host.
using HostFileReader = std::function<Result<std::string>(const std::string& path)>;

/// base/file.h read_text_file.
HostFileReader real_host_file_reader();

inline constexpr const char* kSevDevicePath = "/dev/sev";
inline constexpr const char* kSevSnpParameterPath = "/sys/module/kvm_amd/parameters/sev_snp";

/// KVM_GET_DEVICE_ATTR(/dev/kvm, KVM_X86_GRP_SEV, attr): the value, or nullopt when this
/// KVM does not know the attribute (ENXIO, EINVAL: kernels before 6.10, or before ≈6.19 for
/// KVM_X86_SNP_POLICY_BITS). Errors: kKvm for other failures, naming the attribute.
[[nodiscard]] Result<std::optional<uint64_t>> read_sev_attribute(const kvm::System& system,
                                                                 uint64_t attribute);

/// Whether KVM can forward certificate requests (KVM_X86_SEV_SNP_REQ_CERTS reads 1; ≈7.0,
/// amd-memory-encryption.rst "Device attribute API"). Needed only with --platform snp_certs.
/// Errors: kNotSupportedByHost "this kernel cannot forward SNP certificate requests (needs
/// KVM_X86_SEV_SNP_REQ_CERTS, Linux ≈7.0)", with what the attribute said; kKvm otherwise.
[[nodiscard]] Result<void> check_cert_forwarding(const kvm::System& system);

/// The checks, in order, each one a finding line; `reason` is the first failing one.
HostSupport check_snp_host(const kvm::System& system, const HostFileReader& read_file);

/// Opens `kvm_path` through `sys` and runs check_snp_host; when /dev/kvm cannot be opened the
/// result is unavailable with the open error as reason (e.g. "/dev/kvm is absent: ...").
HostSupport probe_snp_host(kvm::Sys& sys, const HostFileReader& read_file,
                           const char* kvm_path = "/dev/kvm");

}  // namespace cvm::vmm::snp
