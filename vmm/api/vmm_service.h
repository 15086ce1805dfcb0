// SPDX-License-Identifier: Apache-2.0
// VmmService: the Cloud Hypervisor REST API that Kata's clh drivers speak
// (runtime-integration.md §1.3-§1.5, §1.10), over the one VM configuration model: PUT
// /vm.create takes CH's VmConfig JSON (vmm/config/json.h, unknown keys ignored as CH does),
// PUT /vm.boot creates and starts the machine, GET /vm.info and /vmm.ping report, PUT
// /vmm.shutdown stops the VM and ends the process. Transport-free: the HTTP server
// (http_server.h) hands it method, path and body and writes back what it returns, so routes
// and states are unit-tested without sockets or /dev/kvm (the VM comes from a VmFactory).
//
// Lifecycle: NotCreated -(vm.create)-> Created -(vm.boot)-> Running. The process ends when
// the VM stops, whatever stopped it (guest power-off or reset, a failure, vmm.shutdown,
// SIGTERM), with the status `cvmm run` would return: cvmm is one sandbox, as Firecracker is.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "vmm/config/vm_config.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace cvm::vmm::api {

/// A created VM that vm.boot starts (vmm/machine.h's start/stop steps; tests use a fake).
class VmInstance {
 public:
  virtual ~VmInstance() = default;
  /// Starts devices and vCPUs and returns.
  [[nodiscard]] virtual Result<void> start() = 0;
  /// Readable (and stays readable) once a stop was requested by anyone.
  virtual int stop_event_fd() const = 0;
  /// Thread-safe; the first request wins.
  virtual void request_stop(int status, std::string reason) = 0;
  /// After a stop request: joins the VM's threads, reports, returns the exit status.
  virtual int finish() = 0;
};

/// Builds the VM for a validated config (host check, memory, kernel, devices); nothing runs.
using VmFactory = std::function<Result<std::unique_ptr<VmInstance>>(const VmConfig&)>;

/// One response. `body` is ASCII (runtime-rs decodes 256-byte chunks as UTF-8 and would panic
/// on a split character, runtime-integration.md §1.8); empty means none (204).
struct ApiReply {
  unsigned status = 204;
  std::string body;
  std::string content_type = "application/json";
};

enum class VmState { kNotCreated, kCreated, kRunning };

/// Thread-safety: none; the server calls everything from its one thread.
class VmmService {
 public:
  struct Info {
    std::string version;  // "0.1.0": vmm.ping's version and build_version
  };
  VmmService(VmFactory factory, Info info);
  ~VmmService();
  VmmService(const VmmService&) = delete;
  VmmService& operator=(const VmmService&) = delete;

  /// Serves one request. `path` is the request target without query, e.g. "/api/v1/vm.info".
  ApiReply handle(std::string_view method, std::string_view path, std::string_view body);

  VmState state() const noexcept { return state_; }
  /// The running VM's stop event for the server's poll loop, or -1.
  int vm_stop_fd() const;
  /// The server saw vm_stop_fd() readable: joins the VM; the process should now end.
  void on_vm_stopped();
  /// SIGINT/SIGTERM arrived (`name`, e.g. "SIGTERM"): stops a running VM; the process should end.
  void on_signal(std::string_view name);

  /// True once the process should end (vmm.shutdown answered, the VM stopped, a signal);
  /// the server then stops serving and main returns exit_status().
  bool exit_requested() const noexcept { return exit_requested_; }
  int exit_status() const noexcept { return exit_status_; }

 private:
  ApiReply create_vm(std::string_view body);
  ApiReply boot_vm();
  ApiReply vm_info() const;
  ApiReply ping() const;
  ApiReply shutdown_vmm();
  void stop_and_join(int status, std::string reason);

  VmFactory factory_;
  Info info_;
  VmState state_ = VmState::kNotCreated;
  std::optional<VmConfig> config_;
  std::unique_ptr<VmInstance> vm_;
  bool exit_requested_ = false;
  int exit_status_ = 0;
};

/// Keys of CH's VmConfig that cvmm cannot honour and must not silently drop, because the
/// guest would then lack something it was promised (a virtio-fs share, a NIC, a vhost-user or
/// qcow2 disk). kInvalidArgument naming the JSON path, e.g. "fs: virtio-fs is not supported".
/// Keys that only tune what cvmm does its own way (iommu, num_queues, queue_size, direct,
/// rng, console, max_vcpus, topology, hotplug_size, shared, ...) pass.
[[nodiscard]] Result<void> check_supported_fields(const boost::json::value& vm_config);

/// Serialises `value` as JSON with every non-ASCII character escaped as \uXXXX (invalid
/// UTF-8 becomes \ufffd), so a response is plain ASCII.
std::string ascii_json(const boost::json::value& value);

}  // namespace cvm::vmm::api
