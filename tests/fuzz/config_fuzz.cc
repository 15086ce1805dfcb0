// Fuzzes the `cvmm run` flag parser and the JSON config reader (user-controlled input).
// Byte 0 picks the parser: even -> the rest is a JSON document (strict, then lenient);
// odd -> the rest is an argument vector separated by NUL bytes. Whatever parses and validates
// must survive config_to_json -> config_from_json unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/config/cli.h"
#include "vmm/config/json.h"
#include "vmm/config/validate.h"

namespace {

using namespace cvm::vmm::config;

void check_round_trip(const cvm::vmm::VmConfig& config) {
  const std::string text = config_to_json(config);
  auto back = config_from_json(text);
  if (!back || !validate_config(*back, json_field_name) || !(*back == config)) {
    __builtin_trap();
  }
}

void fuzz_json(std::string_view text) {
  for (bool lenient : {false, true}) {
    auto config = config_from_json(text, JsonOptions{.ignore_unknown_keys = lenient});
    if (config && validate_config(*config, json_field_name)) {
      check_round_trip(*config);
    }
  }
}

void fuzz_cli(std::string_view text) {
  std::vector<std::string_view> args;
  std::size_t start = 0;
  while (start <= text.size() && args.size() < 64) {
    const std::size_t end = std::min(text.find('\0', start), text.size());
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto run = parse_run_args(args);
  if (run && !run->help && validate_config(run->config, cli_field_name)) {
    check_round_trip(run->config);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    fuzz_json(text);
  } else {
    fuzz_cli(text);
  }
  return 0;
}
