// SPDX-License-Identifier: Apache-2.0
// VmmService (vmm/api/vmm_service.h) with arbitrary requests: whatever a client sends, the
// service answers with a status in 200..599, an ASCII body (runtime-rs panics on UTF-8 split
// across its reads), no body on 204, JSON that parses when it says JSON, and never aborts.
// Input: byte 0 picks the method, byte 1 the endpoint, the rest is the body; the same input
// is then replayed as a second request against the state the first one left.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "vmm/api/vmm_service.h"

namespace {

using namespace cvm;
using namespace cvm::vmm::api;

class NullVm final : public VmInstance {
 public:
  Result<void> start() override { return ok(); }
  int stop_event_fd() const override { return -1; }
  void request_stop(int, std::string) override {}
  int finish() override { return 0; }
};

constexpr std::string_view kMethods[] = {"GET", "PUT", "POST", "DELETE", "PATCH", ""};
constexpr std::string_view kEndpoints[] = {
    "/api/v1/vm.create", "/api/v1/vm.boot",     "/api/v1/vm.info",  "/api/v1/vmm.ping",
    "/api/v1/vmm.shutdown", "/api/v1/vm.add-net", "/api/v1/vm.resize", "/api/v1/",
    "/api/v1/vm.create/", "/vm.create",          "",                  "/api/v1/\xc3\xa9"};

void check(const ApiReply& reply) {
  if (reply.status < 200 || reply.status > 599) {
    std::abort();
  }
  for (const char c : reply.body) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      std::abort();
    }
  }
  if (reply.status == 204 && !reply.body.empty()) {
    std::abort();
  }
  if (reply.content_type == "application/json" && !reply.body.empty()) {
    std::error_code error;
    (void)boost::json::parse(reply.body, error);
    if (error) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const std::string_view method = kMethods[data[0] % std::size(kMethods)];
  const std::string_view path = kEndpoints[data[1] % std::size(kEndpoints)];
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  VmmService service(
      [](const cvm::vmm::VmConfig&) -> Result<std::unique_ptr<VmInstance>> {
        return std::unique_ptr<VmInstance>(std::make_unique<NullVm>());
      },
      VmmService::Info{.version = "0"});
  check(service.handle(method, path, body));
  check(service.handle(method, path, body));
  check(service.handle("GET", "/api/v1/vm.info", ""));
  return 0;
}
