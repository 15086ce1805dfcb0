// SPDX-License-Identifier: Apache-2.0
// The hosted test guest (hosted_world.h) against cvmm's own MmioTransport + BlkDevice on a
// temporary image: the guest's blk driver and cvmm's device checked against each other on
// hosts without /dev/kvm (label unit). The QEMU tests check the guest against a third party.
#include <gtest/gtest.h>

#include "base/file.h"
#include "devices/virtio/blk/blk_device.h"
#include "devices/virtio/blk/disk_file.h"
#include "devices/virtio/mmio_transport.h"
#include "tests/guest/hosted_world.h"

namespace cvm::test::guest {
namespace {

namespace virtio = devices::virtio;
namespace blk = devices::virtio::blk;

class HostedBlkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cvmm-hosted-guest-");
    ASSERT_TRUE(dir) << dir.error().message();
    dir_.emplace(std::move(*dir));
  }

  /// Runs `program_args` against a BlkDevice on `image` in slot 0.
  GuestReport run(const std::filesystem::path& image, bool readonly, const std::string& serial,
                  const std::string& program_args) {
    auto disk = blk::DiskFile::open(image.string(), readonly);
    EXPECT_TRUE(disk) << disk.error().message();
    if (!disk) {
      return {};
    }
    blk::BlkDevice device(std::move(*disk), blk::BlkOptions{.serial = serial});
    HostDataMemory memory;
    NullLine irq;
    virtio::MmioTransport transport(device, memory, irq, virtio::MmioTransport::Hooks{},
                                    virtio::MmioTransport::Options{});
    hosted_attach(0, transport);
    GuestReport report = hosted_run(program_args);
    device.reset();  // stop the worker before the transport and device go away
    return report;
  }

  std::filesystem::path path(const char* name) const { return dir_->path() / name; }
  std::optional<TempDir> dir_;
};

TEST_F(HostedBlkTest, ReadWriteFlushReachTheFile) {
  const std::vector<std::byte> original = disk_content(1 << 20, 1);
  ASSERT_TRUE(write_file(path("disk.img"), original));
  std::vector<std::byte> expected = original;
  const auto written = pattern_bytes(0, 69632, 3);
  std::copy(written.begin(), written.end(), expected.begin() + 8192);
  const GuestReport r = run(path("disk.img"), false, "",
                            "cvmmtest=blk-rw blk.offset=8192 blk.length=69632 blk.seed=3");
  EXPECT_TRUE(r.has_line("device index=0 id=2 base=0xd0000000 irq=5")) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-rw capacity=2048 readonly=0 flush=1")) << r.full_output;
  EXPECT_EQ(r.value("blk-rw read", "sha256"), sha256_hex(original)) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-rw readback ok")) << r.full_output;
  EXPECT_EQ(r.value("blk-rw after", "sha256"), sha256_hex(expected)) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
  auto on_disk = read_file(path("disk.img").string());
  ASSERT_TRUE(on_disk) << on_disk.error().message();
  EXPECT_TRUE(*on_disk == expected);
}

TEST_F(HostedBlkTest, ReadOnlyDiskAnswersIoErr) {
  const std::vector<std::byte> original = disk_content(1 << 20, 2);
  ASSERT_TRUE(write_file(path("disk.img"), original));
  const GuestReport r = run(path("disk.img"), true, "", "cvmmtest=blk-ro");
  EXPECT_TRUE(r.has_line("blk-ro capacity=2048 readonly=1 flush=1")) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-ro write status=1")) << r.full_output;
  EXPECT_EQ(r.value("blk-ro after", "sha256"), sha256_hex(original)) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
}

TEST_F(HostedBlkTest, GetIdAnswersTheSerial) {
  ASSERT_TRUE(write_file(path("disk.img"), disk_content(64 * 1024, 3)));
  const GuestReport r = run(path("disk.img"), false, "cvmm-serial-42", "cvmmtest=blk-id");
  EXPECT_TRUE(r.has_line("blk-id serial=cvmm-serial-42")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
}

}  // namespace
}  // namespace cvm::test::guest
