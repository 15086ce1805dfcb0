// SPDX-License-Identifier: Apache-2.0
// cvmm-measure snp: the expected SEV / SEV-ES / SEV-SNP launch measurement of an OVMF guest.
// It builds the same launch plan the SNP backend executes (firmware/snp/snp_launch_plan.h)
// and folds it with the launch-digest model (firmware/snp/launch_digest.h). Results go to
// stdout; one error line goes to stderr, with exit status 2 for usage errors and 1 for bad
// input (missing or malformed files, firmware without the needed support).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/file.h"
#include "base/hex.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "firmware/fw_cfg_kernel.h"
#include "firmware/initdata.h"
#include "firmware/sha.h"
#include "firmware/snp/cpu_models.h"
#include "firmware/snp/launch_digest.h"
#include "firmware/snp/snp_launch_plan.h"
#include "tools/measure/commands.h"

namespace cvm::tools::measure {
namespace {

using firmware::Blob;
using firmware::LaunchPlan;
using firmware::PlanRange;
using namespace firmware::snp;  // NOLINT(google-build-using-namespace): this file is its client

constexpr const char* kHelp =
    "usage: cvmm-measure snp --firmware OVMF.fd [--mode snp|sev|seves|snp:ovmf-hash]\n"
    "         --vcpus N --vcpu-type MODEL --vmm-type cvmm|qemu|ec2|gce\n"
    "         [--guest-features HEX] [--kernel FILE [--initrd FILE] [--append CMDLINE]]\n"
    "         [--ovmf-hash HEX] [--initdata FILE] [--json]\n"
    "\n"
    "Prints the launch digest an AMD secure processor computes for an OVMF guest:\n"
    "  snp            SEV-SNP MEASUREMENT, SHA-384 (default)\n"
    "  seves, sev     SEV-ES / SEV launch digest, SHA-256\n"
    "  snp:ovmf-hash  the SNP digest after the firmware pages only; pass it back as\n"
    "                 --ovmf-hash to skip hashing the firmware (it is still read for its\n"
    "                 metadata)\n"
    "\n"
    "  --firmware FILE       unified OVMF image, mapped to end at 4 GiB\n"
    "  --vcpus N             number of vCPUs (seves, snp)\n"
    "  --vcpu-type MODEL     QEMU CPU model giving the CPUID signature (cvmm, qemu);\n"
    "                        EPYC, EPYC-v4, EPYC-Milan, EPYC-Genoa, ...\n"
    "  --vmm-type TYPE       whose vCPU reset state and page types: cvmm (same as qemu),\n"
    "                        qemu, ec2, gce (seves, snp)\n"
    "  --guest-features HEX  VMSA SEV_FEATURES (default 0x1 for snp, 0x0 for seves)\n"
    "  --kernel, --initrd, --append\n"
    "                        measured direct boot: hash these into the firmware's SEV\n"
    "                        kernel-hashes table. With --vmm-type cvmm the kernel must be a\n"
    "                        bzImage, as cvmm demands; other types hash any file\n"
    "  --ovmf-hash HEX       precomputed snp:ovmf-hash value (snp only)\n"
    "  --initdata FILE       CoCo initdata TOML; HOST_DATA (32 bytes) = its digest. HOST_DATA\n"
    "                        is reported with --json; it does not change the measurement\n"
    "  --json                print every input hash and every measured component\n";

// A usage error exits with status 2, anything else with 1.
struct CommandError {
  int status;
  std::string message;
};

struct SnpOptions {
  std::string firmware_path;
  std::string mode_text = "snp";
  SevMode mode = SevMode::kSnp;
  bool ovmf_hash_mode = false;
  std::optional<uint32_t> vcpus;
  std::optional<CpuModel> cpu_model;
  std::optional<VmmType> vmm;
  std::optional<uint64_t> guest_features;
  std::optional<std::string> kernel_path;
  std::optional<std::string> initrd_path;
  std::optional<std::string> append;
  std::optional<firmware::Sha384Digest> ovmf_hash;
  std::optional<std::string> initdata_path;
  bool json = false;
  bool help = false;
};

CommandError usage(std::string message) { return {2, message + " (see 'cvmm-measure snp --help')"}; }

template <typename T>
std::optional<T> parse_unsigned(std::string_view text, int base) {
  if (base == 16 && (text.starts_with("0x") || text.starts_with("0X"))) {
    text.remove_prefix(2);
  }
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// Applies one option with its value; returns a usage error for a bad value.
std::optional<CommandError> apply_option(SnpOptions& o, std::string_view name,
                                         std::string_view value) {
  if (name == "--firmware") {
    o.firmware_path = value;
  } else if (name == "--mode") {
    o.mode_text = value;
    o.ovmf_hash_mode = value == "snp:ovmf-hash";
    const auto mode = o.ovmf_hash_mode ? std::optional(SevMode::kSnp) : parse_sev_mode(value);
    if (!mode) {
      return usage(fmt::format("unknown --mode '{}'; use snp, seves, sev or snp:ovmf-hash", value));
    }
    o.mode = *mode;
  } else if (name == "--vcpus") {
    o.vcpus = parse_unsigned<uint32_t>(value, 10);
    if (!o.vcpus || *o.vcpus == 0 || *o.vcpus > kMaxSnpVcpus) {
      return usage(fmt::format("--vcpus '{}' is not a number in [1, {}]", value, kMaxSnpVcpus));
    }
  } else if (name == "--vcpu-type") {
    o.cpu_model = find_cpu_model(value);
    if (!o.cpu_model) {
      return usage(fmt::format("unknown --vcpu-type '{}'; known models: {}", value,
                               known_cpu_model_names()));
    }
  } else if (name == "--vmm-type") {
    o.vmm = parse_vmm_type(value);
    if (!o.vmm) {
      return usage(fmt::format("unknown --vmm-type '{}'; use cvmm, qemu, ec2 or gce", value));
    }
  } else if (name == "--guest-features") {
    o.guest_features = parse_unsigned<uint64_t>(value, 16);
    if (!o.guest_features) {
      return usage(fmt::format("--guest-features '{}' is not a hex number", value));
    }
  } else if (name == "--kernel") {
    o.kernel_path = value;
  } else if (name == "--initrd") {
    o.initrd_path = value;
  } else if (name == "--append") {
    o.append = value;
  } else if (name == "--initdata") {
    o.initdata_path = value;
  } else if (name == "--ovmf-hash") {
    auto bytes = from_hex(value, "--ovmf-hash");
    if (!bytes || bytes->size() != sizeof(firmware::Sha384Digest)) {
      return usage(fmt::format("--ovmf-hash must be 96 hex digits (a SHA-384 digest)"));
    }
    o.ovmf_hash.emplace();
    std::copy(bytes->begin(), bytes->end(), o.ovmf_hash->begin());
  } else {
    return usage(fmt::format("unknown option '{}'", name));
  }
  return std::nullopt;
}

std::optional<CommandError> check_combination(const SnpOptions& o) {
  if (o.firmware_path.empty()) {
    return usage("missing --firmware");
  }
  if ((o.initrd_path || o.append) && !o.kernel_path) {
    return usage("--initrd and --append need --kernel");
  }
  if (o.ovmf_hash && (o.mode != SevMode::kSnp || o.ovmf_hash_mode)) {
    return usage("--ovmf-hash only works with --mode snp");
  }
  if (o.ovmf_hash_mode || o.mode == SevMode::kSev) {
    return std::nullopt;
  }
  if (!o.vcpus) {
    return usage(fmt::format("missing --vcpus in mode '{}'", o.mode_text));
  }
  if (!o.vmm) {
    return usage(fmt::format("missing --vmm-type in mode '{}'", o.mode_text));
  }
  const bool needs_signature = *o.vmm == VmmType::kCvmm || *o.vmm == VmmType::kQemu;
  if (needs_signature && !o.cpu_model) {
    return usage(fmt::format("missing --vcpu-type for --vmm-type {}", vmm_type_name(*o.vmm)));
  }
  return std::nullopt;
}

std::variant<SnpOptions, CommandError> parse_args(std::span<const std::string_view> args) {
  SnpOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name == "--help" || name == "-h") {
      o.help = true;
      return o;
    }
    if (name == "--json") {
      o.json = true;
      continue;
    }
    std::string_view value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return usage(fmt::format("option '{}' needs a value", name));
    }
    if (auto error = apply_option(o, name, value)) {
      return *error;
    }
  }
  if (auto error = check_combination(o)) {
    return *error;
  }
  return o;
}

// SHA-256 of a whole file, read in 1 MiB chunks so a large initrd is never held in memory.
struct FileDigest {
  firmware::Sha256Digest sha256{};
  uint64_t size = 0;
};
Result<FileDigest> hash_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return errno_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, path, err);
  }
  firmware::Hasher hasher(firmware::HashAlgorithm::kSha256);
  std::vector<std::byte> chunk(std::size_t{1} << 20);
  FileDigest digest;
  for (;;) {
    const ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno_error(ErrorCode::kIo, path, errno);
    }
    if (n == 0) {
      break;
    }
    hasher.update(std::span<const std::byte>(chunk).first(static_cast<std::size_t>(n)));
    digest.size += static_cast<uint64_t>(n);
  }
  hasher.finish(digest.sha256);
  return digest;
}

// --kernel. cvmm refuses a kernel the firmware cannot take from fw_cfg, so for --vmm-type cvmm
// the same rule (firmware/fw_cfg_kernel.h) applies here; the other VMM types hash any file, as
// virtee/sev-snp-measure does (its reference tests use a 10000-byte pattern "kernel").
Result<FileDigest> load_kernel(const SnpOptions& o) {
  if (o.vmm != VmmType::kCvmm) {
    return hash_file(*o.kernel_path);
  }
  CVM_ASSIGN_OR_RETURN(const std::vector<std::byte> bytes, read_file(*o.kernel_path));
  auto checked = firmware::check_firmware_boot_kernel(bytes);
  if (!checked) {
    return std::move(checked).error().context(*o.kernel_path);
  }
  return FileDigest{firmware::sha256(bytes), bytes.size()};
}

// The loaded inputs of one run, with what --json reports about them.
struct LoadedInputs {
  Blob firmware;
  std::optional<KernelHashes> kernel_hashes;
  /// SNP HOST_DATA from --initdata.
  std::optional<std::array<std::byte, 32>> host_data;
  boost::json::object json;
};

// --initdata: HOST_DATA = the initdata digest (firmware/initdata.h), kept for --json.
Result<void> load_initdata(const std::string& path, LoadedInputs& in) {
  CVM_ASSIGN_OR_RETURN(const std::string document, read_text_file(path));
  auto digest = firmware::initdata_digest(document);
  if (!digest) {
    return std::move(digest).error().context(path);
  }
  in.host_data = digest->host_data();
  in.json["initdata"] = {{"path", path},
                         {"algorithm", firmware::initdata_algorithm_name(digest->algorithm)},
                         {"digest", to_hex(digest->digest)}};
  return ok();
}

Result<LoadedInputs> load_inputs(const SnpOptions& o) {
  LoadedInputs in;
  CVM_ASSIGN_OR_RETURN(auto firmware_bytes, read_file(o.firmware_path));
  in.firmware = std::make_shared<const std::vector<std::byte>>(std::move(firmware_bytes));
  if (o.json) {
    in.json["firmware"] = {{"path", o.firmware_path},
                           {"size", in.firmware->size()},
                           {"sha256", to_hex(firmware::sha256(*in.firmware))},
                           {"sha384", to_hex(firmware::sha384(*in.firmware))}};
  }
  if (o.initdata_path) {
    CVM_TRY(load_initdata(*o.initdata_path, in));
  }
  if (!o.kernel_path) {
    return in;
  }
  CVM_ASSIGN_OR_RETURN(const FileDigest kernel, load_kernel(o));
  FileDigest initrd{firmware::sha256({}), 0};
  if (o.initrd_path) {
    CVM_ASSIGN_OR_RETURN(initrd, hash_file(*o.initrd_path));
  }
  const std::string cmdline = o.append.value_or("");
  in.kernel_hashes = KernelHashes{kernel.sha256, initrd.sha256, hash_cmdline(cmdline)};
  in.json["kernel"] = {{"path", *o.kernel_path},
                       {"size", kernel.size},
                       {"sha256", to_hex(kernel.sha256)}};
  in.json["initrd"] = {{"path", o.initrd_path.value_or("")},
                       {"size", initrd.size},
                       {"sha256", to_hex(initrd.sha256)}};
  in.json["cmdline"] = {{"value", cmdline}, {"sha256", to_hex(in.kernel_hashes->cmdline)}};
  return in;
}

std::string_view page_kind_name(firmware::PageKind kind) {
  switch (kind) {
    case firmware::PageKind::kNormal:
      return "normal";
    case firmware::PageKind::kVmsa:
      return "vmsa";
    case firmware::PageKind::kZero:
      return "zero";
    case firmware::PageKind::kUnmeasured:
      return "unmeasured";
    case firmware::PageKind::kSecrets:
      return "secrets";
    case firmware::PageKind::kCpuid:
      return "cpuid";
  }
  return "unknown";
}

// SHA-256 or SHA-384 of a range's bytes, zero-filled to its size.
std::string range_contents_hash(const PlanRange& range, firmware::HashAlgorithm algorithm) {
  firmware::Hasher hasher(algorithm);
  const auto contents = range.contents();
  hasher.update(contents);
  const std::vector<std::byte> zeros(range.size - contents.size());
  hasher.update(zeros);
  std::vector<std::byte> digest(algorithm == firmware::HashAlgorithm::kSha256 ? 32 : 48);
  hasher.finish(digest);
  return to_hex(digest);
}

// One --json entry per plan range; for SNP with the launch digest after the range.
boost::json::array describe_components(const LaunchPlan& plan, const SnpOptions& o) {
  boost::json::array components;
  const bool snp = o.mode == SevMode::kSnp;
  SnpLaunchDigest gctx;
  for (std::size_t i = 0; i < plan.ranges.size(); ++i) {
    const PlanRange& range = plan.ranges[i];
    boost::json::object entry{{"label", range.label},
                              {"page_type", page_kind_name(range.kind)},
                              {"gpa", fmt::format("{:#x}", range.gpa)},
                              {"size", range.size}};
    if (range.kind == firmware::PageKind::kNormal || range.kind == firmware::PageKind::kVmsa) {
      entry[snp ? "contents_sha384" : "contents_sha256"] = range_contents_hash(
          range, snp ? firmware::HashAlgorithm::kSha384 : firmware::HashAlgorithm::kSha256);
    }
    if (snp) {
      if (o.ovmf_hash && i < plan.firmware_ranges) {
        gctx = SnpLaunchDigest(*o.ovmf_hash);
      } else {
        gctx.update_range(range);
      }
      entry["digest_after"] = to_hex(gctx.digest());
    }
    components.push_back(std::move(entry));
  }
  return components;
}

std::string measurement_hex(const LaunchPlan& plan, const SnpOptions& o) {
  if (o.ovmf_hash_mode) {
    return to_hex(measure_snp_firmware(plan));
  }
  if (o.mode != SevMode::kSnp) {
    return to_hex(measure_sev(plan));
  }
  return to_hex(o.ovmf_hash ? measure_snp(plan, *o.ovmf_hash) : measure_snp(plan));
}

boost::json::object describe_run(const SnpOptions& o, const LaunchPlan& plan,
                                 LoadedInputs& in, const std::string& measurement) {
  boost::json::object out{{"mode", o.mode_text}};
  if (o.vmm) {
    out["vmm_type"] = vmm_type_name(*o.vmm);
  }
  if (o.vcpus) {
    out["vcpus"] = *o.vcpus;
  }
  if (o.cpu_model) {
    out["vcpu_type"] = o.cpu_model->name;
    out["vcpu_signature"] = fmt::format("{:#x}", o.cpu_model->signature());
  }
  out["guest_features"] =
      fmt::format("{:#x}", o.guest_features.value_or(default_guest_features(o.mode)));
  if (o.ovmf_hash) {
    in.json["ovmf_hash"] = to_hex(*o.ovmf_hash);
  }
  if (in.host_data) {
    out["host_data"] = to_hex(*in.host_data);
  }
  out["inputs"] = std::move(in.json);
  out["components"] = describe_components(plan, o);
  out["measurement"] = measurement;
  return out;
}

std::variant<std::string, CommandError> run(const SnpOptions& o) {
  auto loaded = load_inputs(o);
  if (!loaded) {
    return CommandError{1, loaded.error().message()};
  }
  if (o.ovmf_hash_mode && o.kernel_path) {
    return usage("--kernel has no effect in mode snp:ovmf-hash");
  }
  SnpLaunchInputs inputs;
  inputs.mode = o.mode;
  inputs.firmware = loaded->firmware;
  inputs.vcpus = o.vcpus.value_or(1);
  inputs.vmm = o.vmm.value_or(VmmType::kCvmm);
  inputs.cpu_signature = o.cpu_model ? o.cpu_model->signature() : 0;
  inputs.guest_features = o.guest_features;
  inputs.kernel_hashes = loaded->kernel_hashes;
  auto plan = build_snp_launch_plan(inputs);
  if (!plan) {
    return CommandError{1, std::move(plan).error().context(o.firmware_path).message()};
  }
  const std::string measurement = measurement_hex(*plan, o);
  if (!o.json) {
    return measurement;
  }
  return boost::json::serialize(describe_run(o, *plan, *loaded, measurement));
}

}  // namespace

int run_snp(std::span<const std::string_view> args) {
  auto parsed = parse_args(args);
  if (auto* error = std::get_if<CommandError>(&parsed)) {
    std::fprintf(stderr, "cvmm-measure snp: %s\n", error->message.c_str());
    return error->status;
  }
  const SnpOptions& options = std::get<SnpOptions>(parsed);
  if (options.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  auto result = run(options);
  if (auto* error = std::get_if<CommandError>(&result)) {
    std::fprintf(stderr, "cvmm-measure snp: %s\n", error->message.c_str());
    return error->status;
  }
  std::printf("%s\n", std::get<std::string>(result).c_str());
  return 0;
}

}  // namespace cvm::tools::measure
