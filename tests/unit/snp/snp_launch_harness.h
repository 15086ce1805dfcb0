// SPDX-License-Identifier: Apache-2.0
// Drives the SEV-SNP backend through SnpKvmModel in the order vmm/tee_backend.h lists:
// check_host, build_launch_plan, KVM_CREATE_VM + split irqchip, init_vm, guest memory, per vCPU
// KVM_CREATE_VCPU + KVM_SET_CPUID2 + init_vcpu, launch.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "firmware/launch_plan.h"
#include "tests/unit/snp/snp_kvm_model.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/snp/snp_backend.h"
#include "vmm/x86/cpuid.h"

namespace cvm::vmm::snp::testing {

struct LaunchConfig {
  firmware::Blob firmware;
  firmware::Blob kernel;
  firmware::Blob initrd;
  std::string cmdline;
  uint32_t vcpus = 1;
  PlatformConfig platform = default_platform();

  static PlatformConfig default_platform() {
    PlatformConfig p;
    p.tee = TeeKind::kSevSnp;
    return p;
  }
};

/// A plausible AMD CPUID table for vCPU 0 (what KVM_GET_CPUID2 returns).
std::vector<x86::CpuidEntry> sample_vcpu_cpuid();

/// Reads firmware/kernel test files into a Blob (nullptr if absent).
firmware::Blob load_blob(const std::string& path);
firmware::Blob make_blob(std::vector<std::byte> bytes);

class LaunchHarness {
 public:
  explicit LaunchHarness(SnpHostModel host_model = {}) : model(host_model) {}

  /// Runs every step; stops at the first error (returned, with the step named).
  Result<void> run(const LaunchConfig& config);

  SnpKvmModel model;
  std::vector<std::string> log;
  std::unique_ptr<TeeBackend> backend;
  std::optional<HostSupport> host;
  std::optional<firmware::LaunchPlan> plan;
  std::optional<kvm::System> system;
  std::optional<kvm::Vm> vm;
  std::unique_ptr<GuestMemory> memory;
  std::vector<kvm::Vcpu> vcpus;

 private:
  Result<void> create_memory(uint64_t firmware_size);
  Result<void> create_vcpus(uint32_t count);
};

/// The host file reader for a host whose kvm_amd has sev_snp=Y.
HostFileReader snp_enabled_files();

}  // namespace cvm::vmm::snp::testing
