// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/serve_api.h"

#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "vmm/api/http_server.h"
#include "vmm/backends.h"
#include "vmm/machine.h"
#include "vmm/signals.h"

namespace cvm::vmm::api {
namespace {

class MachineVm final : public VmInstance {
 public:
  explicit MachineVm(std::unique_ptr<Machine> machine) : machine_(std::move(machine)) {}
  Result<void> start() override { return machine_->start(); }
  int stop_event_fd() const override { return machine_->stop_event_fd(); }
  void request_stop(int status, std::string reason) override {
    machine_->request_stop(status, std::move(reason));
  }
  int finish() override { return machine_->finish(); }

 private:
  std::unique_ptr<Machine> machine_;
};

// The first line of a reply body, for the request log.
std::string_view first_line(std::string_view body) {
  return body.substr(0, body.find('\n'));
}

}  // namespace

VmFactory machine_vm_factory() {
  return [](const VmConfig& config) -> Result<std::unique_ptr<VmInstance>> {
    CVM_ASSIGN_OR_RETURN(auto backend, make_backend(config.platform));
    CVM_ASSIGN_OR_RETURN(auto machine, Machine::create(config, std::move(backend)));
    return std::unique_ptr<VmInstance>(std::make_unique<MachineVm>(std::move(machine)));
  };
}

Result<int> serve_api(const ServeApiOptions& options, VmFactory factory) {
  // Before any thread exists, so the vCPU and device threads inherit the blocked mask and
  // the signals reach this loop's signalfd instead of killing the process mid-ioctl.
  CVM_ASSIGN_OR_RETURN(StopSignals signals, StopSignals::block());
  CVM_ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server,
                       HttpServer::listen(options.socket_path));
  VmmService service(std::move(factory), VmmService::Info{.version = options.version});
  if (options.verbosity >= 1) {
    std::fprintf(stderr, "cvmm: API listening on %s\n", options.socket_path.c_str());
  }

  // The running VM's stop event is watched only between service calls: any call may end the
  // VM, which closes that fd, and HttpServer wants a fd unwatched before it is closed.
  int watched_vm_fd = -1;
  std::function<void()> on_vm_stopped;
  const auto unwatch_vm = [&] {
    if (watched_vm_fd >= 0) {
      server->unwatch(watched_vm_fd);
      watched_vm_fd = -1;
    }
  };
  const auto watch_vm = [&] {
    watched_vm_fd = service.vm_stop_fd();
    if (watched_vm_fd >= 0) {
      server->watch(watched_vm_fd, on_vm_stopped);
    }
  };
  on_vm_stopped = [&] {
    unwatch_vm();
    service.on_vm_stopped();
    server->stop();
  };

  server->watch(signals.fd(), [&] {
    signalfd_siginfo info{};
    if (::read(signals.fd(), &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info))) {
      return;
    }
    const char* abbrev = ::sigabbrev_np(static_cast<int>(info.ssi_signo));
    unwatch_vm();
    service.on_signal(fmt::format("SIG{}", abbrev != nullptr ? abbrev : "?"));
    server->stop();
  });

  const RequestHandler handler = [&](HttpRequest& request) {
    // Descriptors sent with a request (vm.add-net's taps) are closed with `request`: no
    // endpoint cvmm implements takes any.
    unwatch_vm();
    const ApiReply reply = service.handle(request.method, request.path, request.body);
    watch_vm();
    if (reply.status >= 400 || options.verbosity >= 1) {
      std::fprintf(stderr, "cvmm: api: %s %s: %u%s%.*s\n", request.method.c_str(),
                   request.path.c_str(), reply.status, reply.status >= 400 ? ": " : "",
                   static_cast<int>(reply.status >= 400 ? first_line(reply.body).size() : 0),
                   reply.body.data());
    }
    if (service.exit_requested()) {
      server->stop();
    }
    return HttpResponse{.status = reply.status,
                        .body = reply.body,
                        .content_type = reply.content_type,
                        .close_after = false};
  };
  CVM_TRY(server->serve(handler));
  unwatch_vm();
  return service.exit_status();
}

}  // namespace cvm::vmm::api
