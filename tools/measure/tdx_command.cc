// SPDX-License-Identifier: Apache-2.0
// cvmm-measure tdx: MRTD (and, for known firmware builds, the RTMR model) of a cvmm TDX launch,
// computed from the same launch plan the TDX backend executes (firmware/tdx/mrtd.h).
#include "base/checked.h"
#include "base/file.h"
#include "base/hex.h"
#include "firmware/fw_cfg_kernel.h"
#include "firmware/initdata.h"
#include "firmware/tdx/mrtd.h"
#include "firmware/tdx/rtmr.h"
#include "tools/measure/commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cvm::tools::measure {
namespace {

namespace fw = cvm::firmware;
namespace tdx = cvm::firmware::tdx;

constexpr int kExitBadInput = 1;
constexpr int kExitUsage = 2;
constexpr uint64_t kDefaultMemory = uint64_t{2} << 30;

constexpr const char* kHelp =
    "usage: cvmm-measure tdx --firmware OVMF.fd [options]\n"
    "\n"
    "Prints the MRTD of a cvmm TDX launch (hex). Options:\n"
    "  --firmware FILE    unified TDVF image (OVMF.fd; a split OVMF_CODE.fd does not work)\n"
    "  --memory SIZE      guest RAM, bytes or with K/M/G/T suffix (binary); default 2G\n"
    "  --kernel FILE      direct-boot kernel   (input to the RTMR model); a bzImage, as\n"
    "                     cvmm demands for --firmware with --kernel\n"
    "  --initrd FILE      direct-boot initrd   (input to the RTMR model)\n"
    "  --append STR       kernel command line  (input to the RTMR model)\n"
    "  --mrconfigid HEX   48-byte MRCONFIGID for KVM_TDX_INIT_VM\n"
    "  --initdata FILE    CoCo initdata TOML; MRCONFIGID = its digest (excludes --mrconfigid)\n"
    "  --json             print inputs, MRTD, RTMR event log and values, MRCONFIGID as JSON\n"
    "  --help             this text\n"
    "The TD's TSC frequency (cvmm --platform tsc_khz) is a TD_PARAMS field that is not\n"
    "measured, so it is no input here.\n"
    "RTMRs are modelled only for firmware builds whose measurements are known; for others,\n"
    "--kernel/--initrd/--append are refused and --json reports \"rtmr\": null.\n"
    "Exit status: 0 success, 1 bad input, 2 usage error.\n";

struct Options {
  std::string firmware;
  uint64_t memory = kDefaultMemory;
  std::optional<std::string> kernel;
  std::optional<std::string> initrd;
  std::optional<std::string> append;
  std::optional<std::string> mrconfigid_hex;
  std::optional<std::string> initdata;
  bool json = false;
  bool help = false;
};

/// A failure with the exit status it maps to.
struct Failure {
  int status;
  std::string message;
};

Failure usage(std::string message) { return {kExitUsage, std::move(message)}; }
Failure bad_input(const Error& error) { return {kExitBadInput, error.message()}; }

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t shift = 0;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      case 'T':
      case 't':
        shift = 40;
        break;
      default:
        break;
    }
  }
  if (shift != 0) {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    auto next = checked_mul<uint64_t>(value, 10);
    next = next ? checked_add<uint64_t>(*next, static_cast<uint64_t>(c - '0')) : std::nullopt;
    if (!next) {
      return std::nullopt;
    }
    value = *next;
  }
  if (shift != 0 && value > (~uint64_t{0} >> shift)) {
    return std::nullopt;
  }
  return value << shift;
}

std::variant<Options, Failure> parse_options(std::span<const std::string_view> args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      return usage(fmt::format("'{}' needs a value", flag));
    }
    const std::string value(args[++i]);
    if (flag == "--firmware") {
      o.firmware = value;
    } else if (flag == "--memory") {
      auto size = parse_size(value);
      if (!size) {
        return usage(
            fmt::format("--memory: '{}' is not a size (e.g. 2G, 512M, 1073741824)", value));
      }
      o.memory = *size;
    } else if (flag == "--kernel") {
      o.kernel = value;
    } else if (flag == "--initrd") {
      o.initrd = value;
    } else if (flag == "--append") {
      o.append = value;
    } else if (flag == "--mrconfigid") {
      o.mrconfigid_hex = value;
    } else if (flag == "--initdata") {
      o.initdata = value;
    } else {
      return usage(fmt::format("unknown option '{}'", flag));
    }
  }
  if (!o.help && o.firmware.empty()) {
    return usage("--firmware is required");
  }
  if (o.mrconfigid_hex && o.initdata) {
    return usage("--mrconfigid and --initdata both set MRCONFIGID; pass one of them");
  }
  return o;
}

/// A loaded input file with its digests.
struct InputFile {
  std::string path;
  std::vector<std::byte> bytes;
};

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;  // UTF-8 passes through; invalid sequences are the caller's input as given
    }
  }
  return out + "\"";
}

std::string json_file(const InputFile& file) {
  return fmt::format("{{\"path\": {}, \"size\": {}, \"sha256\": \"{}\", \"sha384\": \"{}\"}}",
                     json_string(file.path), file.bytes.size(), to_hex(fw::sha256(file.bytes)),
                     to_hex(fw::sha384(file.bytes)));
}

std::string json_events(const std::vector<tdx::RtmrEvent>& events) {
  std::string out = "[";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const tdx::RtmrEvent& e = events[i];
    out += fmt::format(
        "{}\n      {{\"rtmr\": {}, \"event_type\": \"{:#x}\", \"description\": {}, "
        "\"digest\": \"{}\"}}",
        i == 0 ? "" : ",", e.rtmr, e.event_type, json_string(e.description), to_hex(e.digest));
  }
  return out + (events.empty() ? "]" : "\n    ]");
}

std::string json_rtmr(const Result<tdx::RtmrModel>& model) {
  if (!model.has_value()) {
    return fmt::format("null,\n  \"rtmr_unsupported\": {}", json_string(model.error().message()));
  }
  std::string values;
  for (std::size_t i = 0; i < tdx::kRtmrCount; ++i) {
    values += fmt::format("{}\"{}\"", i == 0 ? "" : ", ", to_hex(model->values[i]));
  }
  return fmt::format(
      "{{\n    \"firmware_build\": {},\n    \"events\": {},\n    \"values\": [{}],\n"
      "    \"input_digests\": {},\n    \"note\": {}\n  }}",
      json_string(model->build.name), json_events(model->events), values,
      json_events(model->input_digests),
      json_string(model->build.extends_rtmrs
                      ? "input_digests are the input-defined digests among events"
                      : "this firmware build extends no RTMR; input_digests are what a "
                        "CC-measuring TDVF and Linux EFI stub would extend, for reference only"));
}

struct Measured {
  InputFile firmware;
  std::optional<InputFile> kernel;
  std::optional<InputFile> initrd;
  fw::Sha384Digest mrtd{};
  Result<tdx::RtmrModel> rtmr = Error(ErrorCode::kInternal, "not computed");
  std::array<std::byte, 48> mrconfigid{};
  std::optional<fw::InitdataDigest> initdata;
};

Result<InputFile> load(const std::string& path) {
  CVM_ASSIGN_OR_RETURN(auto bytes, read_file(path));
  return InputFile{path, std::move(bytes)};
}

Result<std::optional<InputFile>> load_optional(const std::optional<std::string>& path) {
  if (!path) {
    return std::optional<InputFile>();
  }
  CVM_ASSIGN_OR_RETURN(InputFile file, load(*path));
  return std::optional<InputFile>(std::move(file));
}

std::variant<Measured, Failure> measure(const Options& o) {
  Measured m;
  auto firmware = load(o.firmware);
  if (!firmware) {
    return bad_input(firmware.error());
  }
  m.firmware = std::move(*firmware);
  auto kernel = load_optional(o.kernel);
  auto initrd = load_optional(o.initrd);
  if (!kernel || !initrd) {
    return bad_input(!kernel ? kernel.error() : initrd.error());
  }
  m.kernel = std::move(*kernel);
  m.initrd = std::move(*initrd);
  if (m.kernel) {  // the kernel cvmm would refuse to hand to the firmware, with cvmm's message
    if (auto checked = fw::check_firmware_boot_kernel(m.kernel->bytes); !checked) {
      return bad_input(Error(checked.error()).context(m.kernel->path));
    }
  }

  const auto blob = std::make_shared<const std::vector<std::byte>>(m.firmware.bytes);
  auto launch = tdx::build_tdx_launch({.firmware = blob, .memory_size = o.memory, .vcpus = 1});
  if (!launch) {
    return bad_input(Error(launch.error()).context(o.firmware));
  }
  m.mrtd = tdx::measure_mrtd(launch->plan);

  tdx::DirectBootInputs boot;
  if (m.kernel) {
    boot.kernel = std::span<const std::byte>(m.kernel->bytes);
  }
  if (m.initrd) {
    boot.initrd = std::span<const std::byte>(m.initrd->bytes);
  }
  boot.cmdline = o.append;
  m.rtmr = tdx::model_rtmrs(*blob, *launch, boot);
  if (!m.rtmr && (o.kernel || o.initrd || o.append)) {
    return bad_input(Error(m.rtmr.error()).context("rtmr model"));
  }

  if (o.mrconfigid_hex) {
    auto bytes = from_hex(*o.mrconfigid_hex, "--mrconfigid");
    if (!bytes || bytes->size() != m.mrconfigid.size()) {
      return usage(bytes ? fmt::format("--mrconfigid must be 48 bytes (96 hex digits), got {}",
                                       bytes->size())
                         : bytes.error().message());
    }
    std::copy(bytes->begin(), bytes->end(), m.mrconfigid.begin());
  }
  if (o.initdata) {
    auto text = read_text_file(*o.initdata);
    auto digest = text ? fw::initdata_digest(*text) : Result<fw::InitdataDigest>(text.error());
    if (!digest) {
      return bad_input(text ? Error(digest.error()).context(*o.initdata) : digest.error());
    }
    m.mrconfigid = digest->mrconfigid();
    m.initdata = std::move(*digest);
  }
  return m;
}

void print_json(const Options& o, const Measured& m) {
  std::string out = "{\n";
  out += fmt::format("  \"firmware\": {},\n", json_file(m.firmware));
  out += fmt::format("  \"memory_size\": {},\n", o.memory);
  out += fmt::format("  \"kernel\": {},\n", m.kernel ? json_file(*m.kernel) : "null");
  out += fmt::format("  \"initrd\": {},\n", m.initrd ? json_file(*m.initrd) : "null");
  out += fmt::format("  \"cmdline\": {},\n", o.append ? json_string(*o.append) : "null");
  out += fmt::format("  \"mrtd\": \"{}\",\n", to_hex(m.mrtd));
  out += fmt::format("  \"rtmr\": {},\n", json_rtmr(m.rtmr));
  if (m.initdata) {
    out += fmt::format(
        "  \"initdata\": {{\"path\": {}, \"algorithm\": \"{}\", \"digest\": \"{}\"}},\n",
        json_string(*o.initdata), fw::initdata_algorithm_name(m.initdata->algorithm),
        to_hex(m.initdata->digest));
  }
  out += fmt::format("  \"mrconfigid\": \"{}\"\n}}\n", to_hex(m.mrconfigid));
  std::fputs(out.c_str(), stdout);
}

}  // namespace

int run_tdx(std::span<const std::string_view> args) {
  auto parsed = parse_options(args);
  if (auto* failure = std::get_if<Failure>(&parsed)) {
    std::fprintf(stderr, "cvmm-measure tdx: %s (see 'cvmm-measure tdx --help')\n",
                 failure->message.c_str());
    return failure->status;
  }
  const Options& options = std::get<Options>(parsed);
  if (options.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  auto result = measure(options);
  if (auto* failure = std::get_if<Failure>(&result)) {
    std::fprintf(stderr, "cvmm-measure tdx: %s\n", failure->message.c_str());
    return failure->status;
  }
  const Measured& measured = std::get<Measured>(result);
  if (options.json) {
    print_json(options, measured);
  } else {
    std::printf("%s\n", to_hex(measured.mrtd).c_str());
  }
  return 0;
}

}  // namespace cvm::tools::measure
