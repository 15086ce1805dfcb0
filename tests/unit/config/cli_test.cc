// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/cli.h"

#include <gtest/gtest.h>

#include "tests/unit/config/test_util.h"

namespace cvm::vmm::config {
namespace {

using testing::error_of;
using testing::from_cli;

TEST(CliTest, KernelAloneGivesDefaults) {
  auto config = from_cli({"--kernel", "/boot/vmlinux"});
  ASSERT_TRUE(config) << config.error().message();
  VmConfig expected;
  expected.payload.kernel = "/boot/vmlinux";
  EXPECT_EQ(*config, expected);
  EXPECT_EQ(config->cpus.boot_vcpus, 1u);
  EXPECT_EQ(config->memory.size_bytes, uint64_t{512} << 20);
  EXPECT_EQ(config->serial.mode, SerialMode::kTty);
  EXPECT_TRUE(config->disks.empty());
  EXPECT_FALSE(config->vsock);
  EXPECT_EQ(config->platform.tee, TeeKind::kNone);
}

TEST(CliTest, EveryFlagInSeparateForm) {
  auto config = from_cli({"--kernel", "/k", "--initramfs", "/i", "--cmdline",
                          "console=ttyS0 root=/dev/vda1,x", "--cpus", "boot=4", "--memory",
                          "size=2G,guest_memfd=on", "--serial", "file=/tmp/serial.log", "--disk",
                          "path=/a.img,readonly=on,id=root", "--disk", "path=/b.img", "--vsock",
                          "cid=3,socket=/run/v.sock"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.kernel, "/k");
  EXPECT_EQ(config->payload.initramfs, "/i");
  EXPECT_EQ(config->payload.cmdline, "console=ttyS0 root=/dev/vda1,x");
  EXPECT_FALSE(config->payload.firmware);
  EXPECT_EQ(config->cpus.boot_vcpus, 4u);
  EXPECT_EQ(config->memory.size_bytes, uint64_t{2} << 30);
  EXPECT_TRUE(config->memory.guest_memfd);
  EXPECT_FALSE(config->memory.hugepages);
  EXPECT_EQ(config->serial.mode, SerialMode::kFile);
  EXPECT_EQ(config->serial.file, "/tmp/serial.log");
  ASSERT_EQ(config->disks.size(), 2u);
  EXPECT_EQ(config->disks[0], (DiskConfig{"/a.img", true, "root"}));
  EXPECT_EQ(config->disks[1], (DiskConfig{"/b.img", false, ""}));
  ASSERT_TRUE(config->vsock);
  EXPECT_EQ(config->vsock->cid, 3u);
  EXPECT_EQ(config->vsock->socket, "/run/v.sock");
}

TEST(CliTest, EqualsFormMatchesSeparateForm) {
  auto separate = from_cli({"--kernel", "/k", "--cpus", "boot=2", "--memory", "size=1G",
                            "--serial", "off", "--disk", "path=/d", "--cmdline", "a=b c"});
  auto joined = from_cli({"--kernel=/k", "--cpus=boot=2", "--memory=size=1G", "--serial=off",
                          "--disk=path=/d", "--cmdline=a=b c"});
  ASSERT_TRUE(separate) << separate.error().message();
  ASSERT_TRUE(joined) << joined.error().message();
  EXPECT_EQ(*separate, *joined);
  EXPECT_EQ(joined->serial.mode, SerialMode::kOff);
  EXPECT_EQ(joined->payload.cmdline, "a=b c");
}

TEST(CliTest, MemoryOptions) {
  auto config = from_cli({"--kernel", "/k", "--memory", "size=64M,hugepages=true,guest_memfd=off"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->memory.size_bytes, uint64_t{64} << 20);
  EXPECT_TRUE(config->memory.hugepages);
  EXPECT_FALSE(config->memory.guest_memfd);
  // size may be left out (Cloud Hypervisor's default, 512M).
  auto default_size = from_cli({"--kernel", "/k", "--memory", "guest_memfd=on"});
  ASSERT_TRUE(default_size) << default_size.error().message();
  EXPECT_EQ(default_size->memory.size_bytes, uint64_t{512} << 20);
  EXPECT_EQ(from_cli({"--kernel", "/k", "--memory", "size=33554432"})->memory.size_bytes,
            uint64_t{32} << 20);
}

TEST(CliTest, QuotedValuesMayContainCommas) {
  auto config = from_cli({"--kernel", "/k", "--disk", "path=\"/img/a,b.raw\",id=\"x=y\"",
                          "--serial", "file=\"/tmp/a,b\""});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->disks[0].path, "/img/a,b.raw");
  EXPECT_EQ(config->disks[0].id, "x=y");
  EXPECT_EQ(config->serial.file, "/tmp/a,b");
}

TEST(CliTest, FirmwareAloneNeedsNoKernel) {
  auto config = from_cli({"--firmware", "/usr/share/ovmf/OVMF.fd", "--disk", "path=/disk.img"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.firmware, "/usr/share/ovmf/OVMF.fd");
  EXPECT_TRUE(config->payload.kernel.empty());
}

TEST(CliTest, TdxOwnerFieldsAndQuoteSocket) {
  auto config = from_cli({"--firmware", "/tdvf.fd", "--platform",
                          "tdx=on,mrowner=" + std::string(96, 'b') + ",mrownerconfig=" +
                              std::string(96, 'c') + ",quote_socket=/run/qgs.sock"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.mrowner, std::vector<uint8_t>(48, 0xbb));
  EXPECT_EQ(config->platform.mrownerconfig, std::vector<uint8_t>(48, 0xcc));
  EXPECT_EQ(config->platform.quote_socket, "/run/qgs.sock");
  auto snp = from_cli({"--kernel", "/k", "--platform", "sev_snp=on,mrowner=" + std::string(96, '0')});
  ASSERT_FALSE(snp);
  EXPECT_EQ(snp.error().message(), "--platform mrowner: needs --platform tdx=on");
  auto short_owner = from_cli({"--firmware", "/f", "--platform", "tdx=on,mrownerconfig=00"});
  ASSERT_FALSE(short_owner);
}

TEST(CliTest, TdxPlatform) {
  const std::string mrconfigid(96, 'a');
  auto config = from_cli({"--firmware", "/tdvf.fd", "--kernel", "/k", "--platform",
                          "tdx=on,mrconfigid=" + mrconfigid});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.tee, TeeKind::kTdx);
  EXPECT_EQ(config->platform.mrconfigid, std::vector<uint8_t>(48, 0xaa));
  EXPECT_TRUE(config->platform.host_data.empty());
  EXPECT_FALSE(config->platform.snp_policy);
}

TEST(CliTest, SevSnpPlatform) {
  auto config = from_cli({"--kernel", "/k", "--platform",
                          "sev_snp=on,policy=0x30000,host_data=" + std::string(43, 'A') + "="});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.tee, TeeKind::kSevSnp);
  EXPECT_EQ(config->platform.snp_policy, 0x30000u);
  EXPECT_EQ(config->platform.host_data, std::vector<uint8_t>(32, 0));
  auto off = from_cli({"--kernel", "/k", "--platform", "tdx=off,sev_snp=off"});
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_EQ(off->platform.tee, TeeKind::kNone);
}

TEST(CliTest, SevSnpCertificateTable) {
  auto config = from_cli({"--firmware", "/ovmf.fd", "--platform",
                          "sev_snp=on,snp_certs=/var/lib/snp/certs.bin"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.snp_certs, "/var/lib/snp/certs.bin");
  EXPECT_EQ(error_of(from_cli({"--firmware", "/f", "--platform", "snp_certs=/c"})),
            "--platform snp_certs: needs --platform sev_snp=on");
  EXPECT_EQ(error_of(from_cli({"--firmware", "/f", "--platform", "tdx=on,snp_certs=/c"})),
            "--platform snp_certs: needs --platform sev_snp=on");
  EXPECT_EQ(error_of(from_cli({"--firmware", "/f", "--platform", "sev_snp=on,snp_certs="})),
            "--platform snp_certs: empty path");
  auto json = testing::from_json(R"({"payload": {"firmware": "/f"},
                            "platform": {"sev_snp": true, "snp_certs": "/c.bin"}})");
  ASSERT_TRUE(json) << json.error().message();
  EXPECT_EQ(json->platform.snp_certs, "/c.bin");
  EXPECT_EQ(error_of(testing::from_json(
                R"({"payload": {"kernel": "/k"}, "platform": {"snp_certs": "/c"}})")),
            "platform.snp_certs: needs platform.sev_snp");
}

TEST(CliTest, SevSnpLaunchFields) {
  std::string id_block(192, '0');
  id_block.replace(180, 2, "03");  // POLICY byte 2 of the 96-byte block
  auto config = from_cli({"--firmware", "/ovmf.fd", "--platform",
                          "sev_snp=on,snp_vcpu_model=EPYC-Milan,snp_vmsa_features=0x20,"
                          "snp_id_block=" + id_block + ",snp_id_auth=" + std::string(8192, 'e') +
                              ",snp_author_key=on"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.snp_vcpu_model, "EPYC-Milan");
  EXPECT_EQ(config->platform.snp_vmsa_features, 0x20u);
  ASSERT_EQ(config->platform.snp_id_block.size(), 96u);
  EXPECT_EQ(config->platform.snp_id_block[90], 0x03);
  EXPECT_EQ(config->platform.snp_id_auth, std::vector<uint8_t>(4096, 0xee));
  EXPECT_TRUE(config->platform.snp_author_key_enabled);
  EXPECT_EQ(error_of(from_cli({"--firmware", "/f", "--platform", "tdx=on,snp_vcpu_model=EPYC"})),
            "--platform snp_vcpu_model: needs --platform sev_snp=on");
  EXPECT_EQ(error_of(from_cli({"--firmware", "/f", "--platform",
                               "sev_snp=on,snp_id_block=" + std::string(192, '0')})),
            "--platform snp_id_block: needs --platform snp_id_auth");
  EXPECT_EQ(error_of(from_cli({"--firmware", "/f", "--platform", "sev_snp=on,snp_author_key=on"})),
            "--platform snp_author_key: needs --platform snp_id_auth");
  EXPECT_NE(error_of(from_cli({"--firmware", "/f", "--platform", "sev_snp=on,snp_id_block=00"})),
            "<ok>");
}

TEST(CliTest, ConfigFlagStandsAlone) {
  const std::vector<std::string_view> args = {"--config", "/etc/vm.json"};
  auto run = parse_run_args(args);
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->config_file, "/etc/vm.json");
  EXPECT_FALSE(run->help);
  const std::vector<std::string_view> mixed = {"--config=/vm.json", "--cpus", "boot=2"};
  EXPECT_EQ(error_of(parse_run_args(mixed)), "--config cannot be combined with --cpus");
}

TEST(CliTest, HelpWinsOverEverythingElse) {
  const std::vector<std::string_view> args = {"--kernel", "--bogus", "-h"};
  auto run = parse_run_args(args);
  ASSERT_TRUE(run);
  EXPECT_TRUE(run->help);
}

TEST(CliTest, RejectsUnknownFlagsAndArguments) {
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "--kernal", "/k"})),
            "unknown flag '--kernal' (see 'cvmm run --help')");
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "--net=tap=x"})),
            "unknown flag '--net' (see 'cvmm run --help')");
  EXPECT_EQ(error_of(from_cli({"/k"})), "unexpected argument '/k' (see 'cvmm run --help')");
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "-v"})),
            "unexpected argument '-v' (see 'cvmm run --help')");
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "--"})),
            "unexpected argument '--' (see 'cvmm run --help')");
}

TEST(CliTest, RejectsMissingValues) {
  EXPECT_EQ(error_of(from_cli({"--kernel"})), "--kernel: missing value");
  EXPECT_EQ(error_of(from_cli({"--kernel", "--initramfs", "/i"})), "--kernel: missing value");
  EXPECT_EQ(error_of(from_cli({"--kernel", ""})), "--kernel: empty path");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--initramfs="})), "--initramfs: empty path");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory="})), "--memory: empty value");
  EXPECT_EQ(error_of(from_cli({"--config="})), "--config: empty path");
}

TEST(CliTest, RejectsDuplicateFlagsButAllowsRepeatedDisks) {
  EXPECT_EQ(error_of(from_cli({"--kernel", "/a", "--kernel", "/b"})),
            "--kernel: given more than once");
  EXPECT_EQ(error_of(from_cli({"--kernel", "/a", "--cpus", "boot=1", "--cpus=boot=2"})),
            "--cpus: given more than once");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--vsock", "cid=3,socket=/a", "--vsock",
                               "cid=4,socket=/b"})),
            "--vsock: given more than once");
  auto config = from_cli({"--kernel", "/k", "--disk", "path=/a", "--disk", "path=/b", "--disk",
                          "path=/c"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->disks.size(), 3u);
}

TEST(CliTest, RejectsBadOptionLists) {
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "sise=1G"})),
            "--memory: unknown key 'sise' (keys: size, guest_memfd, hugepages)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "4"})),
            "--cpus: expected key=value, got '4' (keys: boot)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "boot=2,max=4"})),
            "--cpus: unknown key 'max' (keys: boot)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=1G,size=2G"})),
            "--memory: key 'size' given twice");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "path=/a,,readonly=on"})),
            "--disk: empty option in 'path=/a,,readonly=on'");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "path=/a,"})),
            "--disk: empty option in 'path=/a,'");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "path=\"/a"})),
            "--disk: unterminated quote in 'path=\"/a'");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "readonly=on"})),
            "--disk: missing key 'path'");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "path=/a,shared=on"})),
            "--disk: unknown key 'shared' (keys: path, readonly, id)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--vsock", "cid=3"})),
            "--vsock: missing key 'socket'");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--vsock", "socket=/s"})),
            "--vsock: missing key 'cid'");
}

TEST(CliTest, RejectsMalformedValues) {
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "boot=two"})),
            "--cpus boot: 'two' is not a decimal number");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "boot=-1"})),
            "--cpus boot: '-1' is not a decimal number");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "boot=4294967296"})),
            "--cpus boot: 4294967296 is out of range (maximum 4294967295)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=1.5G"})),
            "--memory size: '1.5G' is not a size (expected bytes or a number with K, M or G)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=99999999999G"})),
            "--memory size: 99999999999G is out of range");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "hugepages=yes"})),
            "--memory hugepages: 'yes' is not a boolean (expected on, off, true or false)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "path=/a,readonly=1"})),
            "--disk readonly: '1' is not a boolean (expected on, off, true or false)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--vsock", "cid=x,socket=/s"})),
            "--vsock cid: 'x' is not a decimal number");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "sev_snp=on,policy=0xzz"})),
            "--platform policy: '0xzz' is not a hex number");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "sev_snp=on,host_data=abcd"})),
            "--platform host_data: 'abcd' is neither 64 hex digits nor base64 of 32 bytes");
}

TEST(CliTest, RejectsUnsupportedSerialModes) {
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--serial", "pty"})),
            "--serial: 'pty' is not supported (expected tty, off or file=PATH)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--serial", "socket=/s"})),
            "--serial: 'socket=/s' is not supported (expected tty, off or file=PATH)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--serial", "file="})), "--serial file: empty path");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--serial", "file=/a,mode=x"})),
            "--serial: unknown key 'mode' (keys: file)");
}

TEST(CliTest, RejectsOutOfRangeValuesThroughValidation) {
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "boot=0"})),
            "--cpus boot: 0 is out of range (1 to 255)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--cpus", "boot=256"})),
            "--cpus boot: 256 is out of range (1 to 255)");
  EXPECT_TRUE(from_cli({"--kernel=/k", "--cpus", "boot=255"}));
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=16M"})),
            "--memory size: 16 MiB is below the minimum of 32 MiB");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=2000000000"})),
            "--memory size: 1953125 KiB is not a multiple of 4 KiB");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=33558529"})),
            "--memory size: 33558529 bytes is not a multiple of 4 KiB");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=1025M"})), "<ok>");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=1026M,hugepages=on"})), "<ok>");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=1025M,hugepages=on"})),
            "--memory size: 1025 MiB is not a multiple of 2 MiB (needed by --memory hugepages)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--memory", "size=2048G"})),
            "--memory size: 2 TiB exceeds the maximum of 1 TiB");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--vsock", "cid=2,socket=/s"})),
            "--vsock cid: 2 is out of range (3 to 4294967294)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--disk", "path=/a,id=x", "--disk", "path=/b,id=x"})),
            "--disk #2 id: 'x' is already used by --disk #1 id");
}

TEST(CliTest, RejectsBadTeeCombinations) {
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "tdx=on,sev_snp=on"})),
            "--platform: tdx=on and sev_snp=on are mutually exclusive");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "tdx=on"})),
            "--platform tdx=on: needs --firmware (TDVF or td-shim)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "policy=0x30000"})),
            "--platform policy: needs --platform sev_snp=on");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--firmware=/f", "--platform",
                               "tdx=on,policy=0x30000"})),
            "--platform policy: needs --platform sev_snp=on");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform",
                               "sev_snp=on,mrconfigid=" + std::string(96, '0')})),
            "--platform mrconfigid: needs --platform tdx=on");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--firmware=/f", "--platform",
                               "tdx=on,host_data=" + std::string(64, '0')})),
            "--platform host_data: needs --platform sev_snp=on");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "sev_snp=on,policy=0x10000"})),
            "--platform policy: 0x10000 has bit 17 clear (reserved, must be 1)");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "sev_snp=on,policy=0x4030000"})),
            "--platform policy: 0x4030000 sets reserved bits 63:26");
  EXPECT_EQ(error_of(from_cli({"--kernel=/k", "--platform", "sev_snp=maybe"})),
            "--platform sev_snp: 'maybe' is not a boolean (expected on, off, true or false)");
}

TEST(CliTest, RejectsPayloadCombinations) {
  EXPECT_EQ(error_of(from_cli({})), "--kernel: required unless --firmware is given");
  EXPECT_EQ(error_of(from_cli({"--cpus", "boot=2"})),
            "--kernel: required unless --firmware is given");
  EXPECT_EQ(error_of(from_cli({"--firmware=/f", "--initramfs=/i"})),
            "--initramfs: needs --kernel");
  EXPECT_EQ(error_of(from_cli({"--firmware=/f", "--cmdline=console=ttyS0"})),
            "--cmdline: needs --kernel");
}

}  // namespace
}  // namespace cvm::vmm::config
