// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/host_mapping.h"

namespace cvm::kvm {

Result<HostMapping> HostMapping::map(Sys& sys, std::size_t size, int prot, int flags, int fd,
                                     off_t offset, std::string_view what) {
  if (size == 0) {
    return make_error(ErrorCode::kInvalidArgument, "mmap {}: zero size", what);
  }
  int error = 0;
  void* addr = sys.mmap(size, prot, flags, fd, offset, &error);
  if (addr == nullptr) {
    return errno_error(ErrorCode::kIo, fmt::format("mmap {} ({} bytes)", what, size), error);
  }
  return HostMapping(&sys, addr, size);
}

void HostMapping::reset() noexcept {
  if (addr_ != nullptr) {
    sys_->munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
  }
}

}  // namespace cvm::kvm
