// SPDX-License-Identifier: Apache-2.0
// DiskFile: a raw disk image file opened for virtio-blk, with the host I/O the device needs
// (positional read/write, fdatasync, hole punching, zeroing). Host side only: it never sees
// guest memory. Included by the blk device, tests and benchmarks.
//
// Image locking: open() takes a whole-file open-file-description lock (F_OFD_SETLK, Linux
// >= 3.15), shared for a read-only disk and exclusive for a writable one, like QEMU's
// file-posix locking and Cloud Hypervisor's disk lock, so two VMs (or two --disk of one VM)
// cannot write one image at once. The lock lives in the open file description: it conflicts
// even within one process and goes away when the fd closes.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace cvm::devices::virtio::blk {

/// How open() treats an errno from F_OFD_SETLK.
enum class LockFailure {
  kConflict,     // EAGAIN/EACCES: another open file description holds a conflicting lock
  kUnsupported,  // EOPNOTSUPP/ENOLCK/EINVAL: the filesystem (or kernel) cannot lock; go on unlocked
  kError,        // anything else: open() fails
};
[[nodiscard]] LockFailure classify_lock_errno(int err) noexcept;

/// Thread-safety: the positional calls may run concurrently; the object itself is immutable
/// after open().
class DiskFile final {
 public:
  /// Opens `path` O_RDONLY (readonly) or O_RDWR, always O_CLOEXEC, and locks the whole file:
  /// F_RDLCK when readonly (readers share), else F_WRLCK (excludes every other lock). Errors
  /// name the file: kNotFound/kIo from open or fstat, kInvalidArgument when it is not a
  /// regular file or its size is not a multiple of 512 bytes, kIo (errno EAGAIN/EACCES) when
  /// a conflicting lock is held. Where the filesystem cannot lock (LockFailure::kUnsupported)
  /// it logs one warning to stderr and returns an unlocked DiskFile (QEMU's locking=auto).
  [[nodiscard]] static Result<DiskFile> open(const std::string& path, bool readonly);

  const std::string& path() const noexcept { return path_; }
  bool readonly() const noexcept { return readonly_; }
  uint64_t size_bytes() const noexcept { return size_; }
  uint64_t capacity_sectors() const noexcept { return size_ / 512; }
  /// Whether open() holds the image lock (false only on a filesystem without lock support).
  /// Moving a DiskFile moves the lock with the fd; destroying it releases the lock.
  bool locked() const noexcept { return locked_; }
  /// The open file, for batched I/O (io_uring); stays owned by this object.
  int fd() const noexcept { return fd_.get(); }

  /// Reads exactly out.size() bytes at `offset` (retries short reads and EINTR); kIo error
  /// on failure or end of file.
  [[nodiscard]] Result<void> read_at(uint64_t offset, std::span<std::byte> out) const;
  /// Writes exactly data.size() bytes at `offset`; kIo error on failure.
  [[nodiscard]] Result<void> write_at(uint64_t offset, std::span<const std::byte> data) const;
  /// Scatter/gather forms (preadv/pwritev): fill or write every byte of `iov` in order,
  /// starting at `offset`, with the same retries and errors. Any number of entries (calls
  /// take at most IOV_MAX each). The device passes guest buffers here, so no bounce copy.
  [[nodiscard]] Result<void> read_at(uint64_t offset, std::span<const iovec> iov) const;
  [[nodiscard]] Result<void> write_at(uint64_t offset, std::span<const iovec> iov) const;
  /// fdatasync(): data written before is durable afterwards.
  [[nodiscard]] Result<void> flush() const;
  /// Deallocates [offset, offset+length) keeping the file size (FALLOC_FL_PUNCH_HOLE); the
  /// range reads back as zeroes.
  [[nodiscard]] Result<void> discard(uint64_t offset, uint64_t length) const;
  /// Makes [offset, offset+length) read as zeroes: punches a hole when `may_unmap`, else
  /// FALLOC_FL_ZERO_RANGE; falls back to writing zeroes when the filesystem refuses.
  [[nodiscard]] Result<void> write_zeroes(uint64_t offset, uint64_t length,
                                          bool may_unmap) const;

 private:
  DiskFile(UniqueFd fd, std::string path, bool readonly, bool locked, uint64_t size)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        readonly_(readonly),
        locked_(locked),
        size_(size) {}

  Result<void> write_zero_bytes(uint64_t offset, uint64_t length) const;
  Result<void> transfer_iov(bool write, uint64_t offset, std::span<const iovec> iov) const;

  UniqueFd fd_;
  std::string path_;
  bool readonly_;
  bool locked_;
  uint64_t size_;
};

}  // namespace cvm::devices::virtio::blk
