// SPDX-License-Identifier: Apache-2.0
// Typed KVM ioctl helpers (architecture-anchors §B.5). Each one checks at compile time that the
// argument type matches the size the request number encodes, and names the ioctl in every
// error: "KVM_SET_USER_MEMORY_REGION2: Invalid argument". Use through the CVM_KVM_* macros,
// which stringize the request name. Included only by vmm/kvm and vmm/<tee> executors.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "vmm/kvm/sys.h"
#include "vmm/kvm/uapi.h"

namespace cvm::kvm {

/// Converts a Sys::ioctl return value into a Result; `name` is the ioctl's macro name.
inline Result<long> ioctl_result(long ret, std::string_view name) {
  if (ret < 0) {
    return errno_error(ErrorCode::kKvm, name, static_cast<int>(-ret));
  }
  return ret;
}

/// An ioctl whose argument is a pointer to T; the request must encode sizeof(T).
template <unsigned long Request, typename T>
[[nodiscard]] Result<long> ioctl_ptr(Sys& sys, int fd, T* arg, std::string_view name) {
  static_assert(_IOC_SIZE(Request) == sizeof(T), "ioctl argument type does not match request");
  static_assert(Request != KVM_MEMORY_ENCRYPT_OP, "use ioctl_encrypt_op");
  return ioctl_result(sys.ioctl(fd, Request, reinterpret_cast<std::uintptr_t>(arg)), name);
}

/// An ioctl that takes an immediate value (or nothing); the request must encode no size.
template <unsigned long Request>
[[nodiscard]] Result<long> ioctl_value(Sys& sys, int fd, unsigned long value,
                                       std::string_view name) {
  static_assert(_IOC_SIZE(Request) == 0, "request takes a pointer: use ioctl_ptr");
  return ioctl_result(sys.ioctl(fd, Request, value), name);
}

/// KVM_MEMORY_ENCRYPT_OP encodes `unsigned long` but takes a pointer to the vendor command
/// (kvm_sev_cmd or kvm_tdx_cmd, 24 bytes each); callers add the firmware status to errors.
template <typename Command>
[[nodiscard]] Result<long> ioctl_encrypt_op(Sys& sys, int fd, Command* command,
                                            std::string_view name) {
  static_assert(sizeof(Command) == 24, "KVM_MEMORY_ENCRYPT_OP takes a 24-byte vendor command");
  return ioctl_result(
      sys.ioctl(fd, KVM_MEMORY_ENCRYPT_OP, reinterpret_cast<std::uintptr_t>(command)), name);
}

/// The macro name of a KVM request number ("KVM_RUN"), or "ioctl 0x..." for unknown ones.
/// Used by the recorder and diagnostics.
std::string ioctl_name(unsigned long request);

}  // namespace cvm::kvm

/// CVM_KVM_IOCTL(sys, fd, KVM_SET_USER_MEMORY_REGION2, &region) -> Result<long>.
#define CVM_KVM_IOCTL(sys, fd, request, arg) \
  ::cvm::kvm::ioctl_ptr<(request)>((sys), (fd), (arg), #request)
/// CVM_KVM_IOCTL_VALUE(sys, fd, KVM_CREATE_VCPU, id) -> Result<long>.
#define CVM_KVM_IOCTL_VALUE(sys, fd, request, value) \
  ::cvm::kvm::ioctl_value<(request)>((sys), (fd), (value), #request)
