// SPDX-License-Identifier: Apache-2.0
// `cvmm --api-socket PATH`: the HTTP server (http_server.h) in front of VmmService
// (vmm_service.h), SIGINT/SIGTERM and the VM's own end, on the main thread.
#pragma once

#include <string>

#include "base/result.h"
#include "vmm/api/vmm_service.h"

namespace cvm::vmm::api {

struct ServeApiOptions {
  std::string socket_path;
  int verbosity = 0;    // >= 1: every request on stderr (failed ones always are)
  std::string version;  // vmm.ping's version
};

/// Blocks SIGINT/SIGTERM (the VM's threads inherit the mask), binds the socket and serves
/// until vmm.shutdown, the VM's end (guest power-off or reset, a failure) or a signal.
/// Returns the exit status `cvmm run` would give for the same end (0 when no VM ran).
/// Errors: the socket cannot be bound (names the path) or the server's poll loop fails.
[[nodiscard]] Result<int> serve_api(const ServeApiOptions& options, VmFactory factory);

/// The factory behind vm.boot in cvmm: the backend for config.platform (its host check
/// first), then vmm::Machine::create; nothing runs until VmInstance::start().
VmFactory machine_vm_factory();

}  // namespace cvm::vmm::api
