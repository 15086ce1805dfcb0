// SPDX-License-Identifier: Apache-2.0
#include "firmware/initdata.h"

#include <openssl/evp.h>

#include <algorithm>
#include <optional>

namespace cvm::firmware {
namespace {

constexpr std::string_view kWhitespace = " \t";

std::string_view trim_left(std::string_view s) {
  const auto pos = s.find_first_not_of(kWhitespace);
  return pos == std::string_view::npos ? std::string_view() : s.substr(pos);
}

/// The key at the start of `line` (bare or quoted) and the rest after it, or nullopt.
std::optional<std::pair<std::string_view, std::string_view>> split_key(std::string_view line) {
  if (!line.empty() && (line[0] == '"' || line[0] == '\'')) {
    const auto close = line.find(line[0], 1);
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    return std::pair{line.substr(1, close - 1), line.substr(close + 1)};
  }
  const auto end = line.find_first_of(" \t=");
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{line.substr(0, end), line.substr(end)};
}

/// Parses `= "value"` (basic or literal string, optional trailing comment).
Result<std::string_view> parse_string_value(std::string_view rest, std::size_t line_number) {
  rest = trim_left(rest);
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument, "initdata line {}: algorithm {}", line_number,
                      why);
  };
  if (rest.empty() || rest[0] != '=') {
    return bad("is not followed by '='");
  }
  rest = trim_left(rest.substr(1));
  if (rest.empty() || (rest[0] != '"' && rest[0] != '\'')) {
    return bad("must be a quoted string");
  }
  const auto close = rest.find(rest[0], 1);
  if (close == std::string_view::npos) {
    return bad("has an unterminated string");
  }
  const std::string_view value = rest.substr(1, close - 1);
  const std::string_view tail = trim_left(rest.substr(close + 1));
  if (!tail.empty() && tail[0] != '#') {
    return bad("has trailing characters after the string");
  }
  return value;
}

const EVP_MD* evp_of(InitdataAlgorithm algorithm) {
  switch (algorithm) {
    case InitdataAlgorithm::kSha256:
      return EVP_sha256();
    case InitdataAlgorithm::kSha384:
      return EVP_sha384();
    case InitdataAlgorithm::kSha512:
      return EVP_sha512();
  }
  CVM_UNREACHABLE("initdata algorithm");
}

template <std::size_t N>
std::array<std::byte, N> fit(const std::vector<std::byte>& digest) {
  std::array<std::byte, N> out{};
  std::copy_n(digest.begin(), std::min(N, digest.size()), out.begin());
  return out;
}

}  // namespace

std::string_view initdata_algorithm_name(InitdataAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case InitdataAlgorithm::kSha256:
      return "sha256";
    case InitdataAlgorithm::kSha384:
      return "sha384";
    case InitdataAlgorithm::kSha512:
      return "sha512";
  }
  return "unknown";
}

std::array<std::byte, 48> InitdataDigest::mrconfigid() const noexcept { return fit<48>(digest); }
std::array<std::byte, 32> InitdataDigest::host_data() const noexcept { return fit<32>(digest); }

Result<InitdataAlgorithm> parse_initdata_algorithm(std::string_view document) {
  std::optional<std::string_view> found;
  std::size_t line_number = 0;
  while (!document.empty()) {
    const auto newline = document.find('\n');
    std::string_view line = document.substr(0, newline);
    document =
        newline == std::string_view::npos ? std::string_view() : document.substr(newline + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    line = trim_left(line);
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (line[0] == '[') {
      break;  // the first table header ends the top-level keys
    }
    const auto key = split_key(line);
    if (!key || key->first != "algorithm") {
      continue;
    }
    if (found) {
      return make_error(ErrorCode::kInvalidArgument, "initdata line {}: algorithm is defined twice",
                        line_number);
    }
    CVM_ASSIGN_OR_RETURN(found, parse_string_value(key->second, line_number));
  }
  if (!found) {
    return make_error(ErrorCode::kInvalidArgument,
                      "initdata has no top-level algorithm key (sha256, sha384 or sha512)");
  }
  for (const auto algorithm :
       {InitdataAlgorithm::kSha256, InitdataAlgorithm::kSha384, InitdataAlgorithm::kSha512}) {
    if (*found == initdata_algorithm_name(algorithm)) {
      return algorithm;
    }
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "initdata algorithm '{}' is not supported (sha256, sha384 or sha512)", *found);
}

Result<InitdataDigest> initdata_digest(std::string_view document) {
  CVM_ASSIGN_OR_RETURN(const InitdataAlgorithm algorithm, parse_initdata_algorithm(document));
  const EVP_MD* md = evp_of(algorithm);
  InitdataDigest out{.algorithm = algorithm, .digest = {}};
  out.digest.resize(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int length = 0;
  CVM_CHECK(
      EVP_Digest(document.data(), document.size(),
                 reinterpret_cast<unsigned char*>(out.digest.data()), &length, md, nullptr) == 1 &&
          length == out.digest.size(),
      "OpenSSL digest failed");
  return out;
}

}  // namespace cvm::firmware
