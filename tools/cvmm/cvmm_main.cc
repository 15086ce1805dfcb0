// SPDX-License-Identifier: Apache-2.0
#include "tools/cvmm/cvmm_main.h"

#include <algorithm>

#include "cvmm_version.h"
#include "vmm/config/cli.h"
#include "vmm/config/json.h"
#include "vmm/config/validate.h"

namespace cvm::tools {
namespace {

using vmm::config::RunArgs;

constexpr std::string_view kUsage =
    "usage: cvmm run [FLAGS]          boot a VM (see 'cvmm run --help')\n"
    "       cvmm run --config FILE    boot the VM described by a JSON file\n"
    "       cvmm --api-socket PATH [-v] [--seccomp false]\n"
    "                                 serve Cloud Hypervisor's REST API on a Unix socket\n"
    "                                 (vmm.ping, vm.create, vm.info, vm.boot, vmm.shutdown)\n"
    "       cvmm host-check           which guests (plain KVM, TDX, SEV-SNP) this host can run\n"
    "       cvmm --version\n"
    "       cvmm --help\n";

constexpr std::string_view kRunHelp =
    "usage: cvmm run --kernel PATH [FLAGS]\n"
    "       cvmm run --firmware PATH [--kernel PATH] [FLAGS]\n"
    "       cvmm run --config FILE.json\n"
    "\n"
    "Flags take '--flag VALUE' or '--flag=VALUE'; option lists are key=value pairs separated\n"
    "by commas (double-quote a value that contains a comma). Booleans: on, off, true, false.\n"
    "Sizes: bytes, or a number with K, M or G (binary units).\n"
    "\n"
    "  --kernel PATH          bzImage or vmlinux, booted directly (required unless --firmware\n"
    "                         boots alone); with --firmware, a bzImage the firmware loads\n"
    "                         through fw_cfg\n"
    "  --initramfs PATH       initial ramdisk (needs --kernel)\n"
    "  --cmdline STRING       kernel command line\n"
    "  --firmware PATH        firmware image: without a TEE, a UEFI image such as OVMF.fd (a\n"
    "                         multiple of 4 KiB, at most 16 MiB) run from the reset vector on\n"
    "                         an i440FX-like platform; OVMF/TDVF/td-shim for TEEs (required\n"
    "                         for TDX and SEV-SNP)\n"
    "  --cpus boot=N          vCPUs, 1 to 255 (default 1)\n"
    "  --memory size=SIZE[,guest_memfd=on][,hugepages=on]\n"
    "                         RAM, 32M to 1T, a multiple of 4K (2M with hugepages;\n"
    "                         default 512M); guest_memfd and hugepages exclude each other\n"
    "  --serial tty|off|file=PATH\n"
    "                         the 16550 UART (default tty)\n"
    "  --disk path=PATH[,readonly=on][,id=NAME]\n"
    "                         virtio-blk disk; repeatable; id at most 20 bytes, unique\n"
    "  --vsock cid=N,socket=PATH\n"
    "                         virtio-vsock, CID 3 to 4294967294, hybrid-vsock unix socket\n"
    "  --platform tdx=on[,mrconfigid=HEX|BASE64][,tsc_khz=N]\n"
    "  --platform sev_snp=on[,policy=HEX][,host_data=HEX|BASE64]\n"
    "                         confidential VM; mrconfigid is 48 bytes, host_data 32 bytes,\n"
    "                         policy a hex SNP guest policy with bit 17 set (e.g. 0x30000)\n"
    "  --platform tsc_khz=N   guest TSC frequency in kHz (default: the host's); for TDX\n"
    "                         100000 to 10000000 in steps of 25000, not with sev_snp\n"
    "  --config FILE          the whole VM as JSON (Cloud Hypervisor vm.create names);\n"
    "                         cannot be combined with other flags\n"
    "\n"
    "Exit status: the guest's on a clean stop (0 for reset or power-off), 1 when the VM\n"
    "cannot run, 2 for invalid flags or configuration.\n";

/// Errors print as one line even if a message carries a newline.
void print_error(std::ostream& err, std::string_view message) {
  std::string line(message);
  std::replace(line.begin(), line.end(), '\n', ' ');
  err << "cvmm: " << line << '\n';
}

/// Turns parsed `run` arguments into a validated VmConfig; sets *exit_status on failure.
Result<vmm::VmConfig> load_config(const RunArgs& run, const CvmmHooks& hooks, int* exit_status) {
  *exit_status = kExitUsageError;
  if (!run.config_file) {
    CVM_TRY(vmm::config::validate_config(run.config, vmm::config::cli_field_name));
    return run.config;
  }
  const std::string& path = *run.config_file;
  Result<std::string> text = hooks.read_config_file(path);
  if (!text) {
    *exit_status = kExitRuntimeError;
    return std::move(text).error();
  }
  auto config = vmm::config::config_from_json(*text);
  if (!config) {
    return std::move(config.error()).context(path);
  }
  auto valid = vmm::config::validate_config(*config, vmm::config::json_field_name);
  if (!valid) {
    return std::move(valid.error()).context(path);
  }
  return config;
}

int run_command(std::span<const std::string_view> args, const CvmmHooks& hooks, std::ostream& out,
                std::ostream& err) {
  auto run = vmm::config::parse_run_args(args);
  if (!run) {
    print_error(err, run.error().message());
    return kExitUsageError;
  }
  if (run->help) {
    out << kRunHelp;
    return 0;
  }
  int exit_status = 0;
  auto config = load_config(*run, hooks, &exit_status);
  if (!config) {
    print_error(err, config.error().message());
    return exit_status;
  }
  auto status = hooks.run_vm(*config);
  if (!status) {
    print_error(err, status.error().message());
    return kExitRuntimeError;
  }
  return *status;
}

bool is_api_flag(std::string_view arg) {
  return arg.starts_with("--api-socket") || arg.starts_with("--seccomp") ||
         (arg.size() >= 2 && arg.starts_with("-v") &&
          arg.find_first_not_of('v', 1) == std::string_view::npos);
}

/// `--api-socket PATH` (also `--api-socket=PATH` and Cloud Hypervisor's `path=PATH`), `-v`
/// repeated or `-vv`, `--seccomp false`. cvmm has no seccomp filter yet, so it refuses to be
/// told to enforce one rather than pretend; Kata passes only `false` (§1.2).
Result<ApiArgs> parse_api_args(std::span<const std::string_view> args) {
  ApiArgs api;
  bool have_socket = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto value = [&](std::string_view flag) -> Result<std::string_view> {
      if (arg.size() > flag.size() && arg[flag.size()] == '=') {
        return arg.substr(flag.size() + 1);
      }
      if (arg != flag) {
        return make_error(ErrorCode::kInvalidArgument, "unknown flag '{}'", arg);
      }
      if (i + 1 >= args.size()) {
        return make_error(ErrorCode::kInvalidArgument, "{} needs a value", flag);
      }
      return args[++i];
    };
    if (arg.starts_with("--api-socket")) {
      if (have_socket) {
        return make_error(ErrorCode::kInvalidArgument, "--api-socket given twice");
      }
      CVM_ASSIGN_OR_RETURN(std::string_view path, value("--api-socket"));
      if (path.starts_with("path=")) {
        path.remove_prefix(5);
      } else if (path.starts_with("fd=")) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--api-socket fd=N is not supported (give path=PATH)");
      }
      if (path.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "--api-socket: empty path");
      }
      api.socket_path = std::string(path);
      have_socket = true;
    } else if (arg.starts_with("--seccomp")) {
      CVM_ASSIGN_OR_RETURN(const std::string_view mode, value("--seccomp"));
      if (mode != "false") {
        return make_error(ErrorCode::kInvalidArgument,
                          "--seccomp {}: cvmm has no seccomp filter yet; only --seccomp false "
                          "is accepted",
                          mode);
      }
    } else if (is_api_flag(arg)) {
      api.verbosity += static_cast<int>(arg.size() - 1);
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "'{}' cannot be combined with --api-socket (the VM comes through "
                        "PUT /api/v1/vm.create)",
                        arg);
    }
  }
  if (!have_socket) {
    return make_error(ErrorCode::kInvalidArgument, "-v and --seccomp need --api-socket PATH");
  }
  return api;
}

int api_command(std::span<const std::string_view> args, const CvmmHooks& hooks,
                std::ostream& err) {
  auto api = parse_api_args(args);
  if (!api) {
    print_error(err, api.error().message());
    return kExitUsageError;
  }
  if (!hooks.serve_api) {
    print_error(err, "--api-socket is not available in this build");
    return kExitRuntimeError;
  }
  auto status = hooks.serve_api(*api);
  if (!status) {
    print_error(err, status.error().message());
    return kExitRuntimeError;
  }
  return *status;
}

}  // namespace

int cvmm_main(std::span<const std::string_view> args, const CvmmHooks& hooks, std::ostream& out,
              std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return kExitUsageError;
  }
  const std::string_view command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    out << kUsage;
    return 0;
  }
  if (command == "--version" || command == "-V") {
    out << "cvmm " << CVMM_VERSION << '\n';
    return 0;
  }
  if (is_api_flag(command)) {
    return api_command(args, hooks, err);
  }
  if (command == "run") {
    return run_command(args.subspan(1), hooks, out, err);
  }
  if (command == "host-check") {
    if (args.size() > 1) {
      print_error(err, fmt::format("host-check takes no arguments (got '{}')", args[1]));
      return kExitUsageError;
    }
    if (!hooks.host_check) {
      print_error(err, "host-check is not available in this build");
      return kExitRuntimeError;
    }
    return hooks.host_check(out);
  }
  print_error(err, fmt::format("unknown command '{}' (see 'cvmm --help')", command));
  return kExitUsageError;
}

}  // namespace cvm::tools
