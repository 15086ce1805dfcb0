// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/unit/config/test_util.h"

namespace cvm::vmm::config {
namespace {

using testing::error_of;
using testing::from_cli;
using testing::from_json;

// Canonical form of a config using every field: config_to_json() must print exactly this.
constexpr std::string_view kFullSnpJson =
    R"({"payload":{"kernel":"/k","initramfs":"/i","cmdline":"console=ttyS0","firmware":"/f",)"
    R"("host_data":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},)"
    R"("cpus":{"boot_vcpus":4},"memory":{"size":2147483648,"guest_memfd":true,"hugepages":false},)"
    R"("serial":{"mode":"File","file":"/tmp/s.log"},)"
    R"("disks":[{"path":"/a.img","readonly":true,"id":"root"},{"path":"/b.img","readonly":false}],)"
    R"("vsock":{"cid":3,"socket":"/run/v.sock"},)"
    R"("platform":{"tdx":false,"sev_snp":true,"snp_policy":"0x30000"}})";

std::vector<uint8_t> sample_host_data() {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 32; ++i) {
    bytes.push_back(static_cast<uint8_t>((i % 16) * 0x11));
  }
  return bytes;
}

TEST(JsonTest, ReadsEveryKey) {
  auto config = from_json(kFullSnpJson);
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.kernel, "/k");
  EXPECT_EQ(config->payload.initramfs, "/i");
  EXPECT_EQ(config->payload.cmdline, "console=ttyS0");
  EXPECT_EQ(config->payload.firmware, "/f");
  EXPECT_EQ(config->cpus.boot_vcpus, 4u);
  EXPECT_EQ(config->memory.size_bytes, uint64_t{2} << 30);
  EXPECT_TRUE(config->memory.guest_memfd);
  EXPECT_FALSE(config->memory.hugepages);
  EXPECT_EQ(config->serial.mode, SerialMode::kFile);
  EXPECT_EQ(config->serial.file, "/tmp/s.log");
  ASSERT_EQ(config->disks.size(), 2u);
  EXPECT_EQ(config->disks[0], (DiskConfig{"/a.img", true, "root"}));
  EXPECT_EQ(config->disks[1], (DiskConfig{"/b.img", false, ""}));
  ASSERT_TRUE(config->vsock);
  EXPECT_EQ(*config->vsock, (VsockConfig{3, "/run/v.sock"}));
  EXPECT_EQ(config->platform.tee, TeeKind::kSevSnp);
  EXPECT_EQ(config->platform.snp_policy, 0x30000u);
  EXPECT_EQ(config->platform.host_data, sample_host_data());
}

TEST(JsonTest, CanonicalTextRoundTrips) {
  auto config = from_json(kFullSnpJson);
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config_to_json(*config), kFullSnpJson);
}

TEST(JsonTest, ModelRoundTripsThroughJson) {
  VmConfig tdx;
  tdx.payload = {"/vmlinux", std::nullopt, "quiet", "/tdvf.fd"};
  tdx.cpus.boot_vcpus = 255;
  tdx.memory = {uint64_t{1} << 40, false, true};
  tdx.serial.mode = SerialMode::kOff;
  tdx.platform.tee = TeeKind::kTdx;
  tdx.platform.mrconfigid.assign(48, 0x5a);
  tdx.platform.mrowner.assign(48, 0x01);
  tdx.platform.mrownerconfig.assign(48, 0x02);
  tdx.platform.quote_socket = "/run/qgs.sock";
  VmConfig snp;
  snp.payload = {"", std::nullopt, "", "/ovmf.fd"};
  snp.platform.tee = TeeKind::kSevSnp;
  snp.platform.snp_vcpu_model = "EPYC-Genoa";
  snp.platform.snp_vmsa_features = 0x20;
  snp.platform.snp_id_block.assign(96, 0x11);
  snp.platform.snp_id_auth.assign(4096, 0x22);
  snp.platform.snp_author_key_enabled = true;
  snp.platform.snp_certs = "/var/lib/snp/certs.bin";
  VmConfig plain;
  plain.payload.kernel = "/k";
  plain.vsock = VsockConfig{kMaxVsockCid, "/s"};
  plain.disks = {{"/x", false, std::string(20, 'i')}};
  for (const VmConfig& config : {tdx, snp, plain}) {
    ASSERT_EQ(error_of(validate_config(config, json_field_name)), "<ok>");
    auto back = from_json(config_to_json(config));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, config) << config_to_json(config);
  }
}

TEST(JsonTest, MinimalDocumentGivesDefaults) {
  auto config = from_json(R"({"payload": {"kernel": "/k"}})");
  ASSERT_TRUE(config) << config.error().message();
  VmConfig expected;
  expected.payload.kernel = "/k";
  EXPECT_EQ(*config, expected);
  EXPECT_EQ(config_to_json(expected),
            R"({"payload":{"kernel":"/k","cmdline":""},"cpus":{"boot_vcpus":1},)"
            R"("memory":{"size":536870912,"guest_memfd":false,"hugepages":false},)"
            R"("serial":{"mode":"Tty"},"platform":{"tdx":false,"sev_snp":false}})");
}

TEST(JsonTest, NullMeansAbsent) {
  auto config = from_json(
      R"({"payload": {"kernel": "/k", "initramfs": null, "firmware": null}, "vsock": null,
          "disks": null, "platform": {"snp_policy": null}})");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_FALSE(config->payload.initramfs);
  EXPECT_FALSE(config->vsock);
}

TEST(JsonTest, CliAndJsonBuildTheSameConfig) {
  auto cli = from_cli({"--kernel", "/k", "--initramfs", "/i", "--cmdline", "console=ttyS0",
                       "--firmware", "/f", "--cpus", "boot=4", "--memory",
                       "size=2G,guest_memfd=on", "--serial", "file=/tmp/s.log", "--disk",
                       "path=/a.img,readonly=on,id=root", "--disk", "path=/b.img", "--vsock",
                       "cid=3,socket=/run/v.sock", "--platform",
                       "sev_snp=on,policy=30000,host_data="
                       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"});
  auto json = from_json(kFullSnpJson);
  ASSERT_TRUE(cli) << cli.error().message();
  ASSERT_TRUE(json) << json.error().message();
  EXPECT_EQ(*cli, *json);
}

TEST(JsonTest, CliAndJsonAgreeOnTdx) {
  const std::string mrconfigid_base64(64, 'A');  // 48 zero bytes
  auto cli = from_cli({"--firmware", "/tdvf", "--kernel", "/k", "--serial", "off", "--memory",
                       "size=1G,hugepages=on", "--platform",
                       "tdx=on,mrconfigid=" + mrconfigid_base64});
  auto json = from_json(R"({"payload": {"firmware": "/tdvf", "kernel": "/k", "mrconfigid": ")" +
                        mrconfigid_base64 +
                        R"("}, "serial": {"mode": "Off"}, "memory": {"size": 1073741824,
                        "hugepages": true}, "platform": {"tdx": true}})");
  ASSERT_TRUE(cli) << cli.error().message();
  ASSERT_TRUE(json) << json.error().message();
  EXPECT_EQ(*cli, *json);
  EXPECT_EQ(json->platform.mrconfigid, std::vector<uint8_t>(48, 0));
}

TEST(JsonTest, UnknownKeysNameTheirPath) {
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "memory": {"sise": 1}})")),
            "memory.sise: unknown key");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "rng": {}})")),
            "rng: unknown key");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k", "igvm": "/x"}})")),
            "payload.igvm: unknown key");
  EXPECT_EQ(error_of(from_json(
                R"({"payload": {"kernel": "/k"}, "disks": [{"path": "/a"}, {"path": "/b", "direct": true}]})")),
            "disks[1].direct: unknown key");
}

TEST(JsonTest, WrongTypesAreErrors) {
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": 5}})")),
            "payload.kernel: expected a string, got 5");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": "2"}})")),
            "cpus.boot_vcpus: expected an unsigned integer, got a string");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": -1}})")),
            "cpus.boot_vcpus: expected an unsigned integer, got -1");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": 1.0}})")),
            "cpus.boot_vcpus: expected an unsigned integer, got a floating-point number");
  EXPECT_EQ(error_of(from_json(
                R"({"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": 4294967296}})")),
            "cpus.boot_vcpus: 4294967296 is out of range (maximum 4294967295)");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "memory": {"size": "512M"}})")),
            "memory.size: expected an unsigned integer, got a string");
  EXPECT_EQ(error_of(from_json(
                R"({"payload": {"kernel": "/k"}, "memory": {"size": 1073741824, "hugepages": "on"}})")),
            "memory.hugepages: expected a boolean, got a string");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "disks": {"path": "/a"}})")),
            "disks: expected an array, got an object");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "disks": ["/a"]})")),
            "disks[0]: expected an object, got a string");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "disks": [{"path": "/a", "readonly": 1}]})")),
            "disks[0].readonly: expected a boolean, got 1");
  EXPECT_EQ(error_of(from_json(R"({"payload": "/k"})")), "payload: expected an object, got a string");
  EXPECT_EQ(error_of(from_json(R"([1, 2])")), "expected an object, got an array");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "platform": {"tdx": "on"}})")),
            "platform.tdx: expected a boolean, got a string");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "serial": {"mode": true}})")),
            "serial.mode: expected a string, got a boolean");
}

TEST(JsonTest, RequiredKeys) {
  EXPECT_EQ(error_of(from_json(R"({})")), "payload: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": null})")), "payload: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": {}})")),
            "payload.kernel: required unless payload.firmware is given");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "memory": {"hugepages": true}})")),
            "memory.size: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "cpus": {}})")),
            "cpus.boot_vcpus: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "serial": {"file": "/x"}})")),
            "serial.mode: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "disks": [{"readonly": true}]})")),
            "disks[0].path: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "vsock": {"cid": 3}})")),
            "vsock.socket: required key is missing");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "vsock": {"socket": "/s"}})")),
            "vsock.cid: required key is missing");
}

TEST(JsonTest, BadValues) {
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": ""}})")), "payload.kernel: empty path");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "serial": {"mode": "Pty"}})")),
            "serial.mode: 'Pty' is not supported (expected \"Tty\", \"File\" or \"Off\")");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "serial": {"mode": "tty"}})")),
            "serial.mode: 'tty' is not supported (expected \"Tty\", \"File\" or \"Off\")");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "memory": {"size": 1000}})")),
            "memory.size: 1000 bytes is below the minimum of 32 MiB");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": 0}})")),
            "cpus.boot_vcpus: 0 is out of range (1 to 255)");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k", "host_data": "zz"}})")),
            "payload.host_data: 'zz' is neither 64 hex digits nor base64 of 32 bytes");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"},
                                   "platform": {"sev_snp": true, "snp_policy": "0x3g"}})")),
            "platform.snp_policy: '0x3g' is not a hex number");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"},
                                   "platform": {"sev_snp": true, "snp_policy": 65536}})")),
            "platform.snp_policy: 0x10000 has bit 17 clear (reserved, must be 1)");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"},
                                   "platform": {"sev_snp": true, "tdx": true}})")),
            "platform: tdx and sev_snp are mutually exclusive");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k", "host_data": ")" +
                               std::string(64, '0') + R"("}})")),
            "payload.host_data: needs platform.sev_snp");
  // A numeric policy works as well as a hex string.
  auto numeric = from_json(R"({"payload": {"kernel": "/k"},
                               "platform": {"sev_snp": true, "snp_policy": 196608}})");
  ASSERT_TRUE(numeric) << numeric.error().message();
  EXPECT_EQ(numeric->platform.snp_policy, 0x30000u);
}

TEST(JsonTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "payload": {"kernel": "/j"}})")),
            "payload: duplicate key");
  EXPECT_EQ(error_of(from_json(
                R"({"payload": {"kernel": "/k"}, "memory": {"size": 1073741824, "size": 2}})")),
            "memory.size: duplicate key");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "disks": [{"path": "/a"},
                                   {"path": "/b", "id": "x", "id": "y"}]})")),
            "disks[1].id: duplicate key");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "x": [[1, {"a": 1}], {"b": {"c": 1, "c": 2}}]})",
                               JsonOptions{.ignore_unknown_keys = true})),
            "x[1].b.c: duplicate key");
  // The same key in sibling objects is fine.
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "disks": [{"path": "/a"},
                                   {"path": "/b"}], "vsock": {"cid": 3, "socket": "/s"}})")),
            "<ok>");
}

TEST(JsonTest, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(error_of(from_json("{\n  \"payload\": {\"kernel\": \"/k\",}\n}")),
            "invalid JSON at line 2, column 30: syntax error");
  EXPECT_EQ(error_of(from_json("")), "invalid JSON at line 1, column 1: incomplete JSON");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}} x)")),
            "invalid JSON at line 1, column 31: extra data");
  EXPECT_EQ(error_of(from_json("{\"payload\": {\"kernel\": \"/k\"}} \n")), "<ok>");
  EXPECT_EQ(error_of(from_json("// comment\n{}")), "invalid JSON at line 1, column 1: syntax error");
}

TEST(JsonTest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto result = config_from_json(deep);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
}

// The body Kata's Go clh driver sends for a TDX pod (runtime-integration.md §1.4).
constexpr std::string_view kKataTdxBody = R"({
  "payload": {"kernel": "/opt/kata/vmlinux.container", "firmware": "/opt/kata/td-shim.bin",
              "cmdline": "root=/dev/vda1 panic=1"},
  "cpus": {"boot_vcpus": 1, "max_vcpus": 16, "kvm_hyperv": false, "nested": true,
           "topology": {"threads_per_core": 1, "cores_per_die": 16, "dies_per_package": 1,
                        "packages": 1}},
  "memory": {"size": 2147483648, "shared": false, "hugepages": false, "mergeable": false,
             "hotplug_method": "Acpi", "prefault": false, "thp": true},
  "platform": {"num_pci_segments": 2, "tdx": true, "sev_snp": false},
  "disks": [{"path": "/opt/kata/kata-containers-confidential.img", "readonly": true,
             "image_type": "Raw", "direct": false, "iommu": false, "num_queues": 1,
             "queue_size": 128, "vhost_user": false, "backing_files": false, "sparse": true}],
  "rng": {"src": "/dev/urandom", "iommu": false},
  "serial": {"mode": "Off", "iommu": false},
  "console": {"mode": "Off", "iommu": false},
  "vsock": {"cid": 3, "socket": "/run/vc/vm/id/clh.sock", "iommu": false},
  "iommu": false, "watchdog": false, "pvpanic": false, "landlock_enable": false
})";

TEST(JsonTest, KataBodyNeedsIgnoreUnknownKeys) {
  // Top-level keys are checked before nested ones.
  EXPECT_EQ(error_of(from_json(kKataTdxBody)), "rng: unknown key");
  auto config = from_json(kKataTdxBody, JsonOptions{.ignore_unknown_keys = true});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.kernel, "/opt/kata/vmlinux.container");
  EXPECT_EQ(config->payload.firmware, "/opt/kata/td-shim.bin");
  EXPECT_EQ(config->cpus.boot_vcpus, 1u);
  EXPECT_EQ(config->memory.size_bytes, uint64_t{2} << 30);
  EXPECT_EQ(config->platform.tee, TeeKind::kTdx);
  ASSERT_EQ(config->disks.size(), 1u);
  EXPECT_TRUE(config->disks[0].readonly);
  EXPECT_EQ(config->serial.mode, SerialMode::kOff);
  EXPECT_EQ(config->vsock->socket, "/run/vc/vm/id/clh.sock");
}

TEST(JsonTest, IgnoreUnknownKeysStillChecksKnownOnes) {
  const JsonOptions lenient{.ignore_unknown_keys = true};
  EXPECT_EQ(error_of(from_json(R"({"payload": {"kernel": "/k"}, "memory": {"size": true}})",
                               lenient)),
            "memory.size: expected an unsigned integer, got a boolean");
}

TEST(JsonTest, ValueOverloadReadsAParsedDocument) {
  const boost::json::value document = boost::json::parse(R"({"payload": {"kernel": "/k"}})");
  auto config = config_from_json_value(document);
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.kernel, "/k");
  EXPECT_EQ(config_to_json_value(*config).as_object().at("payload").as_object().at("kernel"),
            "/k");
}

}  // namespace
}  // namespace cvm::vmm::config
