// SPDX-License-Identifier: Apache-2.0
// The cvmm binary started the way Kata's clh driver starts it (`--api-socket PATH -v
// --seccomp false`, runtime-integration.md §1.2): readiness ping, vm.create, a vm.boot that
// cannot succeed without a kernel (on every host, with or without /dev/kvm), vm.info,
// vmm.shutdown, and SIGTERM. Exit statuses, stderr lines and the socket file are checked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/api/api_client.h"

namespace cvm::vmm::api {
namespace {

namespace json = boost::json;
using testing::ApiClient;

class CvmmApiBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = ::testing::TempDir() + "cvmm_api_bin_" + std::to_string(::getpid()) +
                             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    socket_path_ = base + ".sock";
    stderr_path_ = base + ".stderr";
    ::unlink(socket_path_.c_str());
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(stderr_path_.c_str());
    ::unlink(socket_path_.c_str());
  }

  void spawn(std::vector<std::string> args) {
    args.insert(args.begin(), CVMM_BINARY);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (err < 0 || null < 0 || ::dup2(err, 2) < 0 || ::dup2(null, 1) < 0 ||
          ::dup2(null, 0) < 0) {
        ::_exit(126);
      }
      std::vector<char*> argv;
      for (std::string& arg : args) {
        argv.push_back(arg.data());
      }
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  /// The exit status, or -1 if the process did not exit within 10 s, -2 if a signal ended it.
  int wait_exit() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool socket_exists() const {
    struct stat st{};
    return ::lstat(socket_path_.c_str(), &st) == 0;
  }

  std::string socket_path_;
  std::string stderr_path_;
  pid_t pid_ = -1;
};

TEST_F(CvmmApiBinaryTest, KataSequenceWithAFailingBootThenShutdown) {
  spawn({"--api-socket", socket_path_, "-v", "--seccomp", "false"});
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value()) << stderr_text();
  auto ping = client->call("GET", "vmm.ping");
  ASSERT_TRUE(ping.has_value());
  ASSERT_EQ(ping->status, 200u);
  EXPECT_EQ(json::parse(ping->body).at("pid").as_int64(), pid_);

  const std::string missing_kernel = socket_path_ + ".no-such-kernel";
  const std::string config = R"({"payload": {"kernel": ")" + missing_kernel +
                             R"("}, "memory": {"size": 268435456}, "serial": {"mode": "Off"}})";
  auto created = client->call("PUT", "vm.create", config);
  ASSERT_TRUE(created.has_value());
  ASSERT_EQ(created->status, 204u) << created->body;

  // Without /dev/kvm the host check fails first; with it, reading the kernel does.
  auto booted = client->call("PUT", "vm.boot");
  ASSERT_TRUE(booted.has_value());
  EXPECT_EQ(booted->status, 500u);
  EXPECT_TRUE(booted->body.find("/dev/kvm") != std::string::npos ||
              booted->body.find(missing_kernel) != std::string::npos)
      << booted->body;

  auto info = client->call("GET", "vm.info");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(json::parse(info->body).at("state").as_string(), "Created");

  auto shutdown = client->call("PUT", "vmm.shutdown");
  ASSERT_TRUE(shutdown.has_value());
  EXPECT_EQ(shutdown->status, 204u);
  EXPECT_EQ(wait_exit(), 0) << stderr_text();
  EXPECT_FALSE(socket_exists());
  const std::string log = stderr_text();
  EXPECT_NE(log.find("cvmm: API listening on " + socket_path_), std::string::npos) << log;
  EXPECT_NE(log.find("cvmm: api: PUT /api/v1/vm.boot: 500: vm.boot: "), std::string::npos)
      << log;
}

TEST_F(CvmmApiBinaryTest, SigtermEndsAnIdleServerCleanly) {
  spawn({"--api-socket", socket_path_});
  auto client = ApiClient::connect(socket_path_);
  ASSERT_TRUE(client.has_value()) << stderr_text();
  ASSERT_EQ(client->call("GET", "vmm.ping")->status, 200u);
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  EXPECT_EQ(wait_exit(), 0) << stderr_text();
  EXPECT_FALSE(socket_exists());
  EXPECT_TRUE(client->closed_by_server());
}

TEST_F(CvmmApiBinaryTest, UnusableSocketPathIsOneLineAndExitOne) {
  const std::string bad = socket_path_ + ".missing-dir/api.sock";
  spawn({"--api-socket", bad});
  EXPECT_EQ(wait_exit(), 1);
  const std::string log = stderr_text();
  EXPECT_TRUE(log.starts_with("cvmm: ")) << log;
  EXPECT_NE(log.find(bad), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

}  // namespace
}  // namespace cvm::vmm::api
