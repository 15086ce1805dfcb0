// SPDX-License-Identifier: Apache-2.0
// Boost.JSON is used only through its error_code and if_*() accessors, which never raise.
#include "vmm/config/json.h"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <tuple>

#include <boost/json.hpp>

#include "vmm/config/json_duplicates.h"
#include "vmm/config/value_parsers.h"

namespace cvm::vmm::config {
namespace {

namespace json = boost::json;

Error invalid_at(std::string_view path, std::string_view message) {
  return Error(ErrorCode::kInvalidArgument,
               path.empty() ? std::string(message) : fmt::format("{}: {}", path, message));
}

std::string describe(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
      return fmt::format("{}", value.get_int64());
    case json::kind::uint64:
      return fmt::format("{}", value.get_uint64());
    case json::kind::double_:
      return "a floating-point number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "an unknown value";
}

/// Reads one JSON object with a fixed key set; every accessor names the key's full path.
class ObjectReader {
 public:
  static Result<ObjectReader> open(const json::value& value, std::string path,
                                   std::initializer_list<std::string_view> keys,
                                   const JsonOptions& options) {
    const json::object* object = value.if_object();
    if (object == nullptr) {
      return invalid_at(path, fmt::format("expected an object, got {}", describe(value)));
    }
    ObjectReader reader(*object, std::move(path));
    if (!options.ignore_unknown_keys) {
      for (const auto& entry : *object) {
        const std::string_view key(entry.key().data(), entry.key().size());
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
          return invalid_at(reader.child(key), "unknown key");
        }
      }
    }
    return reader;
  }

  std::string child(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }

  /// The value of `key`, or nullptr when it is absent or null.
  const json::value* find(std::string_view key) const {
    const json::value* value = object_->if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }

  Result<const json::value*> required(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) {
      return invalid_at(child(key), "required key is missing");
    }
    return value;
  }

  // Required variants: a missing (or null) key is an error.
  Result<std::string> required_string(std::string_view key) const {
    CVM_TRY(required(key));
    CVM_ASSIGN_OR_RETURN(auto text, string(key));
    return std::move(text).value_or("");
  }
  Result<std::string> required_path(std::string_view key) const {
    CVM_TRY(required(key));
    CVM_ASSIGN_OR_RETURN(auto text, path(key));
    return std::move(text).value_or("");
  }
  Result<uint64_t> required_unsigned(std::string_view key, uint64_t max) const {
    CVM_TRY(required(key));
    CVM_ASSIGN_OR_RETURN(auto number, unsigned_integer(key, max));
    return number.value_or(0);
  }

  Result<std::optional<std::string>> string(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) {
      return std::optional<std::string>();
    }
    const json::string* text = value->if_string();
    if (text == nullptr) {
      return type_error(key, "a string", *value);
    }
    return std::optional<std::string>(std::string(text->data(), text->size()));
  }

  /// A string that names a file: present means non-empty.
  Result<std::optional<std::string>> path(std::string_view key) const {
    CVM_ASSIGN_OR_RETURN(auto text, string(key));
    if (text && text->empty()) {
      return invalid_at(child(key), "empty path");
    }
    return text;
  }

  Result<std::optional<bool>> boolean(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) {
      return std::optional<bool>();
    }
    const bool* flag = value->if_bool();
    if (flag == nullptr) {
      return type_error(key, "a boolean", *value);
    }
    return std::optional<bool>(*flag);
  }

  Result<std::optional<uint64_t>> unsigned_integer(std::string_view key, uint64_t max) const {
    const json::value* value = find(key);
    if (value == nullptr) {
      return std::optional<uint64_t>();
    }
    std::optional<uint64_t> number;
    if (const uint64_t* u = value->if_uint64()) {
      number = *u;
    } else if (const int64_t* i = value->if_int64(); i != nullptr && *i >= 0) {
      number = static_cast<uint64_t>(*i);
    }
    if (!number) {
      return type_error(key, "an unsigned integer", *value);
    }
    if (*number > max) {
      return invalid_at(child(key), fmt::format("{} is out of range (maximum {})", *number, max));
    }
    return number;
  }

 private:
  ObjectReader(const json::object& object, std::string path)
      : object_(&object), path_(std::move(path)) {}

  Error type_error(std::string_view key, std::string_view expected,
                   const json::value& value) const {
    return invalid_at(child(key), fmt::format("expected {}, got {}", expected, describe(value)));
  }

  const json::object* object_;
  std::string path_;
};

/// Prepends a JSON path to a value-syntax error from value_parsers.h.
template <typename T>
Result<T> at_path(Result<T> result, std::string_view path) {
  if (!result) {
    return std::move(result.error()).context(path);
  }
  return result;
}

Result<void> read_payload(const json::value& value, const JsonOptions& options, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(
      const auto reader,
      ObjectReader::open(value, "payload",
                         {"kernel", "initramfs", "cmdline", "firmware", "host_data", "mrconfigid",
                          "mrowner", "mrownerconfig"},
                         options));
  PayloadConfig& payload = config.payload;
  CVM_ASSIGN_OR_RETURN(const auto kernel, reader.path("kernel"));
  payload.kernel = kernel.value_or("");
  CVM_ASSIGN_OR_RETURN(payload.initramfs, reader.path("initramfs"));
  CVM_ASSIGN_OR_RETURN(const auto cmdline, reader.string("cmdline"));
  payload.cmdline = cmdline.value_or("");
  CVM_ASSIGN_OR_RETURN(payload.firmware, reader.path("firmware"));
  // CH and Kata put the TEE launch data in the payload (runtime-integration.md §1.9).
  PlatformConfig& platform = config.platform;
  const std::tuple<std::string_view, std::size_t, std::vector<uint8_t>*> tee_keys[] = {
      {"host_data", kHostDataBytes, &platform.host_data},
      {"mrconfigid", kMrConfigIdBytes, &platform.mrconfigid},
      {"mrowner", kMrConfigIdBytes, &platform.mrowner},
      {"mrownerconfig", kMrConfigIdBytes, &platform.mrownerconfig}};
  for (const auto& [key, bytes, field] : tee_keys) {
    CVM_ASSIGN_OR_RETURN(const auto text, reader.string(key));
    if (!text) {
      continue;
    }
    CVM_ASSIGN_OR_RETURN(*field, at_path(parse_hex_or_base64(*text, bytes), reader.child(key)));
  }
  return ok();
}

Result<void> read_cpus_memory(const json::object& root, const JsonOptions& options,
                              VmConfig& config) {
  if (const json::value* cpus = root.if_contains("cpus"); cpus != nullptr && !cpus->is_null()) {
    CVM_ASSIGN_OR_RETURN(const auto reader, ObjectReader::open(*cpus, "cpus", {"boot_vcpus"}, options));
    CVM_ASSIGN_OR_RETURN(const uint64_t boot, reader.required_unsigned("boot_vcpus", UINT32_MAX));
    config.cpus.boot_vcpus = static_cast<unsigned>(boot);
  }
  if (const json::value* memory = root.if_contains("memory");
      memory != nullptr && !memory->is_null()) {
    CVM_ASSIGN_OR_RETURN(const auto reader,
                         ObjectReader::open(*memory, "memory",
                                            {"size", "guest_memfd", "hugepages"}, options));
    CVM_ASSIGN_OR_RETURN(config.memory.size_bytes, reader.required_unsigned("size", UINT64_MAX));
    CVM_ASSIGN_OR_RETURN(const auto guest_memfd, reader.boolean("guest_memfd"));
    CVM_ASSIGN_OR_RETURN(const auto hugepages, reader.boolean("hugepages"));
    config.memory.guest_memfd = guest_memfd.value_or(false);
    config.memory.hugepages = hugepages.value_or(false);
  }
  return ok();
}

Result<void> read_serial(const json::value& value, const JsonOptions& options, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto reader,
                       ObjectReader::open(value, "serial", {"mode", "file"}, options));
  CVM_ASSIGN_OR_RETURN(const std::string mode, reader.required_string("mode"));
  // CH's ConsoleOutputMode names; Pty, Null and Socket are not implemented by cvmm.
  if (mode == "Tty") {
    config.serial.mode = SerialMode::kTty;
  } else if (mode == "File") {
    config.serial.mode = SerialMode::kFile;
  } else if (mode == "Off") {
    config.serial.mode = SerialMode::kOff;
  } else {
    return invalid_at(reader.child("mode"),
                      fmt::format("{} is not supported (expected \"Tty\", \"File\" or \"Off\")",
                                  quote(mode)));
  }
  CVM_ASSIGN_OR_RETURN(const auto file, reader.string("file"));
  config.serial.file = file.value_or("");
  return ok();
}

Result<void> read_disks(const json::value& value, const JsonOptions& options, VmConfig& config) {
  const json::array* disks = value.if_array();
  if (disks == nullptr) {
    return invalid_at("disks", fmt::format("expected an array, got {}", describe(value)));
  }
  for (std::size_t i = 0; i < disks->size(); ++i) {
    CVM_ASSIGN_OR_RETURN(const auto reader,
                         ObjectReader::open((*disks)[i], fmt::format("disks[{}]", i),
                                            {"path", "readonly", "id"}, options));
    DiskConfig disk;
    CVM_ASSIGN_OR_RETURN(disk.path, reader.required_path("path"));
    CVM_ASSIGN_OR_RETURN(const auto readonly, reader.boolean("readonly"));
    disk.readonly = readonly.value_or(false);
    CVM_ASSIGN_OR_RETURN(const auto id, reader.string("id"));
    disk.id = id.value_or("");
    config.disks.push_back(std::move(disk));
  }
  return ok();
}

Result<void> read_vsock(const json::value& value, const JsonOptions& options, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto reader,
                       ObjectReader::open(value, "vsock", {"cid", "socket"}, options));
  VsockConfig vsock;
  CVM_ASSIGN_OR_RETURN(vsock.cid, reader.required_unsigned("cid", UINT64_MAX));
  CVM_ASSIGN_OR_RETURN(vsock.socket, reader.required_path("socket"));
  config.vsock = std::move(vsock);
  return ok();
}

// A bit mask given as a number or as a hex string.
Result<std::optional<uint64_t>> read_mask(const ObjectReader& reader, std::string_view key) {
  const json::value* value = reader.find(key);
  if (value == nullptr) {
    return std::optional<uint64_t>();
  }
  if (const json::string* text = value->if_string()) {
    CVM_ASSIGN_OR_RETURN(const uint64_t mask,
                         at_path(parse_hex_u64(std::string_view(text->data(), text->size())),
                                 reader.child(key)));
    return std::optional<uint64_t>(mask);
  }
  return reader.unsigned_integer(key, UINT64_MAX);
}

Result<void> read_platform(const json::value& value, const JsonOptions& options,
                           VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto reader, ObjectReader::open(value, "platform",
                                                             {"tdx", "sev_snp", "snp_policy",
                                                              "quote_socket", "snp_vcpu_model",
                                                              "snp_vmsa_features", "snp_id_block",
                                                              "snp_id_auth", "snp_author_key",
                                                              "snp_certs", "tsc_khz"},
                                                             options));
  CVM_ASSIGN_OR_RETURN(const auto tdx, reader.boolean("tdx"));
  CVM_ASSIGN_OR_RETURN(const auto sev_snp, reader.boolean("sev_snp"));
  if (tdx.value_or(false) && sev_snp.value_or(false)) {
    return invalid_at("platform", "tdx and sev_snp are mutually exclusive");
  }
  config.platform.tee = tdx.value_or(false)       ? TeeKind::kTdx
                        : sev_snp.value_or(false) ? TeeKind::kSevSnp
                                                  : TeeKind::kNone;
  CVM_ASSIGN_OR_RETURN(const auto quote_socket, reader.path("quote_socket"));
  config.platform.quote_socket = quote_socket.value_or("");
  // The policy and the VMSA features are bit masks, so a hex string is accepted as well as a
  // number.
  CVM_ASSIGN_OR_RETURN(config.platform.snp_policy, read_mask(reader, "snp_policy"));
  CVM_ASSIGN_OR_RETURN(config.platform.snp_vmsa_features, read_mask(reader, "snp_vmsa_features"));
  CVM_ASSIGN_OR_RETURN(const auto vcpu_model, reader.string("snp_vcpu_model"));
  config.platform.snp_vcpu_model = vcpu_model.value_or("");
  CVM_ASSIGN_OR_RETURN(const auto certs, reader.path("snp_certs"));
  config.platform.snp_certs = certs.value_or("");
  const std::tuple<std::string_view, std::size_t, std::vector<uint8_t>*> id_keys[] = {
      {"snp_id_block", kSnpIdBlockBytes, &config.platform.snp_id_block},
      {"snp_id_auth", kSnpIdAuthBytes, &config.platform.snp_id_auth}};
  for (const auto& [key, bytes, field] : id_keys) {
    CVM_ASSIGN_OR_RETURN(const auto text, reader.string(key));
    if (text) {
      CVM_ASSIGN_OR_RETURN(*field, at_path(parse_hex_or_base64(*text, bytes), reader.child(key)));
    }
  }
  CVM_ASSIGN_OR_RETURN(const auto author_key, reader.boolean("snp_author_key"));
  config.platform.snp_author_key_enabled = author_key.value_or(false);
  CVM_ASSIGN_OR_RETURN(const auto tsc_khz, reader.unsigned_integer("tsc_khz", UINT32_MAX));
  if (tsc_khz) {
    config.platform.tsc_khz = static_cast<uint32_t>(*tsc_khz);
  }
  return ok();
}

using SectionReader = Result<void> (*)(const json::value&, const JsonOptions&, VmConfig&);

}  // namespace

Result<VmConfig> config_from_json_value(const json::value& document, const JsonOptions& options) {
  CVM_ASSIGN_OR_RETURN(const auto root,
                       ObjectReader::open(document, "",
                                          {"payload", "cpus", "memory", "serial", "disks", "vsock",
                                           "platform"},
                                          options));
  VmConfig config;
  CVM_ASSIGN_OR_RETURN(const json::value* payload, root.required("payload"));
  CVM_TRY(read_payload(*payload, options, config));
  CVM_TRY(read_cpus_memory(*document.if_object(), options, config));
  const std::pair<std::string_view, SectionReader> sections[] = {
      {"serial", read_serial}, {"disks", read_disks}, {"vsock", read_vsock},
      {"platform", read_platform}};
  for (const auto& [key, read] : sections) {
    if (const json::value* section = root.find(key)) {
      CVM_TRY(read(*section, options, config));
    }
  }
  return config;
}

Result<VmConfig> config_from_json(std::string_view text, const JsonOptions& options) {
  json::stream_parser parser;
  boost::system::error_code ec;
  std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) {
    ec = json::error::extra_data;
  }
  if (!ec) {
    parser.finish(ec);
  }
  if (ec) {
    const std::string_view before = text.substr(0, std::min(consumed, text.size()));
    const std::size_t line = 1 + std::count(before.begin(), before.end(), '\n');
    const std::size_t line_start = before.rfind('\n');
    const std::size_t column =
        1 + before.size() - (line_start == std::string_view::npos ? 0 : line_start + 1);
    return make_error(ErrorCode::kInvalidArgument, "invalid JSON at line {}, column {}: {}", line,
                      column, ec.message());
  }
  CVM_TRY(detail::check_duplicate_keys(text));
  const json::value document = parser.release();
  return config_from_json_value(document, options);
}

}  // namespace cvm::vmm::config
