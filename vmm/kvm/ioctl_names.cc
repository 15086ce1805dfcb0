// SPDX-License-Identifier: Apache-2.0
// Request number -> macro name, for the recorder and for diagnostics.
#include <array>
#include <string>
#include <utility>

#include "vmm/kvm/ioctl.h"

namespace cvm::kvm {
namespace {

#define CVM_NAME(request) std::pair<unsigned long, const char*>{(request), #request}
constexpr std::array kNames = {
    CVM_NAME(KVM_GET_API_VERSION),     CVM_NAME(KVM_CREATE_VM),
    CVM_NAME(KVM_CHECK_EXTENSION),     CVM_NAME(KVM_GET_VCPU_MMAP_SIZE),
    CVM_NAME(KVM_GET_SUPPORTED_CPUID), CVM_NAME(KVM_GET_MSR_INDEX_LIST),
    CVM_NAME(KVM_CREATE_VCPU),         CVM_NAME(KVM_SET_USER_MEMORY_REGION),
    CVM_NAME(KVM_SET_USER_MEMORY_REGION2), CVM_NAME(KVM_CREATE_GUEST_MEMFD),
    CVM_NAME(KVM_SET_MEMORY_ATTRIBUTES), CVM_NAME(KVM_PRE_FAULT_MEMORY),
    CVM_NAME(KVM_SET_TSS_ADDR),        CVM_NAME(KVM_SET_IDENTITY_MAP_ADDR),
    CVM_NAME(KVM_ENABLE_CAP),          CVM_NAME(KVM_SET_GSI_ROUTING),
    CVM_NAME(KVM_SIGNAL_MSI),          CVM_NAME(KVM_IRQFD),
    CVM_NAME(KVM_IOEVENTFD),           CVM_NAME(KVM_SET_TSC_KHZ),
    CVM_NAME(KVM_GET_TSC_KHZ),
    CVM_NAME(KVM_MEMORY_ENCRYPT_OP),   CVM_NAME(KVM_GET_DEVICE_ATTR),
    CVM_NAME(KVM_HAS_DEVICE_ATTR),     CVM_NAME(KVM_RUN),
    CVM_NAME(KVM_GET_REGS),            CVM_NAME(KVM_SET_REGS),
    CVM_NAME(KVM_GET_SREGS),           CVM_NAME(KVM_SET_SREGS),
    CVM_NAME(KVM_GET_FPU),             CVM_NAME(KVM_SET_FPU),
    CVM_NAME(KVM_GET_MSRS),            CVM_NAME(KVM_SET_MSRS),
    CVM_NAME(KVM_SET_CPUID2),          CVM_NAME(KVM_GET_CPUID2),
    CVM_NAME(KVM_GET_LAPIC),           CVM_NAME(KVM_SET_LAPIC),
    CVM_NAME(KVM_GET_MP_STATE),        CVM_NAME(KVM_SET_MP_STATE),
};
#undef CVM_NAME

}  // namespace

std::string ioctl_name(unsigned long request) {
  for (const auto& [number, name] : kNames) {
    if (number == request) {
      return name;
    }
  }
  return fmt::format("ioctl {:#x}", request);
}

}  // namespace cvm::kvm
