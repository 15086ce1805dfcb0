// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/blk/blk_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/byte_reader.h"
#include "devices/virtio/guest_error_log.h"
#include "devices/virtio/guest_iovecs.h"

namespace cvm::devices::virtio::blk {
namespace {

// Requests per io_uring submission (queue depth). Data moves between the file and guest
// memory directly (preadv/pwritev or io_uring readv/writev on the guest buffers' iovecs), so
// a disk holds no data buffers, only these iovec arrays.
constexpr unsigned kIoUringBatch = 32;
// Discard/write-zeroes limits we advertise (§5.2.4); the file system enforces nothing tighter.
constexpr uint32_t kMaxRangeSectors = 1u << 22;  // 2 GiB per range
constexpr uint32_t kMaxRangeSegments = 32;
constexpr uint32_t kDiscardAlignmentSectors = 8;  // 4 KiB: hole punching granularity

template <typename T>
void put_le(std::span<std::byte> config, std::size_t offset, T value) {
  store_le<T>(config.subspan(offset).template first<sizeof(T)>(), value);
}

}  // namespace

BlkDevice::BlkDevice(DiskFile disk, BlkOptions options)
    : disk_(std::move(disk)), options_(std::move(options)), queue_max_sizes_{options_.queue_size} {
  limits_ = DiskLimits{
      .capacity_sectors = disk_.capacity_sectors(),
      .readonly = disk_.readonly(),
      .discard = !disk_.readonly(),
      .write_zeroes = !disk_.readonly(),
      .max_discard_sectors = kMaxRangeSectors,
      .max_discard_seg = kMaxRangeSegments,
      .max_write_zeroes_sectors = kMaxRangeSectors,
      .max_write_zeroes_seg = kMaxRangeSegments,
  };
  std::span<std::byte> config(config_);
  put_le<uint64_t>(config, blk_config::kCapacity, limits_.capacity_sectors);
  // Header and status take two descriptors of a chain no longer than the queue.
  put_le<uint32_t>(config, blk_config::kSegMax, options_.queue_size - 2u);
  put_le<uint32_t>(config, blk_config::kBlkSize, static_cast<uint32_t>(kSectorSize));
  put_le<uint32_t>(config, blk_config::kMaxDiscardSectors, kMaxRangeSectors);
  put_le<uint32_t>(config, blk_config::kMaxDiscardSeg, kMaxRangeSegments);
  put_le<uint32_t>(config, blk_config::kDiscardAlignment, kDiscardAlignmentSectors);
  put_le<uint32_t>(config, blk_config::kMaxWriteZeroesSectors, kMaxRangeSectors);
  put_le<uint32_t>(config, blk_config::kMaxWriteZeroesSeg, kMaxRangeSegments);
  config[blk_config::kWriteZeroesMayUnmap] = std::byte{1};
  if (options_.io_uring) {
    // Without io_uring (old kernel, seccomp) every request takes the pread/pwrite path.
    if (auto ring = IoUringQueue::create(kIoUringBatch); ring) {
      uring_ = std::move(*ring);
      batch_iov_.resize(kIoUringBatch);
      batch_.reserve(kIoUringBatch);
    }
  }
  if (options_.worker_thread) {
    auto worker = QueueWorker::start("virtio-blk", [this] { drain_queue(); });
    if (worker) {
      worker_ = std::move(*worker);
    } else {
      // Still a working disk: requests then run on the thread that delivers notifications.
      fmt::print(stderr, "cvmm: virtio-blk {}: {}; serving requests without an I/O thread\n",
                 disk_.path(), worker.error().message());
    }
  }
}

BlkDevice::~BlkDevice() {
  worker_.reset();  // no request runs after this
  if (!disk_.readonly()) {
    // Guest writes are in the file already (pwrite); make them durable too, as a guest that
    // never flushed would expect of a disk that was cleanly detached.
    if (auto flushed = disk_.flush(); !flushed) {
      fmt::print(stderr, "cvmm: {}\n", flushed.error().message());
    }
  }
}

uint64_t BlkDevice::device_features() const {
  uint64_t bits = feature_bit(blk_feature::kSegMax) | feature_bit(blk_feature::kBlkSize) |
                  feature_bit(blk_feature::kFlush);
  if (limits_.readonly) {
    return bits | feature_bit(blk_feature::kRo);
  }
  return bits | feature_bit(blk_feature::kDiscard) | feature_bit(blk_feature::kWriteZeroes);
}

void BlkDevice::read_config(uint64_t offset, std::span<std::byte> out) const {
  std::fill(out.begin(), out.end(), std::byte{0});
  if (offset >= config_.size()) {
    return;
  }
  const std::size_t n = std::min<std::size_t>(out.size(), config_.size() - offset);
  // Bounds: offset < config_.size() and n <= remaining bytes.
  std::memcpy(out.data(), config_.data() + offset, n);
}

void BlkDevice::write_config(uint64_t /*offset*/, std::span<const std::byte> /*data*/) {
  // All fields we offer are read-only (writeback needs CONFIG_WCE, not offered).
}

Result<void> BlkDevice::activate(GuestMemoryView& memory, VirtioInterrupt& interrupt,
                                 uint64_t /*driver_features*/,
                                 std::vector<std::optional<SplitVirtqueue>> queues) {
  if (queues.size() != 1 || !queues[0].has_value()) {
    return make_error(ErrorCode::kGuest, "virtio-blk activated without its request queue");
  }
  std::lock_guard lock(mutex_);
  memory_ = &memory;
  interrupt_ = &interrupt;
  queue_ = std::move(queues[0]);
  broken_ = false;
  return ok();
}

void BlkDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  memory_ = nullptr;
  interrupt_ = nullptr;
  broken_ = false;
}

void BlkDevice::process_queue(uint16_t index) {
  if (index != 0) {
    return;
  }
  if (worker_) {
    worker_->kick();
    return;
  }
  drain_queue();
}

bool BlkDevice::adopt_queue_notifier(uint16_t index, UniqueFd notifier) {
  if (index != 0 || !worker_) {
    return false;
  }
  worker_->watch(std::move(notifier));
  return true;
}

void BlkDevice::drain_queue() {
  std::lock_guard lock(mutex_);
  if (!queue_ || broken_) {
    return;
  }
  if (auto drained = drain_locked(); !drained) {
    log_guest_error(fmt::format("virtio-blk {}", disk_.path()), drained.error());
    broken_ = true;
    interrupt_->set_needs_reset();
  }
}

Result<void> BlkDevice::drain_locked() {
  bool pending = true;
  while (pending) {
    CVM_TRY(drain_available());
    CVM_ASSIGN_OR_RETURN(pending, queue_->enable_notification_and_check_pending());
  }
  CVM_ASSIGN_OR_RETURN(bool notify, queue_->needs_notification());
  if (notify) {
    interrupt_->signal_used_queue(0);
  }
  return ok();
}

// Pops every available chain. Reads and writes that fit a slot are batched on io_uring; any
// other request first completes the batch, so requests complete in the order they were made
// available (a FLUSH covers every write before it).
Result<void> BlkDevice::drain_available() {
  for (;;) {
    CVM_ASSIGN_OR_RETURN(std::optional<DescriptorChain> chain, queue_->pop());
    if (!chain) {
      break;
    }
    CVM_ASSIGN_OR_RETURN(Decoded decoded, decode_chain(*chain));
    if (batchable(decoded)) {
      CVM_TRY(add_to_batch(std::move(*chain), decoded.request));
      continue;
    }
    CVM_TRY(complete_batch());
    Status status = decoded.status;
    if (status == Status::kOk) {
      CVM_ASSIGN_OR_RETURN(status, execute(decoded.request, *chain));
    }
    CVM_TRY(complete(*chain, decoded.request, status));
  }
  return complete_batch();
}

Result<Decoded> BlkDevice::decode_chain(const DescriptorChain& chain) {
  std::array<std::byte, kHeaderSize> header{};
  if (chain.readable_bytes >= kHeaderSize) {
    CVM_TRY(read_from_buffers(*memory_, chain.readable, 0, header));
  }
  return decode_request(header, chain.readable_bytes, chain.writable_bytes, limits_);
}

bool BlkDevice::batchable(const Decoded& decoded) const {
  const RequestType type = decoded.request.type;
  return uring_ != nullptr && decoded.status == Status::kOk &&
         (type == RequestType::kIn || type == RequestType::kOut);
}

// The guest buffers of a read's or write's data (an IN request's writable buffers before the
// status byte, an OUT request's readable buffers after the header) as host iovecs in
// `storage`: the file is read into and written from guest memory directly. Errors (kGuest):
// a buffer outside guest memory or shorter than decode_request() computed.
Result<std::span<const iovec>> BlkDevice::data_iovecs(const Request& request,
                                                     const DescriptorChain& chain,
                                                     std::vector<iovec>& storage) {
  const bool in = request.type == RequestType::kIn;
  const std::vector<GuestBuffer>& buffers = in ? chain.writable : chain.readable;
  const uint64_t skip = in ? 0 : kHeaderSize;
  // One entry per buffer is the common case; a buffer spanning adjacent memory regions
  // needs more, so grow until the entries cover the whole payload.
  storage.resize(std::max(storage.size(), buffers.size() + 1));
  for (;;) {
    CVM_ASSIGN_OR_RETURN(const std::size_t used,
                         buffers_to_iovecs(*memory_, buffers, skip, request.data_bytes,
                                                  storage));
    std::span<const iovec> iov = std::span(storage).first(used);
    if (iovec_bytes(iov) == request.data_bytes) {
      return iov;
    }
    storage.resize(storage.size() * 2);
  }
}

Result<void> BlkDevice::add_to_batch(DescriptorChain chain, const Request& request) {
  std::vector<iovec>& storage = batch_iov_[batch_.size()];
  CVM_ASSIGN_OR_RETURN(const std::span<const iovec> iov, data_iovecs(request, chain, storage));
  batch_.push_back(BatchedRequest{.chain = std::move(chain), .request = request, .iov = iov});
  if (batch_.size() == batch_iov_.size()) {
    return complete_batch();
  }
  return ok();
}

Result<void> BlkDevice::complete_batch() {
  if (batch_.empty()) {
    return ok();
  }
  std::vector<IoUringQueue::Op> ops;
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    const Request& r = batch_[i].request;
    ops.push_back(IoUringQueue::Op{.write = r.type == RequestType::kOut, .fd = disk_.fd(),
                                   .iov = batch_[i].iov, .offset = r.sector * kSectorSize});
  }
  std::vector<int64_t> results(ops.size(), -EAGAIN);
  if (auto ran = uring_->run(ops, results); !ran) {
    log_guest_error(fmt::format("virtio-blk {}", disk_.path()), ran.error());
  }
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    const BatchedRequest& b = batch_[i];
    Status status = Status::kOk;
    if (results[i] != static_cast<int64_t>(b.request.data_bytes)) {
      // Short transfer, EAGAIN or an error (EINVAL past IOV_MAX entries): redo it
      // synchronously for an exact answer.
      auto redone = ops[i].write ? disk_.write_at(ops[i].offset, ops[i].iov)
                                 : disk_.read_at(ops[i].offset, ops[i].iov);
      if (!redone) {
        status = host_failure(redone.error());
      }
    }
    CVM_TRY(complete(b.chain, b.request, status));
  }
  batch_.clear();
  return ok();
}

Result<void> BlkDevice::complete(const DescriptorChain& chain, const Request& request,
                                 Status status) {
  const std::array<std::byte, 1> status_byte{static_cast<std::byte>(status)};
  CVM_TRY(write_to_buffers(*memory_, chain.writable, chain.writable_bytes - 1u, status_byte));
  // Used length: bytes the device wrote, i.e. IN/GET_ID data on success plus the status.
  const bool wrote_data = status == Status::kOk && (request.type == RequestType::kIn ||
                                                    request.type == RequestType::kGetId);
  return queue_->add_used(chain.head, (wrote_data ? request.data_bytes : 0u) + 1u);
}

Status BlkDevice::host_failure(const Error& error) {
  log_guest_error(fmt::format("virtio-blk {}", disk_.path()), error);
  return Status::kIoErr;
}

Result<Status> BlkDevice::execute(const Request& request, const DescriptorChain& chain) {
  switch (request.type) {
    case RequestType::kIn:
    case RequestType::kOut:
      return transfer(request, chain);
    case RequestType::kFlush:
      if (auto flushed = disk_.flush(); !flushed) {
        return host_failure(flushed.error());
      }
      return Status::kOk;
    case RequestType::kGetId: {
      std::array<std::byte, kIdBytes> id{};
      const std::size_t n = std::min(options_.serial.size(), kIdBytes);
      // Bounds: n <= kIdBytes; unused bytes stay zero (NUL-terminated when shorter, §5.2.6).
      std::memcpy(id.data(), options_.serial.data(), n);
      CVM_TRY(write_to_buffers(*memory_, chain.writable, 0,
                               std::span(id).first(request.data_bytes)));
      return Status::kOk;
    }
    case RequestType::kDiscard:
    case RequestType::kWriteZeroes:
      return apply_ranges(request, chain);
  }
  return Status::kUnsupported;
}

Result<Status> BlkDevice::transfer(const Request& request, const DescriptorChain& chain) {
  CVM_ASSIGN_OR_RETURN(const std::span<const iovec> iov, data_iovecs(request, chain, sync_iov_));
  const uint64_t disk_offset = request.sector * kSectorSize;  // in range: decode checked it
  auto done = request.type == RequestType::kIn ? disk_.read_at(disk_offset, iov)
                                               : disk_.write_at(disk_offset, iov);
  if (!done) {
    return host_failure(done.error());
  }
  return Status::kOk;
}

Result<Status> BlkDevice::apply_ranges(const Request& request, const DescriptorChain& chain) {
  // Bound the copy before reading: more than max segments is IOERR anyway.
  if (request.data_bytes > kMaxRangeSegments * kRangeSize) {
    return Status::kIoErr;
  }
  std::vector<std::byte> payload(request.data_bytes);
  CVM_TRY(read_from_buffers(*memory_, chain.readable, kHeaderSize, payload));
  std::vector<ByteRange> ranges;
  const Status status = decode_ranges(payload, request.type, limits_, ranges);
  if (status != Status::kOk) {
    return status;
  }
  for (const ByteRange& range : ranges) {
    auto done = request.type == RequestType::kDiscard
                    ? disk_.discard(range.offset, range.length)
                    : disk_.write_zeroes(range.offset, range.length, range.unmap);
    if (!done) {
      return host_failure(done.error());
    }
  }
  return Status::kOk;
}

}  // namespace cvm::devices::virtio::blk
