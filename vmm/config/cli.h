// SPDX-License-Identifier: Apache-2.0
// `cvmm run` arguments in Cloud Hypervisor's style -> VmConfig.
//
//   --kernel PATH  --initramfs PATH  --cmdline STR  --firmware PATH
//   --cpus boot=N
//   --memory [size=SIZE][,guest_memfd=on|off][,hugepages=on|off]
//   --serial tty|off|file=PATH
//   --disk path=PATH[,readonly=on|off][,id=NAME]      (repeatable)
//   --vsock cid=N,socket=PATH
//   --platform tdx=on|sev_snp=on[,policy=HEX][,host_data=HEX|BASE64][,mrconfigid=HEX|BASE64]
//              [,mrowner=HEX|BASE64][,mrownerconfig=HEX|BASE64][,quote_socket=PATH] (TDX)
//              [,snp_certs=PATH] (SNP: GHCB certificate table served to the guest)
//   --config FILE.json                                (alone: the whole VM as JSON, json.h)
//
// Every flag takes "--flag VALUE" or "--flag=VALUE". Option lists are comma-separated
// key=value pairs; a value may be double-quoted to contain commas ("path=\"a,b.img\"").
// Every flag except --disk may be given once. Parsing only checks syntax and that numbers fit
// their type; validate_config() (validate.h) checks ranges and cross-field rules.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "vmm/config/validate.h"
#include "vmm/config/vm_config.h"

namespace cvm::vmm::config {

struct RunArgs {
  bool help = false;                       // --help / -h was given; nothing else was parsed
  std::optional<std::string> config_file;  // --config FILE: the VM comes from that JSON file
  VmConfig config;                         // built from the flags when config_file is empty
};

/// Parses the arguments after `cvmm run`. Errors are kInvalidArgument, one line, naming the
/// flag and the bad text, e.g. "--memory: unknown key 'sise' (expected size, guest_memfd,
/// hugepages)".
[[nodiscard]] Result<RunArgs> parse_run_args(std::span<const std::string_view> args);

/// FieldNamer for validate_config() that spells fields as flags: "--memory size",
/// "--disk #2 id" (1-based).
std::string cli_field_name(ConfigField field, std::size_t index);

}  // namespace cvm::vmm::config
