// SPDX-License-Identifier: Apache-2.0
// validate_config() on models built in code, with the JSON namer (the CLI namer is covered
// through cli_test.cc).
#include "vmm/config/validate.h"

#include <gtest/gtest.h>

#include "tests/unit/config/test_util.h"

namespace cvm::vmm::config {
namespace {

using testing::error_of;

VmConfig minimal() {
  VmConfig config;
  config.payload.kernel = "/k";
  return config;
}

std::string check(const VmConfig& config) {
  return error_of(validate_config(config, json_field_name));
}

TEST(ValidateTest, MinimalConfigIsValid) { EXPECT_EQ(check(minimal()), "<ok>"); }

TEST(ValidateTest, Payload) {
  VmConfig config = minimal();
  config.payload.kernel.clear();
  EXPECT_EQ(check(config), "payload.kernel: required unless payload.firmware is given");
  config.payload.firmware = "";
  EXPECT_EQ(check(config), "payload.firmware: empty path");
  config.payload.firmware = "/f";
  EXPECT_EQ(check(config), "<ok>");
  config.payload.initramfs = "/i";
  EXPECT_EQ(check(config), "payload.initramfs: needs payload.kernel");
  config.payload.kernel = "/k";
  config.payload.initramfs = "";
  EXPECT_EQ(check(config), "payload.initramfs: empty path");
  config.payload.initramfs = std::string("/i\0x", 4);
  EXPECT_EQ(check(config), "payload.initramfs: contains a NUL byte");
  config.payload.initramfs.reset();
  config.payload.cmdline = std::string("a\0b", 3);
  EXPECT_EQ(check(config), "payload.cmdline: contains a NUL byte");
  // The config must print as JSON (the API socket's vm.info), so strings are UTF-8.
  config.payload.cmdline = "quiet \xff";
  EXPECT_EQ(check(config), "payload.cmdline: is not valid UTF-8");
  config.payload.cmdline = "quiet";
  config.payload.kernel = "/boot/\xc0\xaf";
  EXPECT_EQ(check(config), "payload.kernel: is not valid UTF-8");
}

TEST(ValidateTest, CpusBounds) {
  VmConfig config = minimal();
  config.cpus.boot_vcpus = 0;
  EXPECT_EQ(check(config), "cpus.boot_vcpus: 0 is out of range (1 to 255)");
  config.cpus.boot_vcpus = 255;
  EXPECT_EQ(check(config), "<ok>");
  config.cpus.boot_vcpus = 4000000000u;
  EXPECT_EQ(check(config), "cpus.boot_vcpus: 4000000000 is out of range (1 to 255)");
}

TEST(ValidateTest, MemoryBoundsAndAlignment) {
  VmConfig config = minimal();
  config.memory.size_bytes = kMinMemoryBytes - kPageBytes;
  EXPECT_EQ(check(config), "memory.size: 32764 KiB is below the minimum of 32 MiB");
  config.memory.size_bytes = kMinMemoryBytes;
  EXPECT_EQ(check(config), "<ok>");
  config.memory.size_bytes = kMaxMemoryBytes;
  EXPECT_EQ(check(config), "<ok>");
  config.memory.size_bytes = kMaxMemoryBytes + kPageBytes;
  EXPECT_EQ(check(config), "memory.size: 1073741828 KiB exceeds the maximum of 1 TiB");
  config.memory.size_bytes = kMinMemoryBytes + 512;
  EXPECT_EQ(check(config), "memory.size: 33554944 bytes is not a multiple of 4 KiB");
  config.memory.size_bytes = kMinMemoryBytes + kPageBytes;
  config.memory.hugepages = true;
  EXPECT_EQ(check(config),
            "memory.size: 32772 KiB is not a multiple of 2 MiB (needed by memory.hugepages)");
  config.memory.size_bytes = kMinMemoryBytes;
  config.memory.guest_memfd = true;
  EXPECT_EQ(check(config), "memory.hugepages: cannot be combined with memory.guest_memfd");
}

TEST(ValidateTest, Serial) {
  VmConfig config = minimal();
  config.serial.mode = SerialMode::kFile;
  EXPECT_EQ(check(config), "serial.file: empty path");
  config.serial.file = "/log";
  EXPECT_EQ(check(config), "<ok>");
  config.serial.mode = SerialMode::kOff;
  EXPECT_EQ(check(config), "serial.file: is only valid in file mode");
}

TEST(ValidateTest, Disks) {
  VmConfig config = minimal();
  config.disks = {{"/a", false, "root"}, {"", false, ""}};
  EXPECT_EQ(check(config), "disks[1].path: empty path");
  config.disks[1] = {"/b", true, "root"};
  EXPECT_EQ(check(config), "disks[1].id: 'root' is already used by disks[0].id");
  config.disks[1].id = std::string(21, 'x');
  EXPECT_EQ(check(config), "disks[1].id: 'xxxxxxxxxxxxxxxxxxxxx' is longer than 20 bytes");
  config.disks[1].id = std::string(20, 'x');
  EXPECT_EQ(check(config), "<ok>");
  config.disks.push_back({"/c", false, ""});
  config.disks.push_back({"/d", false, ""});  // empty ids never collide
  EXPECT_EQ(check(config), "<ok>");
}

TEST(ValidateTest, Vsock) {
  VmConfig config = minimal();
  config.vsock = VsockConfig{kMaxVsockCid + 1, "/s"};
  EXPECT_EQ(check(config), "vsock.cid: 4294967295 is out of range (3 to 4294967294)");
  config.vsock->cid = kMaxVsockCid;
  EXPECT_EQ(check(config), "<ok>");
  config.vsock->socket = "";
  EXPECT_EQ(check(config), "vsock.socket: empty path");
  config.vsock->socket = "/" + std::string(107, 's');
  EXPECT_EQ(check(config),
            "vsock.socket: path is 108 bytes, longer than the 107 a unix socket address holds");
  config.vsock->socket.pop_back();
  EXPECT_EQ(check(config), "<ok>");
}

TEST(ValidateTest, TeeDataSizes) {
  VmConfig config = minimal();
  config.platform.tee = TeeKind::kSevSnp;
  config.platform.host_data.assign(31, 0);
  EXPECT_EQ(check(config), "payload.host_data: is 31 bytes, expected 32");
  config.platform.host_data.assign(32, 0);
  config.platform.snp_policy = 0x30000;
  EXPECT_EQ(check(config), "<ok>");
  config.platform = {};
  config.platform.tee = TeeKind::kTdx;
  config.payload.firmware = "/tdvf";
  config.platform.mrconfigid.assign(47, 0);
  EXPECT_EQ(check(config), "payload.mrconfigid: is 47 bytes, expected 48");
  config.platform.mrconfigid.assign(48, 0);
  EXPECT_EQ(check(config), "<ok>");
  config.payload.firmware.reset();
  EXPECT_EQ(check(config), "platform.tdx: needs payload.firmware (TDVF or td-shim)");
}

// Platform paths obey the same rules as every other path (found by config_fuzz: a non-UTF-8
// snp_certs passed validation, then could not round-trip through the JSON the API prints).
TEST(ValidateTest, PlatformPathsAreCheckedLikeOtherPaths) {
  VmConfig config = minimal();
  config.payload.firmware = "/ovmf";
  config.platform.tee = TeeKind::kSevSnp;
  config.platform.snp_policy = 0x30000;
  config.platform.snp_certs = "/certs\x88";
  EXPECT_EQ(check(config), "platform.snp_certs: is not valid UTF-8");
  config.platform.snp_certs = std::string("/c\0x", 4);
  EXPECT_EQ(check(config), "platform.snp_certs: contains a NUL byte");
  config.platform.snp_certs = "/certs";
  EXPECT_EQ(check(config), "<ok>");
  config.platform = {};
  config.platform.tee = TeeKind::kTdx;
  config.platform.quote_socket = "/run/q\xff";
  EXPECT_EQ(check(config), "platform.quote_socket: is not valid UTF-8");
  config.platform.quote_socket = std::string("/run/q\0s", 8);
  EXPECT_EQ(check(config), "platform.quote_socket: contains a NUL byte");
  config.platform.quote_socket = "/run/qgs.sock";
  EXPECT_EQ(check(config), "<ok>");
}

}  // namespace
}  // namespace cvm::vmm::config
