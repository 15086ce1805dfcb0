// SPDX-License-Identifier: Apache-2.0
// cvmm: the VMM binary. Composition root: wires the command line to vmm::run_vm() and the
// API server (vmm/api/serve_api.h).
#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "cvmm_version.h"
#include "tools/cvmm/cvmm_main.h"
#include "vmm/api/serve_api.h"
#include "vmm/backends.h"
#include "vmm/host_check.h"
#include "vmm/run_vm.h"

namespace {
constexpr std::size_t kMaxConfigFileBytes = std::size_t{1} << 20;
}  // namespace

int main(int argc, char** argv) {
  // Our code returns errors; this catches what the standard library or Boost may raise
  // (allocation failure) so the user still gets one "cvmm: ..." line.
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    const cvm::tools::CvmmHooks hooks{
        .run_vm = [](const cvm::vmm::VmConfig& config) { return cvm::vmm::run_vm(config); },
        .host_check =
            [](std::ostream& out) {
              const auto backends = cvm::vmm::all_backends();
              const auto entries = cvm::vmm::check_host_support(backends);
              out << cvm::vmm::format_host_support(entries);
              return entries.front().available ? 0 : cvm::tools::kExitRuntimeError;
            },
        .read_config_file =
            [](const std::string& path) { return cvm::read_text_file(path, kMaxConfigFileBytes); },
        .serve_api =
            [](const cvm::tools::ApiArgs& api) {
              return cvm::vmm::api::serve_api(
                  cvm::vmm::api::ServeApiOptions{.socket_path = api.socket_path,
                                                 .verbosity = api.verbosity,
                                                 .version = CVMM_VERSION},
                  cvm::vmm::api::machine_vm_factory());
            },
    };
    return cvm::tools::cvmm_main(args, hooks, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "cvmm: internal error: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "cvmm: internal error: unknown exception\n";
  }
  return cvm::tools::kExitRuntimeError;
}
