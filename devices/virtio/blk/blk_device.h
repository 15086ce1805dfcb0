// SPDX-License-Identifier: Apache-2.0
// BlkDevice: virtio-blk (virtio 1.2 §5.2) over a raw DiskFile, one request queue. Requests
// are decoded by the pure functions of blk_request.h; disk I/O runs on a QueueWorker thread
// (or on the caller's thread when configured so, as unit tests do). Included by the machine
// (composition), tests and benchmarks.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/virtio/blk/blk_request.h"
#include "devices/virtio/blk/disk_file.h"
#include "devices/virtio/blk/io_uring_queue.h"
#include "devices/virtio/queue_worker.h"
#include "devices/virtio/virtio_device.h"

namespace cvm::devices::virtio::blk {

/// virtio-blk feature bits (§5.2.3).
namespace blk_feature {
inline constexpr unsigned kSegMax = 2;
inline constexpr unsigned kRo = 5;
inline constexpr unsigned kBlkSize = 6;
inline constexpr unsigned kFlush = 9;
inline constexpr unsigned kDiscard = 13;
inline constexpr unsigned kWriteZeroes = 14;
}  // namespace blk_feature

/// struct virtio_blk_config offsets (§5.2.4), all little-endian.
namespace blk_config {
inline constexpr std::size_t kCapacity = 0;             // le64, 512-byte sectors
inline constexpr std::size_t kSegMax = 12;              // le32
inline constexpr std::size_t kBlkSize = 20;             // le32
inline constexpr std::size_t kMaxDiscardSectors = 36;   // le32
inline constexpr std::size_t kMaxDiscardSeg = 40;       // le32
inline constexpr std::size_t kDiscardAlignment = 44;    // le32, sectors
inline constexpr std::size_t kMaxWriteZeroesSectors = 48;  // le32
inline constexpr std::size_t kMaxWriteZeroesSeg = 52;   // le32
inline constexpr std::size_t kWriteZeroesMayUnmap = 56; // u8
inline constexpr std::size_t kSize = 60;                // through unused1[3]
}  // namespace blk_config

struct BlkOptions {
  std::string serial;           // GET_ID answer, at most 20 bytes used
  uint16_t queue_size = 256;    // QueueNumMax; a power of two
  bool worker_thread = true;    // false: process_queue() does the I/O on the calling thread
  bool io_uring = true;         // batch reads/writes on io_uring (falls back to pread/pwrite)
};

/// Thread-safety: all methods are thread-safe; state is guarded by one mutex which is held
/// while a batch of requests is processed (reset() therefore waits for that batch).
class BlkDevice final : public VirtioDevice {
 public:
  BlkDevice(DiskFile disk, BlkOptions options);
  ~BlkDevice() override;

  DeviceType device_type() const override { return DeviceType::kBlock; }
  uint64_t device_features() const override;
  std::span<const uint16_t> queue_max_sizes() const override { return queue_max_sizes_; }
  void read_config(uint64_t offset, std::span<std::byte> out) const override;
  void write_config(uint64_t offset, std::span<const std::byte> data) override;
  Result<void> activate(GuestMemoryView& memory, VirtioInterrupt& interrupt,
                        uint64_t driver_features,
                        std::vector<std::optional<SplitVirtqueue>> queues) override;
  void reset() override;
  void process_queue(uint16_t index) override;
  /// The I/O worker waits on the queue's KVM ioeventfd itself: a guest kick wakes it
  /// directly instead of going through the machine's notifier thread.
  bool adopt_queue_notifier(uint16_t index, UniqueFd notifier) override;

  const DiskLimits& limits() const noexcept { return limits_; }
  /// Whether reads/writes go through io_uring (false if disabled or the host refused it).
  bool uses_io_uring() const noexcept { return uring_ != nullptr; }

 private:
  void drain_queue();
  // A read or write waiting in the io_uring batch; `iov` (guest buffers) lives in
  // batch_iov_[index in batch_].
  struct BatchedRequest {
    DescriptorChain chain;
    Request request;
    std::span<const iovec> iov;
  };

  Result<void> drain_locked();
  Result<void> drain_available();
  Result<Decoded> decode_chain(const DescriptorChain& chain);
  bool batchable(const Decoded& decoded) const;
  Result<std::span<const iovec>> data_iovecs(const Request& request,
                                             const DescriptorChain& chain,
                                             std::vector<iovec>& storage);
  Result<void> add_to_batch(DescriptorChain chain, const Request& request);
  Result<void> complete_batch();
  Result<void> complete(const DescriptorChain& chain, const Request& request, Status status);
  Result<Status> execute(const Request& request, const DescriptorChain& chain);
  Result<Status> transfer(const Request& request, const DescriptorChain& chain);
  Result<Status> apply_ranges(const Request& request, const DescriptorChain& chain);
  Status host_failure(const Error& error);

  DiskFile disk_;
  BlkOptions options_;
  DiskLimits limits_;
  std::array<uint16_t, 1> queue_max_sizes_;
  std::array<std::byte, blk_config::kSize> config_{};

  mutable std::mutex mutex_;  // guards everything below
  GuestMemoryView* memory_ = nullptr;
  VirtioInterrupt* interrupt_ = nullptr;
  std::optional<SplitVirtqueue> queue_;
  bool broken_ = false;  // NEEDS_RESET was raised; nothing is processed until reset()
  std::vector<iovec> sync_iov_;  // data iovecs of the request executed synchronously
  std::unique_ptr<IoUringQueue> uring_;
  std::vector<std::vector<iovec>> batch_iov_;  // data iovecs per io_uring batch entry
  std::vector<BatchedRequest> batch_;

  std::unique_ptr<QueueWorker> worker_;  // last: its thread calls drain_queue()
};

}  // namespace cvm::devices::virtio::blk
