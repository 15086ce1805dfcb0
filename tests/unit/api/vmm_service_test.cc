// SPDX-License-Identifier: Apache-2.0
// VmmService: Cloud Hypervisor's API routes and the VM lifecycle as Kata's clh driver drives
// them (runtime-integration.md §1.3-§1.5), with a fake VM in place of the machine.
#include "vmm/api/vmm_service.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/api/fake_vm.h"

namespace cvm::vmm::api {
namespace {

namespace json = boost::json;
using testing::FakeLog;
using testing::FakeVm;

bool readable(int fd) {
  uint64_t value = 0;
  // The fake's eventfd is blocking: only read what poll says is there.
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && ::read(fd, &value, sizeof(value)) == sizeof(value);
}

bool is_ascii(const std::string& text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return false;
    }
  }
  return true;
}

// What Kata's Go clh driver sends for a 1-vCPU, 2 GiB TDX pod (runtime-integration.md §1.4),
// every default-valued field included.
constexpr std::string_view kKataTdxConfig = R"({
  "payload": {"kernel": "/opt/kata/share/kata-containers/vmlinux.container",
              "firmware": "/opt/kata/share/td-shim/td-shim.bin",
              "cmdline": "root=/dev/vda1 ro rootfstype=ext4 panic=1 no_timer_check noreplace-smp quiet"},
  "cpus": {"boot_vcpus": 1, "max_vcpus": 16, "kvm_hyperv": false, "nested": true,
           "topology": {"threads_per_core": 1, "cores_per_die": 16, "dies_per_package": 1, "packages": 1}},
  "memory": {"size": 2147483648, "shared": false, "hugepages": false, "mergeable": false,
             "hotplug_method": "Acpi", "prefault": false, "thp": true},
  "platform": {"num_pci_segments": 2, "tdx": true, "sev_snp": false},
  "disks": [{"path": "/opt/kata/share/kata-containers/kata-containers-confidential.img",
             "readonly": true, "image_type": "Raw", "direct": false, "iommu": false,
             "num_queues": 1, "queue_size": 128, "vhost_user": false,
             "backing_files": false, "sparse": true}],
  "rng": {"src": "/dev/urandom", "iommu": false},
  "serial": {"mode": "Off", "iommu": false},
  "console": {"mode": "Off", "iommu": false},
  "vsock": {"cid": 3, "socket": "/run/vc/vm/sandbox/clh.sock", "iommu": false},
  "iommu": false, "watchdog": false, "pvpanic": false, "landlock_enable": false
})";

constexpr std::string_view kPlainConfig = R"({
  "payload": {"kernel": "/boot/vmlinux", "cmdline": "console=ttyS0"},
  "cpus": {"boot_vcpus": 2},
  "memory": {"size": 536870912},
  "serial": {"mode": "Off"}
})";

class VmmServiceTest : public ::testing::Test {
 protected:
  VmmServiceTest()
      : service_(
            [this](const VmConfig& config) -> Result<std::unique_ptr<VmInstance>> {
              ++log_.created;
              log_.configs.push_back(config);
              if (log_.fail_create) {
                return make_error(ErrorCode::kNotSupportedByHost, "/dev/kvm is absent");
              }
              auto vm = std::make_unique<FakeVm>(log_);
              last_vm_ = vm.get();
              return std::unique_ptr<VmInstance>(std::move(vm));
            },
            VmmService::Info{.version = "1.2.3"}) {}

  ApiReply get(std::string_view endpoint) {
    return service_.handle("GET", "/api/v1/" + std::string(endpoint), "");
  }
  ApiReply put(std::string_view endpoint, std::string_view body = "") {
    return service_.handle("PUT", "/api/v1/" + std::string(endpoint), body);
  }
  json::object info() {
    const ApiReply reply = get("vm.info");
    EXPECT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(reply.content_type, "application/json");
    return json::parse(reply.body).as_object();
  }

  FakeLog log_;
  FakeVm* last_vm_ = nullptr;
  VmmService service_;
};

TEST_F(VmmServiceTest, PingAnswersVersionPidAndTdxFeature) {
  const ApiReply reply = get("vmm.ping");
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type, "application/json");
  const json::object ping = json::parse(reply.body).as_object();
  EXPECT_EQ(ping.at("version").as_string(), "1.2.3");
  EXPECT_EQ(ping.at("build_version").as_string(), "cvmm 1.2.3");
  EXPECT_EQ(ping.at("pid").as_int64(), ::getpid());
  const json::array& features = ping.at("features").as_array();
  // runtime-rs refuses to start a TD unless "tdx" is listed (§1.9).
  EXPECT_NE(std::find(features.begin(), features.end(), json::value("tdx")), features.end());
}

TEST_F(VmmServiceTest, WrongMethodUnknownPathAndUnsupportedEndpoints) {
  EXPECT_EQ(service_.handle("PUT", "/api/v1/vmm.ping", "").status, 405u);
  EXPECT_EQ(service_.handle("GET", "/api/v1/vm.create", "").status, 405u);
  EXPECT_EQ(service_.handle("GET", "/api/v1/vm.flyaway", "").status, 404u);
  EXPECT_EQ(service_.handle("GET", "/vmm.ping", "").status, 404u);
  const ApiReply add_net = put("vm.add-net", R"({"mac": "12:34:56:78:9a:bc"})");
  EXPECT_EQ(add_net.status, 501u);
  EXPECT_NE(add_net.body.find("virtio-net"), std::string::npos) << add_net.body;
  EXPECT_EQ(put("vm.resize", R"({"desired_vcpus": 4})").status, 501u);
  EXPECT_EQ(put("vm.add-disk", "{}").status, 501u);
  EXPECT_EQ(service_.state(), VmState::kNotCreated);
}

TEST_F(VmmServiceTest, KataTdxSequenceCreateInfoBoot) {
  EXPECT_EQ(get("vm.info").status, 409u);  // nothing created yet
  const ApiReply created = put("vm.create", kKataTdxConfig);
  ASSERT_EQ(created.status, 204u) << created.body;
  EXPECT_TRUE(created.body.empty());
  EXPECT_EQ(service_.state(), VmState::kCreated);
  EXPECT_EQ(log_.created, 0);  // vm.create only stores the configuration

  json::object vm_info = info();
  EXPECT_EQ(vm_info.at("state").as_string(), "Created");
  const json::object& config = vm_info.at("config").as_object();
  EXPECT_EQ(config.at("memory").at("size").to_number<uint64_t>(), 2147483648u);
  EXPECT_EQ(config.at("cpus").at("boot_vcpus").to_number<unsigned>(), 1u);
  // No CPU hot-plug: the maximum Kata may resize to is what boots.
  EXPECT_EQ(config.at("cpus").at("max_vcpus").to_number<unsigned>(), 1u);
  EXPECT_FALSE(config.at("memory").as_object().contains("hotplug_size"));
  EXPECT_EQ(vm_info.at("memory_actual_size").to_number<uint64_t>(), 2147483648u);

  const ApiReply booted = put("vm.boot");
  ASSERT_EQ(booted.status, 204u) << booted.body;
  ASSERT_EQ(log_.created, 1);
  EXPECT_EQ(log_.started, 1);
  EXPECT_EQ(log_.configs[0].platform.tee, TeeKind::kTdx);
  EXPECT_EQ(log_.configs[0].payload.firmware, "/opt/kata/share/td-shim/td-shim.bin");
  ASSERT_EQ(log_.configs[0].disks.size(), 1u);
  EXPECT_TRUE(log_.configs[0].disks[0].readonly);
  ASSERT_TRUE(log_.configs[0].vsock.has_value());
  EXPECT_EQ(log_.configs[0].vsock->socket, "/run/vc/vm/sandbox/clh.sock");
  EXPECT_EQ(info().at("state").as_string(), "Running");
  EXPECT_GE(service_.vm_stop_fd(), 0);
  EXPECT_EQ(put("vm.boot").status, 409u);  // already running
  EXPECT_EQ(put("vm.create", kPlainConfig).status, 409u);  // one VM per process
}

TEST_F(VmmServiceTest, CreateRejectsBadInputAndKeepsNoState) {
  EXPECT_EQ(put("vm.create").status, 400u);
  const ApiReply syntax = put("vm.create", "{\"payload\": ");
  EXPECT_EQ(syntax.status, 400u);
  EXPECT_NE(syntax.body.find("line"), std::string::npos) << syntax.body;
  const ApiReply invalid = put("vm.create", R"({"payload": {"kernel": "/k"},
      "memory": {"size": 4096}})");
  EXPECT_EQ(invalid.status, 400u);
  EXPECT_NE(invalid.body.find("memory.size"), std::string::npos) << invalid.body;
  const ApiReply wrong_type = put("vm.create", R"({"payload": {"kernel": "/k"},
      "cpus": {"boot_vcpus": "two"}})");
  EXPECT_EQ(wrong_type.status, 400u);
  EXPECT_NE(wrong_type.body.find("cpus.boot_vcpus"), std::string::npos) << wrong_type.body;
  EXPECT_EQ(service_.state(), VmState::kNotCreated);
  EXPECT_EQ(put("vm.create", kPlainConfig).status, 204u);  // still possible afterwards
}

TEST_F(VmmServiceTest, CreateRefusesWhatItCannotGiveTheGuest) {
  const auto refused = [&](std::string_view extra, std::string_view expected) {
    const std::string body = std::string(R"({"payload": {"kernel": "/k"}, )") +
                             std::string(extra) + "}";
    const ApiReply reply = put("vm.create", body);
    EXPECT_EQ(reply.status, 400u) << extra;
    EXPECT_NE(reply.body.find(expected), std::string::npos) << reply.body;
  };
  refused(R"("fs": [{"tag": "kataShared", "socket": "/run/virtiofsd.sock"}])", "fs: virtio-fs");
  refused(R"("net": [{"mac": "12:34:56:78:9a:bc"}])", "net: virtio-net");
  refused(R"("devices": [{"path": "/sys/bus/pci/devices/0000:01:00.0"}])", "devices:");
  refused(R"("iommu": true)", "iommu:");
  refused(R"("disks": [{"path": "/d.img", "vhost_user": true}])", "disks[0].vhost_user");
  refused(R"("disks": [{"path": "/d.img"}, {"path": "/e.qcow2", "image_type": "Qcow2"}])",
          "disks[1].image_type");
  const ApiReply igvm = put("vm.create", R"({"payload": {"kernel": "/k", "igvm": "/x.igvm"}})");
  EXPECT_EQ(igvm.status, 400u);
  EXPECT_NE(igvm.body.find("payload.igvm"), std::string::npos) << igvm.body;
  EXPECT_EQ(service_.state(), VmState::kNotCreated);
  // Defaults and empty lists that Kata always sends are fine.
  EXPECT_EQ(put("vm.create", R"({"payload": {"kernel": "/k"}, "fs": null, "net": [],
      "devices": [], "iommu": false, "disks": [{"path": "/d.img", "image_type": "Raw",
      "vhost_user": false}]})").status, 204u);
}

TEST_F(VmmServiceTest, BootBeforeCreateAndFailedBootsLeaveTheVmCreated) {
  EXPECT_EQ(put("vm.boot").status, 409u);
  ASSERT_EQ(put("vm.create", kPlainConfig).status, 204u);

  log_.fail_create = true;
  const ApiReply no_kvm = put("vm.boot");
  EXPECT_EQ(no_kvm.status, 500u);
  EXPECT_NE(no_kvm.body.find("/dev/kvm is absent"), std::string::npos) << no_kvm.body;
  EXPECT_EQ(service_.state(), VmState::kCreated);
  EXPECT_EQ(service_.vm_stop_fd(), -1);

  log_.fail_create = false;
  log_.fail_start = true;
  EXPECT_EQ(put("vm.boot").status, 500u);
  EXPECT_EQ(log_.stop_reasons.size(), 1u);  // what had started was stopped and joined
  EXPECT_EQ(log_.finished, 1);
  EXPECT_EQ(service_.state(), VmState::kCreated);

  log_.fail_start = false;
  EXPECT_EQ(put("vm.boot").status, 204u);
  EXPECT_EQ(service_.state(), VmState::kRunning);
  EXPECT_FALSE(service_.exit_requested());
}

TEST_F(VmmServiceTest, VmmShutdownStopsTheVmAndEndsTheProcess) {
  ASSERT_EQ(put("vm.create", kPlainConfig).status, 204u);
  ASSERT_EQ(put("vm.boot").status, 204u);
  FakeVm* vm = last_vm_;
  const int stop_fd = service_.vm_stop_fd();
  EXPECT_FALSE(readable(stop_fd));
  const ApiReply reply = put("vmm.shutdown");
  EXPECT_EQ(reply.status, 204u);
  EXPECT_TRUE(reply.body.empty());
  ASSERT_EQ(log_.stop_reasons.size(), 1u);
  EXPECT_EQ(log_.stop_reasons[0], "stopped by vmm.shutdown");
  EXPECT_EQ(log_.finished, 1);
  EXPECT_TRUE(service_.exit_requested());
  EXPECT_EQ(service_.exit_status(), 0);
  EXPECT_EQ(service_.vm_stop_fd(), -1);
  (void)vm;
}

TEST_F(VmmServiceTest, VmmShutdownWithoutAVmEndsTheProcess) {
  EXPECT_EQ(put("vmm.shutdown").status, 204u);
  EXPECT_TRUE(service_.exit_requested());
  EXPECT_EQ(service_.exit_status(), 0);
  EXPECT_EQ(log_.created, 0);
}

TEST_F(VmmServiceTest, GuestStopEndsTheProcessWithTheVmStatus) {
  ASSERT_EQ(put("vm.create", kPlainConfig).status, 204u);
  ASSERT_EQ(put("vm.boot").status, 204u);
  last_vm_->request_stop(1, "triple fault");  // what a vCPU thread would do
  ASSERT_TRUE(readable(service_.vm_stop_fd()));
  service_.on_vm_stopped();
  EXPECT_TRUE(service_.exit_requested());
  EXPECT_EQ(service_.exit_status(), 1);
  EXPECT_EQ(log_.finished, 1);
}

TEST_F(VmmServiceTest, SignalStopsTheRunningVm) {
  ASSERT_EQ(put("vm.create", kPlainConfig).status, 204u);
  ASSERT_EQ(put("vm.boot").status, 204u);
  service_.on_signal("SIGTERM");
  ASSERT_EQ(log_.stop_reasons.size(), 1u);
  EXPECT_EQ(log_.stop_reasons[0], "stopped by signal SIGTERM");
  EXPECT_TRUE(service_.exit_requested());
  EXPECT_EQ(service_.exit_status(), 0);
}

TEST_F(VmmServiceTest, DestroyingTheServiceStopsARunningVm) {
  FakeLog log;
  {
    VmmService service(
        [&](const VmConfig&) -> Result<std::unique_ptr<VmInstance>> {
          return std::unique_ptr<VmInstance>(std::make_unique<FakeVm>(log));
        },
        VmmService::Info{.version = "1"});
    ASSERT_EQ(service.handle("PUT", "/api/v1/vm.create", kPlainConfig).status, 204u);
    ASSERT_EQ(service.handle("PUT", "/api/v1/vm.boot", "").status, 204u);
  }
  EXPECT_EQ(log.stop_reasons.size(), 1u);
  EXPECT_EQ(log.finished, 1);
}

TEST_F(VmmServiceTest, RepliesAreAscii) {
  // Non-ASCII text travels back in errors and in vm.info.
  const ApiReply error = put("vm.create", "{\"payload\": {\"kernel\": \"/k\"}, "
                                          "\"disks\": [{\"path\": \"/d\", "
                                          "\"image_type\": \"Qcow\xc3\xa9\"}]}");
  EXPECT_EQ(error.status, 400u);
  EXPECT_TRUE(is_ascii(error.body)) << error.body;
  EXPECT_NE(error.body.find("Qcow??"), std::string::npos) << error.body;
  const std::string body = "{\"payload\": {\"kernel\": \"/k\\u00e9rnel\"}, "
                           "\"disks\": [{\"path\": \"/d\\ud83d\\ude00.img\"}]}";
  ASSERT_EQ(put("vm.create", body).status, 204u);
  const ApiReply reply = get("vm.info");
  EXPECT_TRUE(is_ascii(reply.body)) << reply.body;
  const json::object vm_info = json::parse(reply.body).as_object();
  EXPECT_EQ(vm_info.at("config").at("payload").at("kernel").as_string(), "/k\xc3\xa9rnel");
  EXPECT_EQ(vm_info.at("config").at("disks").at(0).at("path").as_string(),
            "/d\xf0\x9f\x98\x80.img");
}

TEST(AsciiJsonTest, EscapesEveryNonAsciiCharacter) {
  EXPECT_EQ(ascii_json(json::value("caf\xc3\xa9")), "\"caf\\u00e9\"");
  EXPECT_EQ(ascii_json(json::value("\xf0\x9f\x98\x80")), "\"\\ud83d\\ude00\"");
  EXPECT_EQ(ascii_json(json::value("a\xff" "b")), "\"a\\ufffdb\"");
  EXPECT_EQ(ascii_json(json::value("\xe2\x82")), "\"\\ufffd\\ufffd\"");  // truncated
  EXPECT_EQ(ascii_json(json::value("\xc0\xaf")), "\"\\ufffd\\ufffd\"");  // overlong '/'
  EXPECT_EQ(ascii_json(json::value("\xed\xa0\x80")), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(ascii_json(json::object{{"k", 1}}), "{\"k\":1}");
}

}  // namespace
}  // namespace cvm::vmm::api
