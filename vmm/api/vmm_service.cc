// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/vmm_service.h"

#include <unistd.h>

#include <array>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "vmm/config/json.h"
#include "vmm/config/validate.h"
#include "vmm/config/value_parsers.h"

namespace cvm::vmm::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kApiPrefix = "/api/v1/";

// Endpoints of Cloud Hypervisor's API that cvmm knows and does not implement: answered 501
// with the reason, so a client learns that the call exists but is unavailable here, rather
// than a 404 that reads like a typo. runtime-integration.md §1.10 lists what Kata uses.
struct Unsupported {
  std::string_view endpoint;
  std::string_view reason;
};
constexpr std::array kUnsupported = {
    Unsupported{"vm.add-disk", "disk hot-plug needs virtio-pci; cvmm's disks are virtio-mmio "
                               "and given to vm.create"},
    Unsupported{"vm.add-net", "cvmm has no virtio-net device"},
    Unsupported{"vm.add-device", "cvmm has no device passthrough (VFIO)"},
    Unsupported{"vm.add-fs", "cvmm has no virtio-fs device"},
    Unsupported{"vm.add-pmem", "cvmm has no virtio-pmem device"},
    Unsupported{"vm.add-vdpa", "cvmm has no vDPA devices"},
    Unsupported{"vm.add-user-device", "cvmm has no vfio-user devices"},
    Unsupported{"vm.add-vsock", "give the vsock device to vm.create"},
    Unsupported{"vm.remove-device", "cvmm has no device hot-plug"},
    Unsupported{"vm.resize", "cvmm has no CPU or memory hot-plug"},
    Unsupported{"vm.resize-zone", "cvmm has no memory hot-plug"},
    Unsupported{"vm.pause", "cvmm cannot pause a VM"},
    Unsupported{"vm.resume", "cvmm cannot pause a VM"},
    Unsupported{"vm.snapshot", "cvmm has no snapshots"},
    Unsupported{"vm.restore", "cvmm has no snapshots"},
    Unsupported{"vm.coredump", "cvmm has no guest core dumps"},
    Unsupported{"vm.send-migration", "cvmm has no live migration"},
    Unsupported{"vm.receive-migration", "cvmm has no live migration"},
    Unsupported{"vm.reboot", "the VM ends with its process; start a new cvmm"},
    Unsupported{"vm.shutdown", "the VM ends with its process; use vmm.shutdown"},
    Unsupported{"vm.delete", "the VM ends with its process; use vmm.shutdown"},
    Unsupported{"vm.power-button", "cvmm has no ACPI power button"},
    Unsupported{"vm.nmi", "cvmm cannot inject an NMI through the API"},
    Unsupported{"vm.counters", "cvmm keeps no device counters"},
};

ApiReply text_reply(unsigned status, std::string message) {
  // Plain ASCII: error texts carry paths and guest input, which may hold any byte.
  for (char& c : message) {
    if (static_cast<unsigned char>(c) >= 0x80 || (static_cast<unsigned char>(c) < 0x20)) {
      c = '?';
    }
  }
  return ApiReply{.status = status, .body = std::move(message) + "\n",
                  .content_type = "text/plain"};
}

ApiReply json_reply(const json::value& value) {
  return ApiReply{.status = 200, .body = ascii_json(value), .content_type = "application/json"};
}

std::string_view state_name(VmState state) {
  switch (state) {
    case VmState::kNotCreated:
      return "NotCreated";
    case VmState::kCreated:
      return "Created";
    case VmState::kRunning:
      return "Running";
  }
  return "Unknown";
}

bool present(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return false;
  }
  if (const json::array* array = value->if_array()) {
    return !array->empty();
  }
  if (const bool* flag = value->if_bool()) {
    return *flag;
  }
  return true;
}

// Appends one code point as \uXXXX (a surrogate pair above the BMP).
void append_escaped(std::string& out, uint32_t code_point) {
  if (code_point > 0xffff) {
    code_point -= 0x10000;
    append_escaped(out, 0xd800 + (code_point >> 10));
    append_escaped(out, 0xdc00 + (code_point & 0x3ff));
    return;
  }
  out += fmt::format("\\u{:04x}", code_point);
}

}  // namespace

std::string ascii_json(const json::value& value) {
  const std::string text = json::serialize(value);
  std::string out;
  out.reserve(text.size());
  // JSON's own syntax is ASCII, so every byte >= 0x80 lies inside a string, where \u escapes
  // are valid (RFC 8259 §7).
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      out += text[i++];
      continue;
    }
    uint32_t code_point = 0;
    const std::size_t length = config::decode_utf8(text, i, code_point);
    if (length == 0) {
      append_escaped(out, 0xfffd);
      ++i;
    } else {
      append_escaped(out, code_point);
      i += length;
    }
  }
  return out;
}

Result<void> check_supported_fields(const json::value& vm_config) {
  const json::object* root = vm_config.if_object();
  if (root == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "the VM configuration must be a JSON object");
  }
  struct Refused {
    std::string_view key;
    std::string_view reason;
  };
  static constexpr std::array kRefusedTopLevel = {
      Refused{"fs", "virtio-fs is not supported"},
      Refused{"net", "virtio-net is not supported"},
      Refused{"devices", "device passthrough (VFIO) is not supported"},
      Refused{"user_devices", "vfio-user devices are not supported"},
      Refused{"vdpa", "vDPA devices are not supported"},
      Refused{"pmem", "virtio-pmem is not supported"},
      Refused{"tpm", "a virtual TPM is not supported"},
      Refused{"sgx_epc", "SGX enclaves are not supported"},
      Refused{"iommu", "a virtual IOMMU is not supported"},
  };
  for (const Refused& refused : kRefusedTopLevel) {
    if (present(*root, refused.key)) {
      return make_error(ErrorCode::kInvalidArgument, "{}: {}", refused.key, refused.reason);
    }
  }
  if (const json::value* payload = root->if_contains("payload"); payload != nullptr) {
    if (const json::object* object = payload->if_object(); object && present(*object, "igvm")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "payload.igvm: IGVM images are not supported (use firmware and kernel)");
    }
  }
  const json::value* disks = root->if_contains("disks");
  const json::array* disk_array = disks != nullptr ? disks->if_array() : nullptr;
  for (std::size_t i = 0; disk_array != nullptr && i < disk_array->size(); ++i) {
    const json::object* disk = (*disk_array)[i].if_object();
    if (disk == nullptr) {
      continue;  // config_from_json names the type error
    }
    if (present(*disk, "vhost_user") || present(*disk, "socket")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "disks[{}].vhost_user: vhost-user disks are not supported", i);
    }
    if (const json::value* type = disk->if_contains("image_type");
        type != nullptr && !type->is_null() &&
        !(type->is_string() && type->get_string() == "Raw")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "disks[{}].image_type: only \"Raw\" images are supported, got {}", i,
                        json::serialize(*type));
    }
  }
  return ok();
}

VmmService::VmmService(VmFactory factory, Info info)
    : factory_(std::move(factory)), info_(std::move(info)) {}

VmmService::~VmmService() {
  if (vm_) {
    stop_and_join(0, "the API server ended");
  }
}

ApiReply VmmService::handle(std::string_view method, std::string_view path,
                            std::string_view body) {
  if (!path.starts_with(kApiPrefix)) {
    return text_reply(404, fmt::format("unknown path {} (the API is under {})", path,
                                       kApiPrefix));
  }
  const std::string_view endpoint = path.substr(kApiPrefix.size());
  // Each route: its method, then what it does; another method gets 405.
  const auto route = [&](std::string_view wanted, auto&& action) -> ApiReply {
    if (method != wanted) {
      return text_reply(405, fmt::format("{} takes {}, not {}", endpoint, wanted, method));
    }
    return action();
  };
  if (endpoint == "vmm.ping") {
    return route("GET", [&] { return ping(); });
  }
  if (endpoint == "vm.info") {
    return route("GET", [&] { return vm_info(); });
  }
  if (endpoint == "vm.create") {
    return route("PUT", [&] { return create_vm(body); });
  }
  if (endpoint == "vm.boot") {
    return route("PUT", [&] { return boot_vm(); });
  }
  if (endpoint == "vmm.shutdown") {
    return route("PUT", [&] { return shutdown_vmm(); });
  }
  for (const Unsupported& unsupported : kUnsupported) {
    if (endpoint == unsupported.endpoint) {
      return text_reply(501, fmt::format("{} is not implemented: {}", endpoint,
                                         unsupported.reason));
    }
  }
  return text_reply(404, fmt::format("unknown endpoint {}", endpoint));
}

ApiReply VmmService::ping() const {
  json::object reply;
  reply["build_version"] = "cvmm " + info_.version;
  reply["version"] = info_.version;
  reply["pid"] = static_cast<int64_t>(::getpid());
  // runtime-rs requires "tdx" here before it starts a TD (runtime-integration.md §1.9).
  reply["features"] = json::array{"tdx", "sev_snp"};
  return json_reply(reply);
}

ApiReply VmmService::create_vm(std::string_view body) {
  if (state_ != VmState::kNotCreated) {
    return text_reply(409, "vm.create: a VM is already created (one VM per cvmm process)");
  }
  if (body.empty()) {
    return text_reply(400, "vm.create: the request has no body (expected a VmConfig)");
  }
  auto config = config::config_from_json(body, {.ignore_unknown_keys = true});
  if (!config) {
    return text_reply(400, "vm.create: " + config.error().message());
  }
  // config_from_json accepted the text, so it parses.
  std::error_code ignored;
  const json::value document = json::parse(body, ignored);
  if (auto supported = check_supported_fields(document); !supported) {
    return text_reply(400, "vm.create: " + supported.error().message());
  }
  if (auto valid = config::validate_config(*config, config::json_field_name); !valid) {
    return text_reply(400, "vm.create: " + valid.error().message());
  }
  config_ = std::move(*config);
  state_ = VmState::kCreated;
  return ApiReply{};
}

ApiReply VmmService::boot_vm() {
  if (state_ == VmState::kNotCreated) {
    return text_reply(409, "vm.boot: no VM has been created (PUT /api/v1/vm.create first)");
  }
  if (state_ == VmState::kRunning) {
    return text_reply(409, "vm.boot: the VM is already running");
  }
  auto vm = factory_(*config_);
  if (!vm) {
    return text_reply(500, "vm.boot: " + vm.error().message());
  }
  if (auto started = (*vm)->start(); !started) {
    // Whatever started is stopped and joined; the VM stays Created, as if never booted.
    (*vm)->request_stop(1, "start failed");
    (void)(*vm)->finish();
    return text_reply(500, "vm.boot: " + started.error().message());
  }
  vm_ = std::move(*vm);
  state_ = VmState::kRunning;
  return ApiReply{};
}

ApiReply VmmService::vm_info() const {
  if (state_ == VmState::kNotCreated) {
    return text_reply(409, "vm.info: no VM has been created (PUT /api/v1/vm.create first)");
  }
  json::value config = config::config_to_json_value(*config_);
  // Kata reads cpus.max_vcpus to bound vm.resize: cvmm has no CPU hot-plug, so the maximum
  // is what booted; no memory.hotplug_size means "no memory hot-plug" to it (§1.5).
  config.as_object()["cpus"].as_object()["max_vcpus"] = config_->cpus.boot_vcpus;
  json::object reply;
  reply["config"] = std::move(config);
  reply["state"] = state_name(state_);
  reply["memory_actual_size"] = config_->memory.size_bytes;
  return json_reply(reply);
}

ApiReply VmmService::shutdown_vmm() {
  if (vm_) {
    stop_and_join(0, "stopped by vmm.shutdown");
    exit_status_ = 0;  // a requested stop is a clean one, whatever the guest was doing
  }
  exit_requested_ = true;
  return ApiReply{};
}

int VmmService::vm_stop_fd() const { return vm_ ? vm_->stop_event_fd() : -1; }

void VmmService::on_vm_stopped() {
  if (vm_) {
    exit_status_ = vm_->finish();
    vm_.reset();
    state_ = VmState::kCreated;
  }
  exit_requested_ = true;
}

void VmmService::on_signal(std::string_view name) {
  if (vm_) {
    stop_and_join(0, fmt::format("stopped by signal {}", name));
  }
  exit_requested_ = true;
}

void VmmService::stop_and_join(int status, std::string reason) {
  vm_->request_stop(status, std::move(reason));
  exit_status_ = vm_->finish();
  vm_.reset();
  state_ = VmState::kCreated;
}

}  // namespace cvm::vmm::api
