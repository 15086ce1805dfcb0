// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/blk/disk_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace cvm::devices::virtio::blk {
namespace {

// Entries per preadv/pwritev call: Linux's UIO_MAXIOV (IOV_MAX), beyond which they fail.
constexpr std::size_t kMaxCallIovecs = 1024;

Error io_error(const std::string& path, std::string_view what, int err) {
  return errno_error(ErrorCode::kIo, what, err).context(fmt::format("disk image {}", path));
}

// Takes the whole-file OFD lock on `fd`: true when held, false when the filesystem cannot
// lock (warned once on stderr). F_OFD_SETLK never waits, so a conflict is reported at once.
Result<bool> lock_image(int fd, const std::string& path, bool readonly) {
  struct flock lock {};
  lock.l_type = readonly ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // to the end of the file, however it grows
  lock.l_pid = 0;  // required for OFD locks (fcntl(2))
  if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) {
    return true;
  }
  const int err = errno;
  switch (classify_lock_errno(err)) {
    case LockFailure::kConflict:
      if (readonly) {
        return Error(ErrorCode::kIo,
                     fmt::format("disk image {}: cannot take a read lock: another process or a "
                                 "writable disk of this VM holds the write lock (F_OFD_SETLK: {})",
                                 path, std::strerror(err)),
                     err);
      }
      return Error(ErrorCode::kIo,
                   fmt::format("disk image {}: cannot take a write lock: the image is in use by "
                               "another process or another disk of this VM (F_OFD_SETLK: {})",
                               path, std::strerror(err)),
                   err);
    case LockFailure::kUnsupported:
      fmt::print(stderr,
                 "cvmm: warning: disk image {}: the filesystem does not support image locking "
                 "(F_OFD_SETLK: {}); using it unlocked\n",
                 path, std::strerror(err));
      return false;
    case LockFailure::kError:
      break;
  }
  return io_error(path, "F_OFD_SETLK", err);
}

}  // namespace

LockFailure classify_lock_errno(int err) noexcept {
  switch (err) {
    case EAGAIN:  // what Linux returns for a conflicting OFD lock
    case EACCES:  // what POSIX allows instead
      return LockFailure::kConflict;
    case EOPNOTSUPP:  // e.g. some FUSE and network filesystems
    case ENOLCK:      // NFS without a lock manager, or the kernel's lock table is full
    case EINVAL:      // kernels before 3.15 do not know F_OFD_SETLK
      return LockFailure::kUnsupported;
    default:
      return LockFailure::kError;
  }
}

Result<DiskFile> DiskFile::open(const std::string& path, bool readonly) {
  const int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) {
    const int err = errno;
    Error error = io_error(path, "open", err);
    if (err == ENOENT) {
      return Error(ErrorCode::kNotFound, error.message(), err);
    }
    return error;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return io_error(path, "fstat", errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "disk image {}: not a regular file", path);
  }
  // Locked once it is known to be a regular file, so a device node is refused for what it is.
  CVM_ASSIGN_OR_RETURN(const bool locked, lock_image(fd.get(), path, readonly));
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size % 512 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "disk image {}: size {} bytes is not a multiple of 512 bytes", path, size);
  }
  return DiskFile(std::move(fd), path, readonly, locked, size);
}

Result<void> DiskFile::read_at(uint64_t offset, std::span<std::byte> out) const {
  const iovec one{.iov_base = out.data(), .iov_len = out.size()};
  return transfer_iov(false, offset, std::span(&one, 1));
}

Result<void> DiskFile::write_at(uint64_t offset, std::span<const std::byte> data) const {
  // pwritev does not write through iov_base; the cast only fits struct iovec's type.
  const iovec one{.iov_base = const_cast<std::byte*>(data.data()), .iov_len = data.size()};
  return transfer_iov(true, offset, std::span(&one, 1));
}

Result<void> DiskFile::read_at(uint64_t offset, std::span<const iovec> iov) const {
  return transfer_iov(false, offset, iov);
}

Result<void> DiskFile::write_at(uint64_t offset, std::span<const iovec> iov) const {
  return transfer_iov(true, offset, iov);
}

// preadv/pwritev until every byte moved: a short transfer resumes inside the entry it
// stopped in (a copy of that one entry is advanced; the caller's array is not modified).
Result<void> DiskFile::transfer_iov(bool write, uint64_t offset,
                                    std::span<const iovec> iov) const {
  std::size_t entry = 0;
  std::size_t skip = 0;  // bytes of iov[entry] already transferred
  while (entry < iov.size()) {
    if (skip == iov[entry].iov_len) {
      ++entry;
      skip = 0;
      continue;
    }
    std::array<iovec, kMaxCallIovecs> batch;  // the first `count` entries are set
    std::size_t count = 0;
    for (std::size_t i = entry; i < iov.size() && count < batch.size(); ++i, ++count) {
      batch[count] = iov[i];
    }
    batch[0].iov_base = static_cast<std::byte*>(batch[0].iov_base) + skip;
    batch[0].iov_len -= skip;
    const ssize_t n = write ? ::pwritev(fd_.get(), batch.data(), static_cast<int>(count),
                                        static_cast<off_t>(offset))
                            : ::preadv(fd_.get(), batch.data(), static_cast<int>(count),
                                       static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 || (n == 0 && write)) {
      return io_error(path_, write ? "pwritev" : "preadv", n < 0 ? errno : EIO);
    }
    if (n == 0) {
      return make_error(ErrorCode::kIo,
                        "disk image {}: preadv: unexpected end of file at {:#x}", path_, offset);
    }
    offset += static_cast<uint64_t>(n);
    // Advance (entry, skip) by n bytes.
    for (auto left = static_cast<std::size_t>(n); left > 0;) {
      const std::size_t step = std::min(left, iov[entry].iov_len - skip);
      skip += step;
      left -= step;
      if (skip == iov[entry].iov_len && left > 0) {
        ++entry;
        skip = 0;
      }
    }
  }
  return ok();
}

Result<void> DiskFile::flush() const {
  if (::fdatasync(fd_.get()) != 0) {
    return io_error(path_, "fdatasync", errno);
  }
  return ok();
}

Result<void> DiskFile::discard(uint64_t offset, uint64_t length) const {
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
    return io_error(path_, "fallocate(PUNCH_HOLE)", errno);
  }
  return ok();
}

Result<void> DiskFile::write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) const {
  const int mode = may_unmap ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
                             : (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
  if (::fallocate(fd_.get(), mode, static_cast<off_t>(offset), static_cast<off_t>(length)) ==
      0) {
    return ok();
  }
  if (errno != EOPNOTSUPP) {
    return io_error(path_, "fallocate(ZERO_RANGE)", errno);
  }
  return write_zero_bytes(offset, length);  // e.g. tmpfs has no ZERO_RANGE
}

Result<void> DiskFile::write_zero_bytes(uint64_t offset, uint64_t length) const {
  static constexpr std::size_t kChunk = 64 * 1024;
  const std::vector<std::byte> zeroes(kChunk);
  for (uint64_t done = 0; done < length;) {
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(kChunk, length - done));
    CVM_TRY(write_at(offset + done, std::span(zeroes).first(n)));
    done += n;
  }
  return ok();
}

}  // namespace cvm::devices::virtio::blk
