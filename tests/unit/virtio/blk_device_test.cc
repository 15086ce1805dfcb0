// SPDX-License-Identifier: Apache-2.0
// virtio-blk device end to end over a VirtqDriver and a temporary raw image, plus DiskFile.
#include "devices/virtio/blk/blk_device.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>

#include "base/byte_reader.h"
#include "tests/unit/virtio/virtq_driver.h"

namespace cvm::devices::virtio::blk {
namespace {

using testing::VirtqDriver;

constexpr uint64_t kDiskBytes = 64 * 1024;

class RecordingInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t /*queue*/) override { ++used; }
  void signal_config_change() override {}
  void set_needs_reset() override { needs_reset = true; }
  std::atomic<int> used{0};  // the I/O worker signals from its own thread
  std::atomic<bool> needs_reset{false};
};

// A temporary image whose byte i is (i * 7) & 0xff.
class TempImage {
 public:
  explicit TempImage(uint64_t size) {
    char name[] = "/tmp/cvmm-blk-test-XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = name;
    std::vector<char> bytes(size);
    for (uint64_t i = 0; i < size; ++i) {
      bytes[i] = static_cast<char>((i * 7) & 0xff);
    }
    std::ofstream(path_, std::ios::binary).write(bytes.data(), static_cast<long>(size));
  }
  ~TempImage() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }
  std::vector<std::byte> contents() const {
    std::ifstream in(path_, std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), {});
    std::vector<std::byte> out(raw.size());
    std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  }

 private:
  std::string path_;
};

// Parameter: whether reads and writes are batched on io_uring.
class BlkDeviceTest : public ::testing::TestWithParam<bool> {
 protected:
  void start(bool readonly, bool worker_thread = false) {
    auto disk = DiskFile::open(image.path(), readonly);
    ASSERT_TRUE(disk.has_value()) << disk.error().message();
    device = std::make_unique<BlkDevice>(
        std::move(*disk), BlkOptions{.serial = "disk-serial-1", .queue_size = 64,
                                     .worker_thread = worker_thread, .io_uring = GetParam()});
    if (worker_thread) {
      // As the machine wires it: the device's own descriptor of queue 0's ioeventfd.
      UniqueFd kvm_side(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      ASSERT_TRUE(device->adopt_queue_notifier(0, UniqueFd(::fcntl(kvm_side.get(),
                                                                    F_DUPFD_CLOEXEC, 0))));
      ioeventfd = std::move(kvm_side);
    }
    auto q = SplitVirtqueue::create(driver.layout(), 64, {.event_idx = true, .indirect_desc = true},
                                    memory);
    ASSERT_TRUE(q.has_value());
    std::vector<std::optional<SplitVirtqueue>> queues;
    queues.emplace_back(std::move(*q));
    ASSERT_TRUE(device->activate(memory, interrupt, 0, std::move(queues)).has_value());
  }

  // Publishes header(type, sector) + optional readable payload + writable data + status.
  struct Submitted {
    uint64_t data_gpa;
    uint64_t status_gpa;
  };
  Submitted submit(uint32_t type, uint64_t sector, std::span<const std::byte> payload,
                   uint32_t writable_data, bool notify = true) {
    const uint64_t hdr = driver.alloc(16);
    std::array<std::byte, 16> raw{};
    store_le<uint32_t>(std::span(raw).subspan<0, 4>(), type);
    store_le<uint64_t>(std::span(raw).subspan<8, 8>(), sector);
    driver.put(hdr, raw);
    std::vector<testing::DriverBuffer> chain{{hdr, 16, false}};
    Submitted s{0, 0};
    if (!payload.empty()) {
      s.data_gpa = driver.alloc(payload.size());
      driver.put(s.data_gpa, payload);
      chain.push_back({s.data_gpa, static_cast<uint32_t>(payload.size()), false});
    }
    if (writable_data != 0) {
      s.data_gpa = driver.alloc(writable_data);
      chain.push_back({s.data_gpa, writable_data, true});
    }
    s.status_gpa = driver.alloc(1);
    driver.put(s.status_gpa, std::array<std::byte, 1>{std::byte{0xee}});
    chain.push_back({s.status_gpa, 1, true});
    driver.add_chain(chain);
    if (notify) {
      device->process_queue(0);
    }
    return s;
  }
  uint8_t status_at(const Submitted& s) {
    return static_cast<uint8_t>(driver.get(s.status_gpa, 1)[0]);
  }

  TempImage image{kDiskBytes};
  BufferGuestMemory memory{0, 4 << 20};
  VirtqDriver driver{memory, 64};
  RecordingInterrupt interrupt;
  std::unique_ptr<BlkDevice> device;
  UniqueFd ioeventfd;  // with a worker thread: what KVM signals on the guest's QueueNotify
};

TEST_P(BlkDeviceTest, ConfigReportsCapacityBlockSizeAndSegments) {
  start(false);
  std::array<std::byte, 8> capacity{};
  device->read_config(blk_config::kCapacity, capacity);
  EXPECT_EQ(load_le<uint64_t>(capacity), kDiskBytes / 512);
  std::array<std::byte, 4> word{};
  device->read_config(blk_config::kBlkSize, word);
  EXPECT_EQ(load_le<uint32_t>(word), 512u);
  device->read_config(blk_config::kSegMax, word);
  EXPECT_EQ(load_le<uint32_t>(word), 62u);
  device->read_config(200, word);
  EXPECT_EQ(load_le<uint32_t>(word), 0u);
  EXPECT_EQ(device->device_features(),
            (1u << 2) | (1u << 6) | (1u << 9) | (1u << 13) | (1u << 14));
}

TEST_P(BlkDeviceTest, ReadOnlyDiskOffersRoAndNoDiscard) {
  start(true);
  EXPECT_EQ(device->device_features(), (1u << 2) | (1u << 5) | (1u << 6) | (1u << 9));
}

TEST_P(BlkDeviceTest, ReadReturnsFileBytes) {
  start(false);
  auto s = submit(0, 3, {}, 1024);
  EXPECT_EQ(status_at(s), 0);
  auto data = driver.get(s.data_gpa, 1024);
  for (uint64_t i = 0; i < 1024; ++i) {
    ASSERT_EQ(data[i], static_cast<std::byte>(((3 * 512 + i) * 7) & 0xff)) << i;
  }
  EXPECT_EQ(driver.used_idx(), 1);
  EXPECT_EQ(driver.used_elem(0).second, 1025u);
  EXPECT_EQ(interrupt.used, 1);
}

TEST_P(BlkDeviceTest, WriteThenFlushIsInTheFile) {
  start(false);
  std::vector<std::byte> payload(512, std::byte{0x5a});
  auto s = submit(1, 10, payload, 0);
  EXPECT_EQ(status_at(s), 0);
  EXPECT_EQ(driver.used_elem(0).second, 1u);
  auto f = submit(4, 0, {}, 0);
  EXPECT_EQ(status_at(f), 0);
  auto file = image.contents();
  EXPECT_EQ(file[10 * 512], std::byte{0x5a});
  EXPECT_EQ(file[11 * 512 - 1], std::byte{0x5a});
  EXPECT_EQ(file[11 * 512], static_cast<std::byte>((11 * 512 * 7) & 0xff));
}

TEST_P(BlkDeviceTest, AKickOnTheAdoptedIoeventfdRunsTheRequestOnTheWorker) {
  start(false, /*worker_thread=*/true);
  EXPECT_FALSE(device->adopt_queue_notifier(1, UniqueFd(::eventfd(0, EFD_CLOEXEC))));
  std::vector<std::byte> payload(512, std::byte{0x3c});
  auto s = submit(1, 20, payload, 0, /*notify=*/false);
  const uint64_t one = 1;
  ASSERT_EQ(::write(ioeventfd.get(), &one, sizeof(one)), 8);  // the guest's kick, via KVM
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (interrupt.used.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(interrupt.used.load(), 1);
  EXPECT_EQ(status_at(s), 0);
  device.reset();  // joins the worker before the file is read
  auto file = image.contents();
  EXPECT_EQ(file[20 * 512], std::byte{0x3c});
  EXPECT_EQ(file[21 * 512 - 1], std::byte{0x3c});
}

TEST_P(BlkDeviceTest, WriteToReadOnlyDiskFailsAndLeavesFile) {
  start(true);
  const auto before = image.contents();
  std::vector<std::byte> payload(512, std::byte{0x11});
  auto s = submit(1, 0, payload, 0);
  EXPECT_EQ(status_at(s), 1);
  EXPECT_EQ(image.contents(), before);
  EXPECT_FALSE(interrupt.needs_reset);
}

TEST_P(BlkDeviceTest, ReadPastEndIsIoError) {
  start(false);
  auto s = submit(0, kDiskBytes / 512, {}, 512);
  EXPECT_EQ(status_at(s), 1);
  EXPECT_EQ(driver.used_elem(0).second, 1u);
}

TEST_P(BlkDeviceTest, GetIdReturnsSerial) {
  start(false);
  auto s = submit(8, 0, {}, 20);
  EXPECT_EQ(status_at(s), 0);
  auto id = driver.get(s.data_gpa, 20);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(id.data())), "disk-serial-1");
  EXPECT_EQ(driver.used_elem(0).second, 21u);
}

TEST_P(BlkDeviceTest, DiscardAndWriteZeroesReadBackAsZero) {
  start(false);
  std::array<std::byte, 16> range{};
  store_le<uint64_t>(std::span(range).subspan<0, 8>(), 8);   // sectors 8..15: 4 KiB aligned
  store_le<uint32_t>(std::span(range).subspan<8, 4>(), 8);
  EXPECT_EQ(status_at(submit(11, 0, range, 0)), 0);
  store_le<uint64_t>(std::span(range).subspan<0, 8>(), 20);
  store_le<uint32_t>(std::span(range).subspan<8, 4>(), 1);
  EXPECT_EQ(status_at(submit(13, 0, range, 0)), 0);
  auto file = image.contents();
  ASSERT_EQ(file.size(), kDiskBytes);
  for (uint64_t i = 8 * 512; i < 16 * 512; ++i) {
    ASSERT_EQ(file[i], std::byte{0}) << i;
  }
  EXPECT_EQ(file[20 * 512 + 100], std::byte{0});
  EXPECT_NE(file[21 * 512 + 1], std::byte{0});
}

TEST_P(BlkDeviceTest, UnknownTypeIsUnsupported) {
  start(false);
  EXPECT_EQ(status_at(submit(0x99, 0, {}, 0)), 2);
}

TEST_P(BlkDeviceTest, ChainWithoutStatusByteSetsNeedsResetAndStops) {
  start(false);
  const uint64_t hdr = driver.alloc(16);
  driver.add_chain({{hdr, 16, false}});
  device->process_queue(0);
  EXPECT_TRUE(interrupt.needs_reset);
  EXPECT_EQ(driver.used_idx(), 0);
  // Further requests are ignored until the driver resets the device.
  submit(4, 0, {}, 0);
  EXPECT_EQ(driver.used_idx(), 0);
}

TEST_P(BlkDeviceTest, ReadIntoReadOnlyBufferSetsNeedsReset) {
  start(false);
  std::vector<std::byte> payload(512);
  submit(0, 0, payload, 0);
  EXPECT_TRUE(interrupt.needs_reset);
  EXPECT_EQ(driver.used_idx(), 0);
}

TEST_P(BlkDeviceTest, ResetStopsProcessing) {
  start(false);
  device->reset();
  submit(4, 0, {}, 0);
  EXPECT_EQ(driver.used_idx(), 0);
}

// Data moves between the file and the guest buffers directly (iovecs): buffers of odd sizes,
// and an OUT request whose first buffer holds the header and the first data bytes.
TEST_P(BlkDeviceTest, ScatteredDataBuffersAreReadAndWrittenInOrder) {
  start(false);
  const uint32_t sizes[] = {100, 412, 1, 511, 512};  // 1536 bytes: sectors 5-7
  const uint64_t hdr = driver.alloc(16);
  std::array<std::byte, 16> raw{};
  store_le<uint64_t>(std::span(raw).subspan<8, 8>(), 5);  // IN, sector 5
  driver.put(hdr, raw);
  std::vector<testing::DriverBuffer> chain{{hdr, 16, false}};
  for (const uint32_t size : sizes) {
    chain.push_back({driver.alloc(size), size, true});
  }
  const uint64_t status = driver.alloc(1);
  chain.push_back({status, 1, true});
  driver.add_chain(chain);
  device->process_queue(0);
  ASSERT_EQ(driver.get(status, 1)[0], std::byte{0});
  uint64_t file_offset = 5 * 512;
  for (std::size_t i = 1; i + 1 < chain.size(); ++i) {
    const auto got = driver.get(chain[i].addr, chain[i].len);
    for (uint32_t b = 0; b < chain[i].len; ++b, ++file_offset) {
      ASSERT_EQ(got[b], static_cast<std::byte>((file_offset * 7) & 0xff)) << i << "+" << b;
    }
  }
  EXPECT_EQ(driver.used_elem(0).second, 1537u);

  // OUT to sector 2: header + 300 data bytes in one buffer, then 200 and 12 bytes.
  const uint64_t first = driver.alloc(16 + 300);
  std::vector<std::byte> head(16 + 300);
  store_le<uint32_t>(std::span(head).first<4>(), 1);
  store_le<uint64_t>(std::span(head).subspan<8, 8>(), 2);
  for (std::size_t i = 16; i < head.size(); ++i) {
    head[i] = static_cast<std::byte>(i - 16 + 1);
  }
  driver.put(first, head);
  const uint64_t second = driver.alloc(200);
  driver.put(second, std::vector<std::byte>(200, std::byte{0xb2}));
  const uint64_t third = driver.alloc(12);
  driver.put(third, std::vector<std::byte>(12, std::byte{0xc3}));
  const uint64_t out_status = driver.alloc(1);
  driver.add_chain({{first, 316, false}, {second, 200, false}, {third, 12, false},
                    {out_status, 1, true}});
  device->process_queue(0);
  ASSERT_EQ(driver.get(out_status, 1)[0], std::byte{0});
  const auto file = image.contents();
  EXPECT_EQ(file[2 * 512 + 0], std::byte{1});
  EXPECT_EQ(file[2 * 512 + 299], static_cast<std::byte>(300 & 0xff));
  EXPECT_EQ(file[2 * 512 + 300], std::byte{0xb2});
  EXPECT_EQ(file[2 * 512 + 499], std::byte{0xb2});
  EXPECT_EQ(file[2 * 512 + 500], std::byte{0xc3});
  EXPECT_EQ(file[2 * 512 + 511], std::byte{0xc3});
  EXPECT_EQ(file[3 * 512], static_cast<std::byte>((3 * 512 * 7) & 0xff)) << "wrote past";
}

INSTANTIATE_TEST_SUITE_P(IoPaths, BlkDeviceTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "IoUring" : "Pread";
                         });

TEST_P(BlkDeviceTest, ManyRequestsInOneNotificationCompleteInOrder) {
  start(false);
  if (GetParam()) {
    EXPECT_TRUE(device->uses_io_uring()) << "io_uring refused by this host";
  }
  // 40 one-sector writes (more than one io_uring batch) published before one notification.
  std::vector<uint64_t> status_gpas;
  for (uint32_t i = 0; i < 40; ++i) {
    const uint64_t hdr = driver.alloc(16);
    std::array<std::byte, 16> raw{};
    store_le<uint32_t>(std::span(raw).subspan<0, 4>(), 1);
    store_le<uint64_t>(std::span(raw).subspan<8, 8>(), i);
    driver.put(hdr, raw);
    const uint64_t data = driver.alloc(512);
    driver.put(data, std::vector<std::byte>(512, static_cast<std::byte>(i + 1)));
    status_gpas.push_back(driver.alloc(1));
    driver.add_chain({{hdr, 16, false}, {data, 512, false}, {status_gpas.back(), 1, true}});
    if (i == 20) {
      device->process_queue(0);  // first part
    }
  }
  device->process_queue(0);
  EXPECT_EQ(driver.used_idx(), 40);
  auto file = image.contents();
  for (uint32_t i = 0; i < 40; ++i) {
    EXPECT_EQ(driver.get(status_gpas[i], 1)[0], std::byte{0}) << i;
    EXPECT_EQ(file[i * 512 + 511], static_cast<std::byte>(i + 1)) << i;
  }
}

TEST(DiskFileTest, SizeNotMultipleOf512IsRefusedNamingTheFile) {
  TempImage image(1000);
  auto disk = DiskFile::open(image.path(), false);
  ASSERT_FALSE(disk.has_value());
  EXPECT_EQ(disk.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(disk.error().message(),
            "disk image " + image.path() + ": size 1000 bytes is not a multiple of 512 bytes");
}

TEST(DiskFileTest, MissingFileIsNotFound) {
  auto disk = DiskFile::open("/nonexistent/cvmm.img", true);
  ASSERT_FALSE(disk.has_value());
  EXPECT_EQ(disk.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(disk.error().message().find("/nonexistent/cvmm.img"), std::string::npos);
}

TEST(DiskFileTest, ReadOnlyOpenRefusesWrites) {
  TempImage image(4096);
  auto disk = DiskFile::open(image.path(), true);
  ASSERT_TRUE(disk.has_value());
  EXPECT_EQ(disk->capacity_sectors(), 8u);
  std::array<std::byte, 512> buf{};
  auto written = disk->write_at(0, buf);
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().sys_errno(), EBADF);
}

// More entries than one preadv/pwritev takes (IOV_MAX = 1024), of uneven sizes: every byte
// lands in order and the caller's array is left as it was.
TEST(DiskFileTest, ScatterWriteAndReadSpanMoreThanOneCall) {
  TempImage image(64 * 1024);
  auto disk = DiskFile::open(image.path(), false);
  ASSERT_TRUE(disk.has_value());
  constexpr std::size_t kEntries = 2500;
  std::vector<std::byte> data(kEntries * 3);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::byte>((i * 31 + 5) & 0xff);
  }
  std::vector<iovec> iov;
  for (std::size_t done = 0, i = 0; done < data.size(); ++i) {
    const std::size_t len = std::min<std::size_t>(1 + i % 5, data.size() - done);
    iov.push_back({data.data() + done, len});
    done += len;
  }
  ASSERT_GT(iov.size(), 1024u);
  const std::vector<iovec> before = iov;
  ASSERT_TRUE(disk->write_at(100, iov).has_value());
  EXPECT_EQ(iov.size(), before.size());
  EXPECT_EQ(iov.back().iov_base, before.back().iov_base);
  const auto file = image.contents();
  ASSERT_EQ(0, std::memcmp(file.data() + 100, data.data(), data.size()));
  EXPECT_EQ(file[99], static_cast<std::byte>((99 * 7) & 0xff));

  std::vector<std::byte> back(data.size());
  std::vector<iovec> read_iov;
  for (std::size_t done = 0, i = 0; done < back.size(); ++i) {
    const std::size_t len = std::min<std::size_t>(1 + i % 3, back.size() - done);
    read_iov.push_back({back.data() + done, len});
    done += len;
  }
  ASSERT_TRUE(disk->read_at(100, read_iov).has_value());
  EXPECT_EQ(back, data);
}

TEST(DiskFileTest, ScatterReadPastTheEndIsAnErrorNamingTheFile) {
  TempImage image(4096);
  auto disk = DiskFile::open(image.path(), true);
  ASSERT_TRUE(disk.has_value());
  std::array<std::byte, 600> buf{};
  const iovec iov[] = {{buf.data(), 300}, {buf.data() + 300, 300}};
  auto read = disk->read_at(4096 - 512, iov);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message(), "disk image " + image.path() +
                                        ": preadv: unexpected end of file at 0x1000");
}

}  // namespace
}  // namespace cvm::devices::virtio::blk
