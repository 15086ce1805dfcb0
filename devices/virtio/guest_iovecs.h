// SPDX-License-Identifier: Apache-2.0
// Scatter-gather views of descriptor-chain payload for I/O straight against guest memory
// (GuestMemoryView::host_iovecs), without a bounce buffer: the vsock device reads host
// sockets into rx buffers and writes tx buffers to them; virtio-blk reads and writes the disk
// file. Also the small iovec helpers the vsock connection layer needs (copying a remainder,
// limiting a read).
// Included by the vsock and blk devices and their tests.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/guest_memory_view.h"
#include "base/result.h"
#include "devices/virtio/virtqueue.h"

namespace cvm::devices::virtio {

/// Most iovecs one socket call takes (Linux UIO_MAXIOV; sendmsg/recvmsg fail beyond it).
inline constexpr std::size_t kMaxIovecs = 1024;

/// Resolves bytes [offset, offset + length) of the concatenation of `buffers` to host
/// iovecs. Returns the number of entries filled; when `out` is too short they cover only a
/// prefix (iovec_bytes() tells how much). Errors (kGuest): the buffers end before
/// offset + length, or a buffer is outside guest memory (host_iovecs()).
[[nodiscard]] Result<std::size_t> buffers_to_iovecs(GuestMemoryView& memory,
                                                    std::span<const GuestBuffer> buffers,
                                                    uint64_t offset, uint64_t length,
                                                    std::span<iovec> out);

/// Sum of iov_len.
std::size_t iovec_bytes(std::span<const iovec> iov) noexcept;

/// Copies bytes [skip, skip + out.size()) of the concatenation of `iov` to `out`; the
/// caller guarantees they exist.
void copy_from_iovecs(std::span<const iovec> iov, std::size_t skip, std::span<std::byte> out);

/// Copies `data` to the start of the concatenation of `iov` (at least data.size() bytes).
void copy_to_iovecs(std::span<const iovec> iov, std::span<const std::byte> data);

/// Shortens `iov` to its first `limit` bytes for one call and restores it afterwards (the
/// device reuses one iovec array for every connection it serves in a pass).
class IovecPrefix final {
 public:
  IovecPrefix(std::span<iovec> iov, std::size_t limit) noexcept;
  ~IovecPrefix();
  IovecPrefix(const IovecPrefix&) = delete;
  IovecPrefix& operator=(const IovecPrefix&) = delete;
  /// The entries covering min(limit, iovec_bytes(iov)) bytes.
  std::span<iovec> get() const noexcept { return prefix_; }

 private:
  std::span<iovec> prefix_;
  std::size_t saved_len_ = 0;  // original iov_len of the shortened last entry
};

}  // namespace cvm::devices::virtio
