// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/guest_iovecs.h"

#include <algorithm>
#include <cstring>

namespace cvm::devices::virtio {

Result<std::size_t> buffers_to_iovecs(GuestMemoryView& memory,
                                      std::span<const GuestBuffer> buffers, uint64_t offset,
                                      uint64_t length, std::span<iovec> out) {
  uint64_t done = 0;
  std::size_t used = 0;
  for (const GuestBuffer& buffer : buffers) {
    if (done == length || used == out.size()) {
      return used;
    }
    if (offset >= buffer.len) {
      offset -= buffer.len;
      continue;
    }
    const uint64_t piece = std::min<uint64_t>(buffer.len - offset, length - done);
    CVM_ASSIGN_OR_RETURN(const std::size_t n,
                         memory.host_iovecs(buffer.addr + offset, piece, out.subspan(used)));
    used += n;
    const std::size_t covered = iovec_bytes(out.subspan(used - n, n));
    done += covered;
    if (covered < piece) {
      return used;  // `out` filled up inside this buffer
    }
    offset = 0;
  }
  if (done != length) {
    return make_error(ErrorCode::kGuest, "descriptor buffers are {:#x} bytes too short",
                      length - done);
  }
  return used;
}

std::size_t iovec_bytes(std::span<const iovec> iov) noexcept {
  std::size_t total = 0;
  for (const iovec& v : iov) {
    total += v.iov_len;
  }
  return total;
}

void copy_from_iovecs(std::span<const iovec> iov, std::size_t skip, std::span<std::byte> out) {
  std::size_t done = 0;
  for (const iovec& v : iov) {
    if (done == out.size()) {
      return;
    }
    if (skip >= v.iov_len) {
      skip -= v.iov_len;
      continue;
    }
    const std::size_t n = std::min(v.iov_len - skip, out.size() - done);
    // Bounds: [skip, skip + n) lies inside this entry and [done, done + n) inside `out`.
    std::memcpy(out.data() + done, static_cast<const std::byte*>(v.iov_base) + skip, n);
    done += n;
    skip = 0;
  }
}

void copy_to_iovecs(std::span<const iovec> iov, std::span<const std::byte> data) {
  std::size_t done = 0;
  for (const iovec& v : iov) {
    if (done == data.size()) {
      return;
    }
    const std::size_t n = std::min(v.iov_len, data.size() - done);
    // Bounds: n fits both this entry and what is left of `data`.
    std::memcpy(v.iov_base, data.data() + done, n);
    done += n;
  }
}

IovecPrefix::IovecPrefix(std::span<iovec> iov, std::size_t limit) noexcept {
  std::size_t total = 0;
  for (std::size_t i = 0; i < iov.size(); ++i) {
    if (total + iov[i].iov_len >= limit) {
      saved_len_ = iov[i].iov_len;
      iov[i].iov_len = limit - total;
      prefix_ = iov.first(i + 1);
      return;
    }
    total += iov[i].iov_len;
  }
  prefix_ = iov;
  saved_len_ = iov.empty() ? 0 : iov.back().iov_len;
}

IovecPrefix::~IovecPrefix() {
  if (!prefix_.empty()) {
    prefix_.back().iov_len = saved_len_;
  }
}

}  // namespace cvm::devices::virtio
