// SPDX-License-Identifier: Apache-2.0
// Fuzzes virtio-blk request handling two ways: the pure decoders on raw bytes, and the whole
// device (queue walk, decode, disk I/O on a memfd-backed image, status write) with the input
// as guest memory. Invariants: no crash, decoded requests stay within the disk, and the device
// never touches memory outside the fake guest RAM (ASan would catch it).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/guest_memory_view.h"
#include "devices/virtio/blk/blk_device.h"

using cvm::BufferGuestMemory;
using namespace cvm::devices::virtio;
using namespace cvm::devices::virtio::blk;

namespace {

constexpr uint64_t kMemSize = 0x4000;
constexpr uint64_t kDiskBytes = 64 * 1024;

class NullInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t /*queue*/) override {}
  void signal_config_change() override {}
  void set_needs_reset() override {}
};

// A new 64 KiB image in a memfd, opened through /proc/self/fd like any path. Each device gets
// its own: DiskFile's image lock refuses a writable and a read-only open of one file.
std::string new_image_path() {
  const int fd = ::memfd_create("cvmm-blk-fuzz", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, kDiskBytes) != 0) {
    __builtin_trap();
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

void fuzz_decoders(const uint8_t* data, size_t size) {
  if (size < kHeaderSize + 8) {
    return;
  }
  std::array<std::byte, kHeaderSize> header{};
  std::memcpy(header.data(), data, kHeaderSize);
  uint32_t readable = 0;
  uint32_t writable = 0;
  std::memcpy(&readable, data + kHeaderSize, 4);
  std::memcpy(&writable, data + kHeaderSize + 4, 4);
  const DiskLimits limits{.capacity_sectors = kDiskBytes / 512, .readonly = (data[0] & 0x80) != 0,
                          .discard = true, .write_zeroes = true, .max_discard_sectors = 64,
                          .max_discard_seg = 4, .max_write_zeroes_sectors = 64,
                          .max_write_zeroes_seg = 4};
  auto decoded = decode_request(header, readable, writable, limits);
  if (decoded && decoded->status == Status::kOk &&
      (decoded->request.type == RequestType::kIn || decoded->request.type == RequestType::kOut)) {
    const uint64_t end_sector = decoded->request.sector + decoded->request.data_bytes / 512;
    if (end_sector > limits.capacity_sectors || decoded->request.data_bytes % 512 != 0) {
      __builtin_trap();
    }
  }
  std::vector<ByteRange> ranges;
  const std::span<const std::byte> payload(reinterpret_cast<const std::byte*>(data) + 24,
                                           size - 24);
  if (decode_ranges(payload, RequestType::kWriteZeroes, limits, ranges) == Status::kOk) {
    for (const ByteRange& r : ranges) {
      if (r.offset + r.length > kDiskBytes) {
        __builtin_trap();
      }
    }
  }
}

BlkDevice* make_device(bool readonly) {
  auto disk = DiskFile::open(new_image_path(), readonly);
  if (!disk) {
    __builtin_trap();
  }
  // Leaked on purpose: lives for the whole fuzzing process.
  return new BlkDevice(std::move(*disk),
                       BlkOptions{.serial = "fuzz", .queue_size = 16, .worker_thread = false});
}

void fuzz_device(const uint8_t* data, size_t size) {
  if (size < 1) {
    return;
  }
  static BlkDevice* devices[2] = {make_device(false), make_device(true)};
  BlkDevice& device = *devices[data[0] & 1];
  device.reset();
  BufferGuestMemory memory(0, kMemSize);
  std::memcpy(memory.bytes().data(), data + 1, std::min<size_t>(size - 1, kMemSize));
  auto queue = SplitVirtqueue::create(
      QueueLayout{.size = 16, .desc_table = 0x30, .avail_ring = 0, .used_ring = 0x200}, 16,
      QueueFeatures{.event_idx = (data[0] & 2) != 0, .indirect_desc = (data[0] & 4) != 0},
      memory);
  if (!queue) {
    __builtin_trap();
  }
  std::vector<std::optional<SplitVirtqueue>> queues;
  queues.emplace_back(std::move(*queue));
  NullInterrupt interrupt;
  if (!device.activate(memory, interrupt, 0, std::move(queues))) {
    __builtin_trap();
  }
  device.process_queue(0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_decoders(data, size);
  fuzz_device(data, size);
  return 0;
}
