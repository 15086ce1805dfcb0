// SPDX-License-Identifier: Apache-2.0
// RecordingSys: a kvm::Sys for unit tests. It records every call (which fd role, which ioctl,
// a copy of the argument bytes) and returns scripted results, so VM/memory/vCPU setup can be
// checked ioctl by ioctl without /dev/kvm.
//
// Fds it hands out (for open() and the KVM_CREATE_* ioctls) are real eventfds, so UniqueFd
// can close them; mmap() returns real anonymous memory whatever fd is passed.
// Thread-safe (vCPU threads may share one); handlers run without the internal lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "vmm/kvm/sys.h"

namespace cvm::kvm {

struct RecordedCall {
  std::string fd_role;                // "kvm", "vm", "vcpu0", "gmem0", or "fd N"
  std::string name;                   // "KVM_CREATE_VM", "open", "mmap"
  unsigned long request = 0;          // ioctl number (0 for open/mmap)
  std::uintptr_t arg = 0;             // immediate argument, or length for mmap
  std::vector<std::byte> arg_bytes;   // copy of *arg for pointer ioctls (flex arrays included)

  /// The argument bytes as T (zero-filled if fewer bytes were recorded).
  template <typename T>
  T arg_as() const {
    T value{};
    std::memcpy(&value, arg_bytes.data(), std::min(sizeof(T), arg_bytes.size()));
    return value;
  }
};

class RecordingSys final : public Sys {
 public:
  using Handler = std::function<long(int fd, std::uintptr_t arg)>;

  RecordingSys() = default;
  RecordingSys(const RecordingSys&) = delete;
  RecordingSys& operator=(const RecordingSys&) = delete;
  ~RecordingSys() override = default;

  long ioctl(int fd, unsigned long request, std::uintptr_t arg) override;
  int open(const char* path, int flags) override;
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset,
             int* error) override;
  void munmap(void* addr, std::size_t length) noexcept override;
  /// Recorded as "fallocate" on the fd's role; arg_bytes = {mode, offset, length} as u64s.
  /// Does nothing to the fd (guest_memfds here are eventfds) and returns 0, or the error set
  /// with fail_fallocate().
  int fallocate(int fd, int mode, off_t offset, off_t length) override;
  /// Recorded as "madvise"; arg = address, arg_bytes = {address, length, advice} as u64s.
  /// Really applied (mmap() hands out real anonymous memory, so MADV_DONTNEED zeroes it).
  int madvise(void* addr, std::size_t length, int advice) override;
  /// fallocate() fails with -err.
  void fail_fallocate(int err) { fallocate_error_ = err; }

  /// KVM_CHECK_EXTENSION(capability) answers `value` (unlisted capabilities answer 0).
  void set_extension(long capability, long value) {
    std::lock_guard lock(mutex_);
    extensions_[capability] = value;
  }
  /// The next call of `request` fails with -err (queued; one failure per call).
  void fail_next(unsigned long request, int err) {
    std::lock_guard lock(mutex_);
    failures_[request].push_back(err);
  }
  /// Every call of `request` runs `handler` (after recording) and returns its result.
  void on(unsigned long request, Handler handler) {
    std::lock_guard lock(mutex_);
    handlers_[request] = std::move(handler);
  }
  /// open() fails with -err.
  void fail_open(int err) { open_error_ = err; }
  /// mmap() fails with `err`.
  void fail_mmap(int err) { mmap_error_ = err; }

  /// A copy of the calls recorded so far.
  std::vector<RecordedCall> calls() const;
  /// Names of the recorded calls, in order ("open", "KVM_GET_API_VERSION", ...).
  std::vector<std::string> call_names() const;
  /// Recorded calls with the given name.
  std::vector<RecordedCall> calls_named(const std::string& name) const;
  /// The role of a handed-out fd ("vm", "vcpu1", ...).
  std::string role_of(int fd) const;
  /// Number of live mmap()s (to check that teardown unmapped everything).
  std::size_t live_mappings() const;

 private:
  int new_fd(const std::string& role);  // caller holds mutex_
  std::string role_of_locked(int fd) const;
  long default_result(int fd, unsigned long request, std::uintptr_t arg);
  static std::vector<std::byte> copy_arg(unsigned long request, std::uintptr_t arg);

  mutable std::mutex mutex_;
  std::vector<RecordedCall> calls_;
  std::map<long, long> extensions_;
  std::map<unsigned long, std::deque<int>> failures_;
  std::map<unsigned long, Handler> handlers_;
  std::map<int, std::string> roles_;
  std::map<void*, std::size_t> live_mappings_;
  int open_error_ = 0;
  int mmap_error_ = 0;
  int fallocate_error_ = 0;
  int guest_memfds_ = 0;
};

}  // namespace cvm::kvm
