// SPDX-License-Identifier: Apache-2.0
// The cvmm command line with a fake VMM: exit statuses, one-line errors, what reaches run_vm.
#include "tools/cvmm/cvmm_main.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "cvmm_version.h"

namespace cvm::tools {
namespace {

class CvmmMainTest : public ::testing::Test {
 protected:
  int run(std::initializer_list<std::string_view> args) {
    const std::vector<std::string_view> list(args);
    CvmmHooks hooks{
        .run_vm =
            [this](const vmm::VmConfig& config) -> Result<int> {
          last_config_ = config;
          return vm_result_;
        },
        .host_check = [this](std::ostream& out) {
          out << "plain    available\n";
          return host_check_status_;
        },
        .read_config_file = [this](const std::string& path) -> Result<std::string> {
          auto it = files_.find(path);
          if (it == files_.end()) {
            return make_error(ErrorCode::kNotFound, "{}: No such file or directory", path);
          }
          return it->second;
        },
        .serve_api = [this](const ApiArgs& api) -> Result<int> {
          last_api_ = api;
          return api_result_;
        },
    };
    return cvmm_main(list, hooks, out_, err_);
  }

  std::optional<vmm::VmConfig> last_config_;
  std::optional<ApiArgs> last_api_;
  Result<int> api_result_ = 0;
  Result<int> vm_result_ = 0;
  int host_check_status_ = 0;
  std::map<std::string, std::string> files_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CvmmMainTest, VersionPrintsOneLine) {
  EXPECT_EQ(run({"--version"}), 0);
  EXPECT_EQ(out_.str(), std::string("cvmm ") + CVMM_VERSION + "\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CvmmMainTest, HelpGoesToStdout) {
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out_.str().find("cvmm run --config FILE"), std::string::npos);
  EXPECT_EQ(err_.str(), "");
  std::ostringstream().swap(out_);
  EXPECT_EQ(run({"run", "--help"}), 0);
  EXPECT_NE(out_.str().find("--vsock cid=N,socket=PATH"), std::string::npos);
  EXPECT_FALSE(last_config_);
}

TEST_F(CvmmMainTest, NoArgumentsIsAUsageError) {
  EXPECT_EQ(run({}), kExitUsageError);
  EXPECT_NE(err_.str().find("usage: cvmm run"), std::string::npos);
}

TEST_F(CvmmMainTest, UnknownCommandIsOneLine) {
  EXPECT_EQ(run({"start"}), kExitUsageError);
  EXPECT_EQ(err_.str(), "cvmm: unknown command 'start' (see 'cvmm --help')\n");
}

TEST_F(CvmmMainTest, BadFlagIsOneLineAndExitTwo) {
  EXPECT_EQ(run({"run", "--kernel", "/k", "--memory", "size=lots"}), kExitUsageError);
  EXPECT_EQ(err_.str(),
            "cvmm: --memory size: 'lots' is not a size (expected bytes or a number with K, M or "
            "G)\n");
  EXPECT_FALSE(last_config_);
}

TEST_F(CvmmMainTest, InvalidConfigIsExitTwo) {
  EXPECT_EQ(run({"run", "--kernel", "/k", "--cpus", "boot=0"}), kExitUsageError);
  EXPECT_EQ(err_.str(), "cvmm: --cpus boot: 0 is out of range (1 to 255)\n");
  EXPECT_FALSE(last_config_);
}

TEST_F(CvmmMainTest, RunPassesTheConfigAndReturnsTheGuestStatus) {
  vm_result_ = 7;
  EXPECT_EQ(run({"run", "--kernel", "/k", "--cpus", "boot=2"}), 7);
  ASSERT_TRUE(last_config_);
  EXPECT_EQ(last_config_->payload.kernel, "/k");
  EXPECT_EQ(last_config_->cpus.boot_vcpus, 2u);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CvmmMainTest, VmErrorIsOneLineAndExitOne) {
  vm_result_ = make_error(ErrorCode::kNotFound, "kernel /k: No such file\nor directory");
  EXPECT_EQ(run({"run", "--kernel", "/k"}), kExitRuntimeError);
  EXPECT_EQ(err_.str(), "cvmm: kernel /k: No such file or directory\n");
}

TEST_F(CvmmMainTest, ConfigFileIsParsedAndValidated) {
  files_["/vm.json"] = R"({"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": 3}})";
  EXPECT_EQ(run({"run", "--config", "/vm.json"}), 0);
  ASSERT_TRUE(last_config_);
  EXPECT_EQ(last_config_->cpus.boot_vcpus, 3u);
}

TEST_F(CvmmMainTest, ConfigFileErrorsNameTheFile) {
  files_["/bad.json"] = R"({"payload": {"kernel": "/k"}, "memory": {"sise": 1}})";
  EXPECT_EQ(run({"run", "--config=/bad.json"}), kExitUsageError);
  EXPECT_EQ(err_.str(), "cvmm: /bad.json: memory.sise: unknown key\n");
  std::ostringstream().swap(err_);
  files_["/small.json"] = R"({"payload": {"kernel": "/k"}, "memory": {"size": 4096}})";
  EXPECT_EQ(run({"run", "--config=/small.json"}), kExitUsageError);
  EXPECT_EQ(err_.str(), "cvmm: /small.json: memory.size: 4 KiB is below the minimum of 32 MiB\n");
  EXPECT_FALSE(last_config_);
}

TEST_F(CvmmMainTest, MissingConfigFileIsExitOne) {
  EXPECT_EQ(run({"run", "--config", "/nope.json"}), kExitRuntimeError);
  EXPECT_EQ(err_.str(), "cvmm: /nope.json: No such file or directory\n");
}

TEST_F(CvmmMainTest, HostCheckPrintsTheReportAndReturnsItsStatus) {
  EXPECT_EQ(run({"host-check"}), 0);
  EXPECT_EQ(out_.str(), "plain    available\n");
  host_check_status_ = kExitRuntimeError;
  EXPECT_EQ(run({"host-check"}), kExitRuntimeError);
}

TEST_F(CvmmMainTest, HostCheckTakesNoArguments) {
  EXPECT_EQ(run({"host-check", "--tdx"}), kExitUsageError);
  EXPECT_EQ(err_.str(), "cvmm: host-check takes no arguments (got '--tdx')\n");
}

// How Kata's clh drivers start the VMM (runtime-integration.md §1.2, §1.9).
TEST_F(CvmmMainTest, ApiSocketAsKataStartsIt) {
  EXPECT_EQ(run({"--api-socket", "/run/vc/vm/id/clh-api.sock"}), 0);
  ASSERT_TRUE(last_api_.has_value());
  EXPECT_EQ(last_api_->socket_path, "/run/vc/vm/id/clh-api.sock");
  EXPECT_EQ(last_api_->verbosity, 0);
  EXPECT_EQ(run({"--api-socket", "/a.sock", "-vv", "--seccomp", "false"}), 0);
  EXPECT_EQ(last_api_->socket_path, "/a.sock");
  EXPECT_EQ(last_api_->verbosity, 2);
  EXPECT_EQ(run({"-v", "--api-socket=path=/b.sock", "-v", "--seccomp=false"}), 0);
  EXPECT_EQ(last_api_->socket_path, "/b.sock");
  EXPECT_EQ(last_api_->verbosity, 2);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CvmmMainTest, ApiSocketReturnsTheServersStatus) {
  api_result_ = 3;
  EXPECT_EQ(run({"--api-socket", "/a.sock"}), 3);
  api_result_ = make_error(ErrorCode::kIo, "API socket /a.sock is in use by a listening process");
  EXPECT_EQ(run({"--api-socket", "/a.sock"}), 1);
  EXPECT_EQ(err_.str(), "cvmm: API socket /a.sock is in use by a listening process\n");
}

TEST_F(CvmmMainTest, ApiSocketFlagErrorsAreOneLineAndExitTwo) {
  const auto refused = [&](std::initializer_list<std::string_view> args, std::string_view text) {
    std::ostringstream().swap(err_);
    last_api_.reset();
    EXPECT_EQ(run(args), 2);
    EXPECT_FALSE(last_api_.has_value());
    const std::string error = err_.str();
    EXPECT_NE(error.find(text), std::string::npos) << error;
    EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
  };
  refused({"--api-socket"}, "--api-socket needs a value");
  refused({"--api-socket", ""}, "empty path");
  refused({"--api-socket", "fd=3"}, "fd=N is not supported");
  refused({"--api-socket", "/a", "--api-socket", "/b"}, "given twice");
  refused({"--api-socket", "/a", "--seccomp", "true"}, "no seccomp filter");
  refused({"--api-socket", "/a", "--kernel", "/k"}, "'--kernel' cannot be combined");
  refused({"-v"}, "need --api-socket");
  refused({"--api-socketx", "/a"}, "unknown flag '--api-socketx'");
}

}  // namespace
}  // namespace cvm::tools
