// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the config tests.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "vmm/config/cli.h"
#include "vmm/config/json.h"
#include "vmm/config/validate.h"

namespace cvm::vmm::config::testing {

/// `cvmm run ARGS` -> parsed and validated VmConfig.
inline Result<VmConfig> from_cli(std::initializer_list<std::string_view> args) {
  const std::vector<std::string_view> list(args);
  CVM_ASSIGN_OR_RETURN(RunArgs run, parse_run_args(list));
  CVM_TRY(validate_config(run.config, cli_field_name));
  return run.config;
}

/// JSON text -> parsed and validated VmConfig.
inline Result<VmConfig> from_json(std::string_view text, JsonOptions options = {}) {
  CVM_ASSIGN_OR_RETURN(VmConfig config, config_from_json(text, options));
  CVM_TRY(validate_config(config, json_field_name));
  return config;
}

template <typename T>
std::string error_of(const Result<T>& result) {
  return result ? std::string("<ok>") : result.error().message();
}

}  // namespace cvm::vmm::config::testing
