// SPDX-License-Identifier: Apache-2.0
// The `cvmm` command line: --version, --help, `run`, `host-check` and `--api-socket`. Kept apart from main() so unit tests
// drive it with a fake VMM and capture its output and exit status.
#pragma once

#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "vmm/config/vm_config.h"

namespace cvm::tools {

/// Exit statuses of `cvmm` other than the guest's own (run_vm's value on a clean stop).
inline constexpr int kExitRuntimeError = 1;  // the VM could not be started or failed
inline constexpr int kExitUsageError = 2;    // bad flags, bad configuration

/// `cvmm --api-socket PATH [-v|-vv|-vvv] [--seccomp false]`: how Kata's clh drivers start
/// Cloud Hypervisor (runtime-integration.md §1.2, §1.9); the VM then comes through the API.
struct ApiArgs {
  std::string socket_path;
  int verbosity = 0;  // number of -v: 1 logs every request to stderr (errors always are)
};

struct CvmmHooks {
  /// Runs a validated VM; returns the exit status on a clean stop (vmm::run_vm in main()).
  std::function<Result<int>(const vmm::VmConfig&)> run_vm;
  /// `cvmm host-check`: writes the report to the stream, returns the exit status (0 when
  /// plain KVM VMs can run here). Optional; absent means the command is unavailable.
  std::function<int(std::ostream&)> host_check;
  /// Reads a --config file (read_text_file in main()).
  std::function<Result<std::string>(const std::string& path)> read_config_file;
  /// Serves the API until vmm.shutdown, the VM's end or SIGINT/SIGTERM; returns the exit
  /// status (vmm/api/serve_api.h in main()). Optional; absent means no API in this build.
  std::function<Result<int>(const ApiArgs&)> serve_api;
};

/// Runs `cvmm ARGS...` (argv without argv[0]). Help and version go to `out`; every error is
/// one line "cvmm: <message>" on `err`. Returns the process exit status.
int cvmm_main(std::span<const std::string_view> args, const CvmmHooks& hooks, std::ostream& out,
              std::ostream& err);

}  // namespace cvm::tools
