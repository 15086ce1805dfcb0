// SPDX-License-Identifier: Apache-2.0
// Measurement equivalence: the pages the backend actually issued (LAUNCH_UPDATE contents as
// copied from uaddr, in issue order) plus the VMSAs built from the registers it programmed,
// folded with firmware/snp's PAGE_INFO chain, equal cvmm-measure's digest for the same
// configuration. cvmm-measure is run as a program (its real command line, input files written
// here) and, for every configuration, its builder is also called directly.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "base/hex.h"
#include "firmware/snp/cpu_models.h"
#include "firmware/snp/kernel_hashes.h"
#include "firmware/snp/launch_digest.h"
#include "firmware/snp/snp_launch_plan.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/firmware/snp/test_inputs.h"
#include "tests/unit/snp/snp_launch_harness.h"
#include "tests/unit/x86/synthetic_images.h"

namespace cvm::vmm::snp::testing {
namespace {

namespace fw = firmware::snp;

// cvmm-measure snp --firmware OVMF.fd --vcpus 1 --vcpu-type EPYC-v4 --vmm-type qemu|cvmm on
// Debian's OVMF.fd (pinned by tests/unit/firmware/snp, cross-checked with sev-snp-measure).
constexpr const char* kDebianOneVcpu =
    "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3";

// Writes `bytes` to a per-process temporary file and deletes every such file at exit of the
// test's scope.
class TempFiles {
 public:
  TempFiles() = default;
  TempFiles(const TempFiles&) = delete;
  TempFiles& operator=(const TempFiles&) = delete;
  ~TempFiles() {
    for (const std::string& path : paths_) {
      std::remove(path.c_str());
    }
  }
  std::string write(const std::string& name, const std::vector<std::byte>& bytes) {
    // ctest runs each test as its own process, in parallel: the pid keeps their files apart.
    const std::string path =
        fmt::format("{}snp_measure_{}_{}", ::testing::TempDir(), ::getpid(), name);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    paths_.push_back(path);
    return path;
  }

 private:
  std::vector<std::string> paths_;
};

// Runs cvmm-measure and returns its stdout's first line.
std::string run_measure(const std::string& args) {
  const std::string command = std::string(CVMM_MEASURE_BIN) + " snp " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return "popen failed";
  }
  char line[512] = {};
  const bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  ::pclose(pipe);
  std::string text = got ? line : "";
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  return text;
}

// The digest cvmm-measure's builder gives for `config` (vmm type cvmm, EPYC-v4).
std::string builder_digest(const LaunchConfig& config) {
  fw::SnpLaunchInputs inputs;
  inputs.firmware = config.firmware;
  inputs.vcpus = config.vcpus;
  inputs.vmm = fw::VmmType::kCvmm;
  inputs.cpu_signature = fw::find_cpu_model("EPYC-v4")->signature();
  inputs.guest_features = config.platform.snp_vmsa_features.value_or(0) | 1;
  if (config.kernel) {
    inputs.kernel_hashes = fw::compute_kernel_hashes(
        *config.kernel, config.initrd ? *config.initrd : std::vector<std::byte>{}, config.cmdline);
  }
  auto plan = fw::build_snp_launch_plan(inputs);
  return plan ? to_hex(fw::measure_snp(*plan)) : plan.error().message();
}

std::string backend_digest(const LaunchConfig& config) {
  LaunchHarness h;
  auto result = h.run(config);
  if (!result) {
    return result.error().message();
  }
  if (!h.model.violations().empty()) {
    return "ABI violation: " + h.model.violations().front();
  }
  return to_hex(h.model.digest());
}

TEST(SnpMeasurementTest, DebianOvmfMatchesTheReferenceAndCvmmMeasure) {
  LaunchConfig config;
  config.firmware = load_blob(CVMM_OVMF_FD);
  if (!config.firmware) {
    GTEST_SKIP() << CVMM_OVMF_FD << " is absent: install Debian's ovmf package";
  }
  EXPECT_EQ(backend_digest(config), kDebianOneVcpu);
  for (const uint32_t vcpus : {2u, 4u}) {
    config.vcpus = vcpus;
    const std::string measured = run_measure(
        fmt::format("--firmware {} --vcpus {} --vcpu-type EPYC-v4 --vmm-type cvmm", CVMM_OVMF_FD,
                    vcpus));
    EXPECT_EQ(backend_digest(config), measured) << vcpus << " vCPUs";
    EXPECT_EQ(builder_digest(config), measured);
  }
}

struct Combination {
  uint32_t vcpus;
  bool kernel;
  bool initrd;
  const char* cmdline;
};

void PrintTo(const Combination& c, std::ostream* out) {
  *out << c.vcpus << " vCPUs, kernel " << c.kernel << ", initrd " << c.initrd << ", cmdline '"
       << c.cmdline << "'";
}

class SnpMeasurementCombinationTest : public ::testing::TestWithParam<Combination> {};

TEST_P(SnpMeasurementCombinationTest, BackendDigestEqualsCvmmMeasure) {
  const Combination c = GetParam();
  TempFiles files;
  const auto ovmf = firmware::testing::build_synthetic_ovmf();
  LaunchConfig config;
  config.firmware = make_blob(ovmf);
  config.vcpus = c.vcpus;
  std::string args = fmt::format("--firmware {} --vcpus {} --vcpu-type EPYC-v4 --vmm-type cvmm",
                                 files.write("ovmf.fd", ovmf), c.vcpus);
  if (c.kernel) {
    // A bzImage: --vmm-type cvmm refuses other kernels, as cvmm does.
    const auto kernel = x86::testing::make_bzimage({.setup_sects = 3, .payload_size = 0x2345});
    config.kernel = make_blob(kernel);
    args += " --kernel " + files.write("kernel", kernel);
    config.cmdline = c.cmdline;
    args += fmt::format(" --append '{}'", c.cmdline);
  }
  if (c.initrd) {
    const auto initrd = firmware::testing::synthetic_initrd();
    config.initrd = make_blob(initrd);
    args += " --initrd " + files.write("initrd", initrd);
  }
  const std::string expected = run_measure(args);
  ASSERT_EQ(expected.size(), 96u) << expected;
  EXPECT_EQ(backend_digest(config), expected);
  EXPECT_EQ(builder_digest(config), expected);
}

INSTANTIATE_TEST_SUITE_P(
    SyntheticOvmf, SnpMeasurementCombinationTest,
    ::testing::Values(Combination{1, false, false, ""}, Combination{2, false, false, ""},
                      Combination{3, true, false, ""},
                      Combination{1, true, true, "console=ttyS0"},
                      Combination{4, true, true, "root=/dev/vda rw"}),
    [](const ::testing::TestParamInfo<Combination>& param_info) {
      const Combination& c = param_info.param;
      return fmt::format("Vcpus{}{}{}", c.vcpus, c.kernel ? "Kernel" : "NoKernel",
                         c.initrd ? "Initrd" : "");
    });

TEST(SnpMeasurementTest, VmsaFeaturesReachTheDigest) {
  LaunchConfig config;
  config.firmware = make_blob(firmware::testing::build_synthetic_ovmf());
  config.platform.snp_vmsa_features = 0x20;  // DebugSwap
  TempFiles files;
  const std::string with = backend_digest(config);
  EXPECT_EQ(with, builder_digest(config));
  const std::string measured = run_measure(fmt::format(
      "--firmware {} --vcpus 1 --vcpu-type EPYC-v4 --vmm-type cvmm --guest-features 0x21",
      files.write("ovmf_features.fd", *config.firmware)));
  EXPECT_EQ(with, measured);
  config.platform.snp_vmsa_features.reset();
  EXPECT_NE(backend_digest(config), with);
}

TEST(SnpMeasurementTest, VcpuModelReachesTheDigest) {
  LaunchConfig config;
  config.firmware = make_blob(firmware::testing::build_synthetic_ovmf());
  config.platform.snp_vcpu_model = "EPYC-Milan";
  TempFiles files;
  const std::string measured = run_measure(fmt::format(
      "--firmware {} --vcpus 1 --vcpu-type EPYC-Milan --vmm-type cvmm",
      files.write("ovmf_milan.fd", *config.firmware)));
  EXPECT_EQ(backend_digest(config), measured);
  config.platform.snp_vcpu_model = "EPYC-X";
  EXPECT_NE(backend_digest(config).find("build_launch_plan: unknown SNP vCPU model 'EPYC-X'"),
            std::string::npos);
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
