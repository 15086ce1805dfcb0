// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/sys.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace cvm::kvm {
namespace {

class RealSys final : public Sys {
 public:
  long ioctl(int fd, unsigned long request, std::uintptr_t arg) override {
    const int result = ::ioctl(fd, request, arg);
    return result < 0 ? -static_cast<long>(errno) : result;
  }

  int open(const char* path, int flags) override {
    const int fd = ::open(path, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }

  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset,
             int* error) override {
    void* addr = ::mmap(nullptr, length, prot, flags, fd, offset);
    if (addr == MAP_FAILED) {
      *error = errno;
      return nullptr;
    }
    return addr;
  }

  void munmap(void* addr, std::size_t length) noexcept override { ::munmap(addr, length); }
};

}  // namespace

int Sys::fallocate(int fd, int mode, off_t offset, off_t length) {
  return ::fallocate(fd, mode, offset, length) < 0 ? -errno : 0;
}

int Sys::madvise(void* addr, std::size_t length, int advice) {
  return ::madvise(addr, length, advice) < 0 ? -errno : 0;
}

Sys& real_sys() noexcept {
  static RealSys sys;
  return sys;
}

}  // namespace cvm::kvm
