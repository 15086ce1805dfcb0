// SPDX-License-Identifier: Apache-2.0
#include "base/mapping.h"

#include <cerrno>

namespace cvm {

Result<Mapping> Mapping::map(std::size_t size, int prot, int flags, int fd, off_t offset,
                             std::string_view what) {
  if (size == 0) {
    return make_error(ErrorCode::kInvalidArgument, "mmap {}: zero size", what);
  }
  void* addr = ::mmap(nullptr, size, prot, flags, fd, offset);
  if (addr == MAP_FAILED) {
    return errno_error(ErrorCode::kIo, fmt::format("mmap {} ({} bytes)", what, size), errno);
  }
  return Mapping(addr, size);
}

Result<Mapping> Mapping::anonymous(std::size_t size, int extra_flags, std::string_view what) {
  return map(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0, what);
}

void Mapping::unmap() noexcept {
  if (addr_ != nullptr) {
    ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
  }
}

}  // namespace cvm
