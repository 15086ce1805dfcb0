// SPDX-License-Identifier: Apache-2.0
// kvm::Sys: the one narrow seam between cvmm and the kernel calls that reach KVM (ioctl,
// open, mmap, munmap), after architecture-anchors §B.5. Production code uses real_sys();
// unit tests substitute RecordingSys (vmm/kvm/recording_sys.h) to check exact ioctl sequences
// without /dev/kvm. No policy lives here: each method is one system call.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace cvm::kvm {

class Sys {
 public:
  virtual ~Sys() = default;

  /// ioctl(fd, request, arg). `arg` is a pointer value or an immediate, as the request
  /// defines. Returns the ioctl's non-negative result, or -errno on failure.
  virtual long ioctl(int fd, unsigned long request, std::uintptr_t arg) = 0;

  /// open(path, flags | O_CLOEXEC). Returns the new fd, or -errno.
  virtual int open(const char* path, int flags) = 0;

  /// mmap(nullptr, length, prot, flags, fd, offset). Returns the address, or nullptr with
  /// *error set to errno.
  virtual void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset,
                     int* error) = 0;

  /// munmap(addr, length) of a range returned by mmap(). Never fails for valid input.
  virtual void munmap(void* addr, std::size_t length) noexcept = 0;

  /// fallocate(fd, mode, offset, length), e.g. PUNCH_HOLE on a guest_memfd after a
  /// conversion to shared. Returns 0, or -errno. The default makes the real system call.
  virtual int fallocate(int fd, int mode, off_t offset, off_t length);

  /// madvise(addr, length, advice), e.g. MADV_DONTNEED on the shared side of guest RAM after
  /// a conversion to private. Returns 0, or -errno. The default makes the real system call.
  virtual int madvise(void* addr, std::size_t length, int advice);
};

/// The process-wide real implementation (thread-safe: it has no state).
Sys& real_sys() noexcept;

}  // namespace cvm::kvm
