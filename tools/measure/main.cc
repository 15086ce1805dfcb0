// SPDX-License-Identifier: Apache-2.0
// cvmm-measure: precomputes TEE launch measurements from the same launch plan the VMM executes.
// Links firmware/ and base/ only; runs without /dev/kvm.
#include <cstdio>
#include <string_view>
#include <vector>

#include "cvmm_version.h"
#include "tools/measure/commands.h"

namespace {
constexpr const char* kUsage =
    "usage: cvmm-measure snp --firmware OVMF.fd --vcpus N --vcpu-type MODEL --vmm-type "
    "cvmm|qemu|ec2|gce [options]\n"
    "       cvmm-measure tdx --firmware OVMF.fd [options]\n"
    "       cvmm-measure --version\n"
    "run 'cvmm-measure snp --help' or 'cvmm-measure tdx --help' for the options\n";
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("cvmm-measure %s\n", CVMM_VERSION);
    return 0;
  }
  const std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  if (args[0] == "snp") {
    return cvm::tools::measure::run_snp(rest);
  }
  if (args[0] == "tdx") {
    return cvm::tools::measure::run_tdx(rest);
  }
  std::fprintf(stderr, "cvmm-measure: unknown subcommand '%.*s'\n%s",
               static_cast<int>(args[0].size()), args[0].data(), kUsage);
  return 2;
}
