// SPDX-License-Identifier: Apache-2.0
// Each confidential backend launched on the host's real KVM through the production path,
// Machine::create (host check, plan, VM of the backend's type, split irqchip, init_vm, private
// RAM, vCPUs + init_vcpu, launch: KVM_TDX_FINALIZE_VM / KVM_SEV_SNP_LAUNCH_FINISH), with the
// Debian OVMF.fd. No vCPU runs. Skips when /dev/kvm is absent, when the host cannot run the TEE
// (with the host check's reason), or when OVMF.fd lacks that TEE's metadata. On a TDX or SNP
// host this is the test that shows a real TDX module / PSP accepts the CPUID, attributes,
// XFAM, policy, CPUID page and page sequence the backend chooses; the measurement itself is
// covered by tests/unit/{tdx,snp} against cvmm-measure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <ostream>
#include <string>

#include "tests/kvm/test_vm.h"
#include "vmm/backends.h"
#include "vmm/kvm/sys.h"
#include "vmm/machine.h"

namespace cvm::test {
namespace {

constexpr const char* kDebianOvmf = "/usr/share/ovmf/OVMF.fd";

struct TeeCase {
  const char* name;       // as in --platform and host-check
  const char* test_name;  // gtest suffix
  vmm::TeeKind tee;
};

void PrintTo(const TeeCase& tee_case, std::ostream* out) { *out << tee_case.name; }

class TeeLaunchKvmTest : public ::testing::TestWithParam<TeeCase> {};

vmm::VmConfig tee_config(vmm::TeeKind tee) {
  vmm::VmConfig config;
  config.platform.tee = tee;
  if (tee == vmm::TeeKind::kSevSnp) {
    config.platform.host_data.assign(32, 0x5a);
  }
  config.payload.firmware = kDebianOvmf;
  config.cpus.boot_vcpus = 2;
  config.memory.size_bytes = 256ull << 20;
  config.serial.mode = vmm::SerialMode::kOff;
  return config;
}

TEST_P(TeeLaunchKvmTest, LaunchesThroughTheMachine) {
  CVM_REQUIRE_KVM();
  if (::access(kDebianOvmf, R_OK) != 0) {
    GTEST_SKIP() << kDebianOvmf << " is absent (Debian package ovmf)";
  }
  const vmm::VmConfig config = tee_config(GetParam().tee);
  auto backend = vmm::make_backend(config.platform);
  ASSERT_TRUE(backend.has_value()) << backend.error().message();
  auto machine = vmm::Machine::create(config, std::move(*backend), kvm::real_sys());
  if (!machine && machine.error().code() == ErrorCode::kNotSupportedByHost) {
    GTEST_SKIP() << machine.error().message();
  }
  if (!machine && machine.error().code() == ErrorCode::kMalformedImage) {
    GTEST_SKIP() << kDebianOvmf << " cannot launch " << GetParam().name << ": "
                 << machine.error().message();
  }
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
}

INSTANTIATE_TEST_SUITE_P(Backends, TeeLaunchKvmTest,
                         ::testing::Values(TeeCase{"tdx", "Tdx", vmm::TeeKind::kTdx},
                                           TeeCase{"sev-snp", "SevSnp", vmm::TeeKind::kSevSnp}),
                         [](const ::testing::TestParamInfo<TeeCase>& param_info) {
                           return std::string(param_info.param.test_name);
                         });

}  // namespace
}  // namespace cvm::test
