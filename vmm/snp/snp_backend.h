// SPDX-License-Identifier: Apache-2.0
// The SEV-SNP TeeBackend (issue 5; Linux 6.11+ KVM ABI, tee-kvm-reference §3). The machine
// drives it in the order vmm/tee_backend.h lists:
//   check_host        VM type 4, kvm_amd sev_snp, /dev/sev, KVM_X86_GRP_SEV attributes,
//                     guest_memfd, memory attributes, the MapGPA exit (snp_host.h)
//   build_launch_plan firmware/snp build_snp_launch_plan with VmmType::kCvmm, exactly as
//                     cvmm-measure snp --vmm-type cvmm builds it
//   init_vm           opens /dev/sev; KVM_SEV_INIT2; KVM_SEV_SNP_LAUNCH_START (policy checked
//                     against KVM_X86_SNP_POLICY_BITS); with snp_certs: the certificate
//                     table (snp_certs.h) and KVM_SEV_SNP_ENABLE_REQ_CERTS, before any vCPU;
//                     enables the MapGPA hypercall exit
//   init_vcpu         the x86 reset state whose KVM-built VMSA equals the plan's VMSA
//                     (snp_vcpu_state.h argues the equivalence, and checks it per vCPU)
//   launch            PRIVATE attributes, then LAUNCH_UPDATE per lowered update (snp_launch.h),
//                     then LAUNCH_FINISH (ID block, ID auth, HOST_DATA)
//   exit_interceptor  conversions, SEV termination requests and certificate requests
//                     (snp_exits.h)
// The machine must have created guest memory with guest_memfd backing covering every plan
// range (including the firmware at 4 GiB - size) and set the vCPUs' CPUID (KVM_SET_CPUID2)
// before launch(): the CPUID page is built from vCPU 0's table.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "vmm/config/vm_config.h"
#include "vmm/snp/snp_host.h"
#include "vmm/snp/snp_launch.h"
#include "vmm/tee_backend.h"

namespace cvm::vmm::snp {

/// The vCPU model used when PlatformConfig::snp_vcpu_model is empty.
inline constexpr std::string_view kDefaultSnpVcpuModel = "EPYC-v4";
/// GHCB protocol version passed to KVM_SEV_INIT2 (SNP needs version 2, KVM's maximum).
inline constexpr uint16_t kSnpGhcbVersion = 2;

/// Host access the backend needs beyond kvm::Sys, replaceable by tests.
struct SnpBackendHooks {
  HostFileReader read_host_file = real_host_file_reader();
  /// Receives the backend's log lines (default: "cvmm: <line>" on stderr).
  SnpLog log;
};

/// The SEV-SNP backend for `platform` (policy, HOST_DATA, vCPU model, VMSA features, ID block).
/// Configuration errors surface from the first step that needs the value.
std::unique_ptr<TeeBackend> make_snp_backend(const PlatformConfig& platform);
std::unique_ptr<TeeBackend> make_snp_backend(const PlatformConfig& platform, SnpBackendHooks hooks);

}  // namespace cvm::vmm::snp
