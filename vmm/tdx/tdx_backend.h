// SPDX-License-Identifier: Apache-2.0
// The Intel TDX backend (upstream Linux 6.16+ KVM ABI, tee-kvm-reference §2). The machine
// obtains it through make_tdx_backend() and drives it through the TeeBackend steps:
//   check_host    VM type 5 offered, kvm_intel.tdx=Y, KVM_TDX_CAPABILITIES on a probe TD,
//                 guest_memfd, private memory attributes, split irqchip
//   plan          firmware::tdx::build_tdx_launch_plan: the builder cvmm-measure folds
//   init_vm       MapGPA exits, KVM_TDX_CAPABILITIES, APIC bus 25 MHz, KVM_TDX_INIT_VM
//                 (attributes SEPT_VE_DISABLE, XFAM and CPUID limited to what the module
//                 allows, MRCONFIGID/MROWNER/MROWNERCONFIG from the platform configuration)
//   init_vcpu     KVM_TDX_INIT_VCPU(TD HOB GPA), then KVM_SET_CPUID2 with KVM_TDX_GET_CPUID
//   launch        private slots for firmware ranges outside RAM, then one
//                 KVM_TDX_INIT_MEM_REGION per lowered plan range (MEASURE iff measured),
//                 then KVM_TDX_FINALIZE_VM
// RAM is never pre-accepted: the TD HOB marks it unaccepted and the TD accepts it lazily; KVM
// augments pages on the TD's first private access.
// Never includes vmm/snp or vmm/s390-se.
#pragma once

#include <memory>
#include <string>

#include "vmm/config/vm_config.h"
#include "vmm/tee_backend.h"

namespace cvm::vmm::tdx {

struct TdxBackendOptions {
  /// kvm_intel's TDX switch, read by check_host.
  std::string tdx_module_parameter = "/sys/module/kvm_intel/parameters/tdx";
  /// Unix socket of the quote generation service (QGS); empty: GetQuote reports the service
  /// unavailable to the guest.
  std::string quote_service_socket;
};

/// The TDX backend for `platform` (its MRCONFIGID/MROWNER/MROWNERCONFIG are used by init_vm,
/// quote_socket by GetQuote).
std::unique_ptr<TeeBackend> make_tdx_backend(const PlatformConfig& platform);
/// As above with explicit options (tests point the sysfs path and the socket elsewhere).
std::unique_ptr<TeeBackend> make_tdx_backend(const PlatformConfig& platform,
                                             TdxBackendOptions options);

}  // namespace cvm::vmm::tdx
