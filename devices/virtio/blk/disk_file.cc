// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/blk/disk_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace cvm::devices::virtio::blk {
namespace {

Error io_error(const std::string& path, std::string_view what, int err) {
  return errno_error(ErrorCode::kIo, what, err).context(fmt::format("disk image {}", path));
}

}  // namespace

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
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size % 512 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "disk image {}: size {} bytes is not a multiple of 512 bytes", path, size);
  }
  return DiskFile(std::move(fd), path, readonly, size);
}

Result<void> DiskFile::read_at(uint64_t offset, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return io_error(path_, "pread", errno);
    }
    if (n == 0) {
      return make_error(ErrorCode::kIo, "disk image {}: pread: unexpected end of file at {:#x}",
                        path_, offset + done);
    }
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

Result<void> DiskFile::write_at(uint64_t offset, std::span<const std::byte> data) const {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return io_error(path_, "pwrite", n < 0 ? errno : EIO);
    }
    done += static_cast<std::size_t>(n);
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
