// SPDX-License-Identifier: Apache-2.0
// serve_api end to end over a real Unix socket, with a fake VM: Kata's clh call sequence
// byte for byte (runtime-integration.md §1.3, §1.5, §1.8) and every way the server ends.
#include "vmm/api/serve_api.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <future>
#include <string>

#include "tests/unit/api/api_client.h"
#include "tests/unit/api/fake_vm.h"

namespace cvm::vmm::api {
namespace {

namespace json = boost::json;
using testing::ApiClient;
using testing::FakeLog;
using testing::FakeVm;

constexpr std::string_view kConfig = R"({"payload": {"kernel": "/opt/kata/vmlinux",
    "cmdline": "console=hvc0"}, "cpus": {"boot_vcpus": 1, "max_vcpus": 8},
    "memory": {"size": 268435456, "shared": true}, "serial": {"mode": "Off"},
    "console": {"mode": "Off"}, "rng": {"src": "/dev/urandom"}, "watchdog": false})";

class ServeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_path_ = ::testing::TempDir() + "cvmm_api_" + std::to_string(::getpid()) + "_" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sock";
    ::unlink(socket_path_.c_str());
  }
  void start() {
    result_ = std::async(std::launch::async, [this] {
      return serve_api(ServeApiOptions{.socket_path = socket_path_, .verbosity = 1,
                                       .version = "9.9.9"},
                       [this](const VmConfig& config) -> Result<std::unique_ptr<VmInstance>> {
                         std::lock_guard lock(log_.mutex);
                         ++log_.created;
                         log_.configs.push_back(config);
                         auto vm = std::make_unique<FakeVm>(log_);
                         vm_ = vm.get();
                         return std::unique_ptr<VmInstance>(std::move(vm));
                       });
    });
  }
  /// The server's exit status, or -1000 for an error, -1001 if it does not end in 10 s.
  int finished() {
    if (result_.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return -1001;
    }
    auto result = result_.get();
    if (!result) {
      error_ = result.error().message();
      return -1000;
    }
    return *result;
  }
  bool socket_exists() const {
    struct stat st{};
    return ::lstat(socket_path_.c_str(), &st) == 0;
  }

  std::string socket_path_;
  FakeLog log_;
  FakeVm* vm_ = nullptr;
  std::future<Result<int>> result_;
  std::string error_;
};

TEST_F(ServeApiTest, KataSequenceOnOneKeptAliveConnection) {
  start();
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value());

  auto ping = client->call("GET", "vmm.ping");
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->status, 200u);
  EXPECT_TRUE(ping->head.starts_with("HTTP/1.1 200 OK\r\n")) << ping->head;
  EXPECT_NE(ping->head.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(json::parse(ping->body).at("version").as_string(), "9.9.9");

  auto created = client->call("PUT", "vm.create", kConfig);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->status, 204u);
  // 204: no body and no Content-Length (§1.8).
  EXPECT_EQ(created->head, "HTTP/1.1 204 No Content\r\n\r\n");

  auto info = client->call("GET", "vm.info");
  ASSERT_TRUE(info.has_value());
  ASSERT_EQ(info->status, 200u) << info->body;
  EXPECT_EQ(json::parse(info->body).at("state").as_string(), "Created");

  auto booted = client->call("PUT", "vm.boot");
  ASSERT_TRUE(booted.has_value());
  EXPECT_EQ(booted->status, 204u);
  info = client->call("GET", "vm.info");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(json::parse(info->body).at("state").as_string(), "Running");

  // A second connection while the first stays open (the shim's monitor pings meanwhile).
  auto monitor = ApiClient::connect(socket_path_);
  ASSERT_TRUE(monitor.has_value());
  auto monitor_ping = monitor->call("GET", "vmm.ping");
  ASSERT_TRUE(monitor_ping.has_value());
  EXPECT_EQ(monitor_ping->status, 200u);

  auto shutdown = client->call("PUT", "vmm.shutdown");
  ASSERT_TRUE(shutdown.has_value());
  EXPECT_EQ(shutdown->status, 204u);
  EXPECT_EQ(finished(), 0) << error_;
  EXPECT_EQ(log_.created, 1);
  EXPECT_EQ(log_.started, 1);
  ASSERT_EQ(log_.stop_reasons.size(), 1u);
  EXPECT_EQ(log_.stop_reasons[0], "stopped by vmm.shutdown");
  EXPECT_EQ(log_.finished, 1);
  EXPECT_FALSE(socket_exists());  // the server removed its socket
}

TEST_F(ServeApiTest, ErrorsCarryTheirTextAndTheConnectionStaysUsable) {
  start();
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value());
  auto bad = client->call("PUT", "vm.create", R"({"payload": {"kernel": "/k"}, "fs": [{}]})");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400u);
  EXPECT_TRUE(bad->head.starts_with("HTTP/1.1 400 Bad Request\r\n")) << bad->head;
  EXPECT_NE(bad->body.find("fs: virtio-fs is not supported"), std::string::npos) << bad->body;
  auto unsupported = client->call("PUT", "vm.resize", R"({"desired_vcpus": 2})");
  ASSERT_TRUE(unsupported.has_value());
  EXPECT_EQ(unsupported->status, 501u);
  auto ping = client->call("GET", "vmm.ping");
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->status, 200u);
  ASSERT_TRUE(client->call("PUT", "vmm.shutdown").has_value());
  EXPECT_EQ(finished(), 0) << error_;
  EXPECT_EQ(log_.created, 0);
}

TEST_F(ServeApiTest, TheVmsOwnEndEndsTheServerWithItsStatus) {
  start();
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value());
  ASSERT_EQ(client->call("PUT", "vm.create", kConfig)->status, 204u);
  ASSERT_EQ(client->call("PUT", "vm.boot")->status, 204u);
  ASSERT_NE(vm_, nullptr);
  vm_->request_stop(3, "guest failed");  // as a vCPU thread would
  EXPECT_EQ(finished(), 3) << error_;
  EXPECT_EQ(log_.finished, 1);
  EXPECT_FALSE(socket_exists());
}

TEST_F(ServeApiTest, SigtermStopsTheVmAndEndsTheServer) {
  start();
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value());
  ASSERT_EQ(client->call("PUT", "vm.create", kConfig)->status, 204u);
  ASSERT_EQ(client->call("PUT", "vm.boot")->status, 204u);
  // serve_api blocks SIGTERM in its own thread and reads it from a signalfd. Blocked here as
  // well, no thread takes the process-directed signal, so it stays pending until the
  // server's signalfd reads it, as in cvmm, where every thread has it blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &set, nullptr), 0);
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  EXPECT_EQ(finished(), 0) << error_;
  ASSERT_EQ(log_.stop_reasons.size(), 1u);
  EXPECT_EQ(log_.stop_reasons[0], "stopped by signal SIGTERM");
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &set, nullptr), 0);
}

TEST_F(ServeApiTest, ASocketPathInUseIsAnError) {
  start();
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value());
  // A second server on the same path: the first one still listens there.
  auto second = serve_api(ServeApiOptions{.socket_path = socket_path_, .version = "1"},
                          [](const VmConfig&) -> Result<std::unique_ptr<VmInstance>> {
                            return make_error(ErrorCode::kInternal, "unused");
                          });
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find(socket_path_), std::string::npos)
      << second.error().message();
  EXPECT_TRUE(socket_exists());  // the live server's socket was left alone
  ASSERT_TRUE(client->call("PUT", "vmm.shutdown").has_value());
  EXPECT_EQ(finished(), 0) << error_;
}

}  // namespace
}  // namespace cvm::vmm::api
