// SPDX-License-Identifier: Apache-2.0
// VmConfig <-> JSON, using Cloud Hypervisor's vm.create names where CH has the field
// (runtime-integration.md §1.4). The same reader serves `cvmm run --config FILE` and, later,
// the API socket's PUT /vm.create.
//
//   {
//     "payload":  {"kernel": PATH, "initramfs": PATH, "cmdline": STR, "firmware": PATH,
//                  "host_data": HEX|BASE64 (32 bytes, SNP), "mrconfigid": HEX|BASE64 (48, TDX),
//                   "mrowner", "mrownerconfig": HEX|BASE64 (48 each, TDX)},
//     "cpus":     {"boot_vcpus": N},
//     "memory":   {"size": BYTES, "guest_memfd": BOOL, "hugepages": BOOL},
//     "serial":   {"mode": "Tty"|"File"|"Off", "file": PATH},
//     "disks":    [{"path": PATH, "readonly": BOOL, "id": STR}, ...],
//     "vsock":    {"cid": N, "socket": PATH},
//     "platform": {"tdx": BOOL, "sev_snp": BOOL, "snp_policy": N|"0xHEX",
//                  "quote_socket": PATH (TDX), "tsc_khz": N (guest TSC kHz; not for SNP),
//                  "snp_*": SEV-SNP launch inputs (vm_config.h), e.g. "snp_certs": PATH}
//   }
//
// "payload" is required; so are cpus.boot_vcpus, memory.size, serial.mode, disks[].path,
// vsock.cid and vsock.socket when their object is present. An optional key whose value is
// null counts as absent (CH's serde does the same). Errors are kInvalidArgument and start with
// the JSON path: "memory.sise: unknown key", "disks[1].readonly: expected a boolean, got a
// string", "memory.size: duplicate key".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"
#include "vmm/config/validate.h"
#include "vmm/config/vm_config.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace cvm::vmm::config {

struct JsonOptions {
  /// Accept and skip keys cvmm does not know. Cloud Hypervisor ignores them and Kata's
  /// vm.create sends many (max_vcpus, topology, rng, console, ...), so the API socket sets
  /// this; a --config file keeps the default, where an unknown key is most likely a typo.
  bool ignore_unknown_keys = false;
};

/// Parses JSON text (RFC 8259, no comments or trailing commas). Syntax errors carry the line
/// and column: "invalid JSON at line 3, column 7: syntax error".
[[nodiscard]] Result<VmConfig> config_from_json(std::string_view text,
                                                const JsonOptions& options = {});

/// Reads an already parsed document.
[[nodiscard]] Result<VmConfig> config_from_json_value(const boost::json::value& document,
                                                      const JsonOptions& options = {});

/// The canonical JSON document of `config`: every field the reader knows, defaults included,
/// absent optionals omitted; host_data/mrconfigid as lower-case hex, snp_policy as "0x..." hex.
/// config_from_json(config_to_json(c)) == c for every c that passes validate_config().
boost::json::value config_to_json_value(const VmConfig& config);
std::string config_to_json(const VmConfig& config);

/// FieldNamer for validate_config() that spells fields as JSON paths: "memory.size",
/// "disks[1].id" (0-based, like the document).
std::string json_field_name(ConfigField field, std::size_t index);

}  // namespace cvm::vmm::config
