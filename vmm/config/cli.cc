// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/cli.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <utility>
#include <vector>

#include "vmm/config/value_parsers.h"

namespace cvm::vmm::config {
namespace {

Error usage_error(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

struct Option {
  std::string key;
  std::string value;
  bool has_value = false;  // "key=value" rather than a bare word
};

/// Splits "a=1,b=\"x,y\"" into options. Double quotes group characters (commas and '='
/// inside them are literal) and are removed, as in a shell word.
Result<std::vector<Option>> split_options(std::string_view flag, std::string_view text) {
  std::vector<Option> options(1);
  bool quoted = false;
  bool item_empty = true;
  for (char c : text) {
    Option& current = options.back();
    if (c == '"') {
      quoted = !quoted;
      item_empty = false;
    } else if (c == ',' && !quoted) {
      if (item_empty) {
        return usage_error(fmt::format("--{}: empty option in {}", flag, quote(text)));
      }
      options.emplace_back();
      item_empty = true;
    } else if (c == '=' && !quoted && !current.has_value) {
      current.has_value = true;
      item_empty = false;
    } else {
      (current.has_value ? current.value : current.key).push_back(c);
      item_empty = false;
    }
  }
  if (quoted) {
    return usage_error(fmt::format("--{}: unterminated quote in {}", flag, quote(text)));
  }
  if (item_empty) {
    return usage_error(text.empty() ? fmt::format("--{}: empty value", flag)
                                    : fmt::format("--{}: empty option in {}", flag, quote(text)));
  }
  return options;
}

/// A parsed "key=value,..." flag value whose keys are all known and unique.
class OptionList {
 public:
  static Result<OptionList> parse(std::string_view flag, std::string_view text,
                                  std::initializer_list<std::string_view> keys) {
    CVM_ASSIGN_OR_RETURN(auto options, split_options(flag, text));
    const std::string expected = fmt::format("{}", fmt::join(keys, ", "));
    for (std::size_t i = 0; i < options.size(); ++i) {
      const Option& option = options[i];
      if (!option.has_value) {
        return usage_error(fmt::format("--{}: expected key=value, got {} (keys: {})", flag,
                                       quote(option.key), expected));
      }
      if (std::find(keys.begin(), keys.end(), option.key) == keys.end()) {
        return usage_error(fmt::format("--{}: unknown key {} (keys: {})", flag,
                                       quote(option.key), expected));
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (options[j].key == option.key) {
          return usage_error(fmt::format("--{}: key '{}' given twice", flag, option.key));
        }
      }
    }
    return OptionList(flag, std::move(options));
  }

  const std::string* find(std::string_view key) const {
    for (const Option& option : options_) {
      if (option.key == key) {
        return &option.value;
      }
    }
    return nullptr;
  }

  Result<std::string> required(std::string_view key) const {
    const std::string* value = find(key);
    if (value == nullptr) {
      return usage_error(fmt::format("--{}: missing key '{}'", flag_, key));
    }
    return *value;
  }

  // Typed accessors: nullopt when the key is absent; errors get "--flag key: " prepended.
  Result<std::optional<bool>> boolean(std::string_view key) const {
    return convert<bool>(key, [](std::string_view v) { return parse_bool(v); });
  }
  Result<std::optional<uint64_t>> decimal(std::string_view key, uint64_t max) const {
    return convert<uint64_t>(key, [max](std::string_view v) { return parse_decimal(v, max); });
  }
  Result<std::optional<uint64_t>> size(std::string_view key) const {
    return convert<uint64_t>(key, [](std::string_view v) { return parse_size(v); });
  }
  Result<std::optional<uint64_t>> hex_u64(std::string_view key) const {
    return convert<uint64_t>(key, [](std::string_view v) { return parse_hex_u64(v); });
  }
  Result<std::optional<std::vector<uint8_t>>> tee_bytes(std::string_view key,
                                                        std::size_t bytes) const {
    return convert<std::vector<uint8_t>>(
        key, [bytes](std::string_view v) { return parse_hex_or_base64(v, bytes); });
  }

 private:
  OptionList(std::string_view flag, std::vector<Option> options)
      : flag_(flag), options_(std::move(options)) {}

  template <typename T, typename Parse>
  Result<std::optional<T>> convert(std::string_view key, Parse parse) const {
    const std::string* text = find(key);
    if (text == nullptr) {
      return std::optional<T>();
    }
    Result<T> value = parse(*text);
    if (!value) {
      return std::move(value.error()).context(fmt::format("--{} {}", flag_, key));
    }
    return std::optional<T>(std::move(value).value());
  }

  std::string flag_;
  std::vector<Option> options_;
};

Result<void> apply_cpus(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto options, OptionList::parse("cpus", text, {"boot"}));
  CVM_ASSIGN_OR_RETURN(const auto boot, options.decimal("boot", UINT32_MAX));
  if (!boot) {
    return usage_error("--cpus: missing key 'boot'");
  }
  config.cpus.boot_vcpus = static_cast<unsigned>(*boot);
  return ok();
}

Result<void> apply_memory(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto options,
                       OptionList::parse("memory", text, {"size", "guest_memfd", "hugepages"}));
  CVM_ASSIGN_OR_RETURN(const auto size, options.size("size"));
  CVM_ASSIGN_OR_RETURN(const auto guest_memfd, options.boolean("guest_memfd"));
  CVM_ASSIGN_OR_RETURN(const auto hugepages, options.boolean("hugepages"));
  config.memory.size_bytes = size.value_or(config.memory.size_bytes);
  config.memory.guest_memfd = guest_memfd.value_or(false);
  config.memory.hugepages = hugepages.value_or(false);
  return ok();
}

Result<void> apply_serial(std::string_view text, VmConfig& config) {
  if (text == "tty" || text == "off") {
    config.serial.mode = text == "tty" ? SerialMode::kTty : SerialMode::kOff;
    config.serial.file.clear();
    return ok();
  }
  if (text.starts_with("file=")) {
    CVM_ASSIGN_OR_RETURN(const auto options, OptionList::parse("serial", text, {"file"}));
    CVM_ASSIGN_OR_RETURN(config.serial.file, options.required("file"));
    config.serial.mode = SerialMode::kFile;
    return ok();
  }
  return usage_error(
      fmt::format("--serial: {} is not supported (expected tty, off or file=PATH)", quote(text)));
}

Result<void> apply_disk(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto options,
                       OptionList::parse("disk", text, {"path", "readonly", "id"}));
  DiskConfig disk;
  CVM_ASSIGN_OR_RETURN(disk.path, options.required("path"));
  CVM_ASSIGN_OR_RETURN(const auto readonly, options.boolean("readonly"));
  disk.readonly = readonly.value_or(false);
  if (const std::string* id = options.find("id")) {
    disk.id = *id;
  }
  config.disks.push_back(std::move(disk));
  return ok();
}

Result<void> apply_vsock(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(const auto options, OptionList::parse("vsock", text, {"cid", "socket"}));
  VsockConfig vsock;
  CVM_TRY(options.required("cid"));
  CVM_ASSIGN_OR_RETURN(const auto cid, options.decimal("cid", UINT64_MAX));
  vsock.cid = *cid;
  CVM_ASSIGN_OR_RETURN(vsock.socket, options.required("socket"));
  config.vsock = std::move(vsock);
  return ok();
}

// The SEV-SNP launch inputs vmm/snp uses beyond policy and HOST_DATA.
Result<void> apply_snp_launch_options(const OptionList& options, PlatformConfig& platform) {
  if (const std::string* model = options.find("snp_vcpu_model")) {
    if (model->empty()) {
      return usage_error("--platform snp_vcpu_model: empty name");
    }
    platform.snp_vcpu_model = *model;
  }
  if (const std::string* certs = options.find("snp_certs")) {
    if (certs->empty()) {
      return usage_error("--platform snp_certs: empty path");
    }
    platform.snp_certs = *certs;
  }
  CVM_ASSIGN_OR_RETURN(platform.snp_vmsa_features, options.hex_u64("snp_vmsa_features"));
  CVM_ASSIGN_OR_RETURN(const auto id_block, options.tee_bytes("snp_id_block", kSnpIdBlockBytes));
  CVM_ASSIGN_OR_RETURN(const auto id_auth, options.tee_bytes("snp_id_auth", kSnpIdAuthBytes));
  platform.snp_id_block = id_block.value_or(std::vector<uint8_t>());
  platform.snp_id_auth = id_auth.value_or(std::vector<uint8_t>());
  CVM_ASSIGN_OR_RETURN(const auto author_key, options.boolean("snp_author_key"));
  platform.snp_author_key_enabled = author_key.value_or(false);
  return ok();
}

Result<void> apply_platform(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(
      const auto options,
      OptionList::parse("platform", text,
                        {"tdx", "sev_snp", "policy", "host_data", "mrconfigid", "mrowner",
                         "mrownerconfig", "quote_socket", "snp_vcpu_model", "snp_vmsa_features",
                         "snp_id_block", "snp_id_auth", "snp_author_key", "snp_certs",
                         "tsc_khz"}));
  CVM_ASSIGN_OR_RETURN(const auto tdx, options.boolean("tdx"));
  CVM_ASSIGN_OR_RETURN(const auto sev_snp, options.boolean("sev_snp"));
  if (tdx.value_or(false) && sev_snp.value_or(false)) {
    return usage_error("--platform: tdx=on and sev_snp=on are mutually exclusive");
  }
  PlatformConfig& platform = config.platform;
  platform.tee = tdx.value_or(false)       ? TeeKind::kTdx
                 : sev_snp.value_or(false) ? TeeKind::kSevSnp
                                           : TeeKind::kNone;
  CVM_ASSIGN_OR_RETURN(platform.snp_policy, options.hex_u64("policy"));
  CVM_ASSIGN_OR_RETURN(const auto host_data, options.tee_bytes("host_data", kHostDataBytes));
  CVM_ASSIGN_OR_RETURN(const auto mrconfigid, options.tee_bytes("mrconfigid", kMrConfigIdBytes));
  platform.host_data = host_data.value_or(std::vector<uint8_t>());
  platform.mrconfigid = mrconfigid.value_or(std::vector<uint8_t>());
  CVM_ASSIGN_OR_RETURN(const auto mrowner, options.tee_bytes("mrowner", kMrConfigIdBytes));
  CVM_ASSIGN_OR_RETURN(const auto mrownerconfig,
                       options.tee_bytes("mrownerconfig", kMrConfigIdBytes));
  platform.mrowner = mrowner.value_or(std::vector<uint8_t>());
  platform.mrownerconfig = mrownerconfig.value_or(std::vector<uint8_t>());
  if (const std::string* socket = options.find("quote_socket")) {
    if (socket->empty()) {
      return usage_error("--platform quote_socket: empty path");
    }
    platform.quote_socket = *socket;
  }
  CVM_ASSIGN_OR_RETURN(const auto tsc_khz, options.decimal("tsc_khz", UINT32_MAX));
  platform.tsc_khz.reset();
  if (tsc_khz) {
    platform.tsc_khz = static_cast<uint32_t>(*tsc_khz);
  }
  return apply_snp_launch_options(options, platform);
}

/// Flags whose value is a path: an empty one is always a mistake.
Result<std::string> nonempty_path(std::string_view flag, std::string_view text) {
  if (text.empty()) {
    return usage_error(fmt::format("--{}: empty path", flag));
  }
  return std::string(text);
}

Result<void> apply_kernel(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(config.payload.kernel, nonempty_path("kernel", text));
  return ok();
}
Result<void> apply_initramfs(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(config.payload.initramfs, nonempty_path("initramfs", text));
  return ok();
}
Result<void> apply_firmware(std::string_view text, VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(config.payload.firmware, nonempty_path("firmware", text));
  return ok();
}
Result<void> apply_cmdline(std::string_view text, VmConfig& config) {
  config.payload.cmdline = std::string(text);
  return ok();
}

struct FlagSpec {
  std::string_view name;  // without the leading "--"
  bool repeatable;
  Result<void> (*apply)(std::string_view value, VmConfig& config);  // nullptr: --config
};

constexpr std::array<FlagSpec, 11> kFlags = {{
    {"kernel", false, apply_kernel},
    {"initramfs", false, apply_initramfs},
    {"cmdline", false, apply_cmdline},
    {"firmware", false, apply_firmware},
    {"cpus", false, apply_cpus},
    {"memory", false, apply_memory},
    {"serial", false, apply_serial},
    {"disk", true, apply_disk},
    {"vsock", false, apply_vsock},
    {"platform", false, apply_platform},
    {"config", false, nullptr},
}};

const FlagSpec* find_flag(std::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

/// One "--flag value" or "--flag=value" occurrence.
struct FlagUse {
  const FlagSpec* spec;
  std::string_view value;
};

/// Reads the flag at args[i]; advances i past its value.
Result<FlagUse> next_flag(std::span<const std::string_view> args, std::size_t& i) {
  const std::string_view arg = args[i];
  if (!arg.starts_with("--") || arg.size() == 2) {
    return usage_error(fmt::format("unexpected argument {} (see 'cvmm run --help')", quote(arg)));
  }
  const std::size_t equals = arg.find('=');
  const std::string_view name = arg.substr(2, equals == std::string_view::npos ? arg.npos : equals - 2);
  const FlagSpec* spec = find_flag(name);
  if (spec == nullptr) {
    return usage_error(fmt::format("unknown flag {} (see 'cvmm run --help')", quote(arg.substr(0, equals))));
  }
  if (equals != std::string_view::npos) {
    return FlagUse{spec, arg.substr(equals + 1)};
  }
  // A following "--flag" means the value was forgotten; "--flag=--x" passes such a value.
  if (i + 1 >= args.size() || args[i + 1].starts_with("--")) {
    return usage_error(fmt::format("--{}: missing value", name));
  }
  ++i;
  return FlagUse{spec, args[i]};
}

}  // namespace

Result<RunArgs> parse_run_args(std::span<const std::string_view> args) {
  RunArgs result;
  for (std::string_view arg : args) {
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
  }
  std::vector<const FlagSpec*> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    CVM_ASSIGN_OR_RETURN(const FlagUse use, next_flag(args, i));
    if (!use.spec->repeatable && std::find(seen.begin(), seen.end(), use.spec) != seen.end()) {
      return usage_error(fmt::format("--{}: given more than once", use.spec->name));
    }
    seen.push_back(use.spec);
    if (use.spec->apply == nullptr) {
      CVM_ASSIGN_OR_RETURN(result.config_file, nonempty_path("config", use.value));
    } else {
      CVM_TRY(use.spec->apply(use.value, result.config));
    }
  }
  if (result.config_file) {
    for (const FlagSpec* spec : seen) {
      if (spec->apply != nullptr) {
        return usage_error(fmt::format("--config cannot be combined with --{}", spec->name));
      }
    }
  }
  return result;
}

std::string cli_field_name(ConfigField field, std::size_t index) {
  switch (field) {
    case ConfigField::kKernel:
      return "--kernel";
    case ConfigField::kInitramfs:
      return "--initramfs";
    case ConfigField::kCmdline:
      return "--cmdline";
    case ConfigField::kFirmware:
      return "--firmware";
    case ConfigField::kBootVcpus:
      return "--cpus boot";
    case ConfigField::kMemorySize:
      return "--memory size";
    case ConfigField::kGuestMemfd:
      return "--memory guest_memfd";
    case ConfigField::kHugepages:
      return "--memory hugepages";
    case ConfigField::kSerialMode:
      return "--serial";
    case ConfigField::kSerialFile:
      return "--serial file";
    case ConfigField::kDiskPath:
      return fmt::format("--disk #{} path", index + 1);
    case ConfigField::kDiskId:
      return fmt::format("--disk #{} id", index + 1);
    case ConfigField::kVsockCid:
      return "--vsock cid";
    case ConfigField::kVsockSocket:
      return "--vsock socket";
    case ConfigField::kTdx:
      return "--platform tdx=on";
    case ConfigField::kSevSnp:
      return "--platform sev_snp=on";
    case ConfigField::kSnpPolicy:
      return "--platform policy";
    case ConfigField::kHostData:
      return "--platform host_data";
    case ConfigField::kMrConfigId:
      return "--platform mrconfigid";
    case ConfigField::kMrOwner:
      return "--platform mrowner";
    case ConfigField::kMrOwnerConfig:
      return "--platform mrownerconfig";
    case ConfigField::kQuoteSocket:
      return "--platform quote_socket";
    case ConfigField::kSnpVcpuModel:
      return "--platform snp_vcpu_model";
    case ConfigField::kSnpVmsaFeatures:
      return "--platform snp_vmsa_features";
    case ConfigField::kSnpIdBlock:
      return "--platform snp_id_block";
    case ConfigField::kSnpIdAuth:
      return "--platform snp_id_auth";
    case ConfigField::kSnpAuthorKey:
      return "--platform snp_author_key";
    case ConfigField::kSnpCerts:
      return "--platform snp_certs";
    case ConfigField::kTscKhz:
      return "--platform tsc_khz";
  }
  return "--?";
}

}  // namespace cvm::vmm::config
