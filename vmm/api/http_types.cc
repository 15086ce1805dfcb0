// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/http_types.h"

#include <fmt/format.h>

namespace cvm::vmm::api {

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    // Kata's Go clh driver retries vm.resize only when the error text contains exactly
    // this phrase (runtime-integration.md §1.5).
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: break;
  }
  switch (status / 100) {
    case 1: return "Informational";
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Client Error";
    default: return "Server Error";
  }
}

namespace {

// 1xx and 204 must not carry a body or Content-Length (RFC 9110 §8.6, §15.3.5).
bool status_forbids_body(unsigned status) { return status < 200 || status == 204; }

}  // namespace

std::string serialize_response(const HttpResponse& response) {
  // Out-of-range codes would not be three digits; they are a routing bug, report it as one.
  const unsigned status = (response.status >= 100 && response.status <= 599) ? response.status : 500;
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  const bool has_body = !status_forbids_body(status) && !response.body.empty();
  if (has_body) {
    std::string content_type;
    for (char c : response.content_type) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x20 && byte < 0x7f) {
        content_type.push_back(c);
      }
    }
    out += fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", content_type,
                       response.body.size());
  } else if (!status_forbids_body(status)) {
    out += "Content-Length: 0\r\n";
  }
  if (response.close_after) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  if (has_body) {
    const std::size_t body_start = out.size();
    out += response.body;
    for (std::size_t i = body_start; i < out.size(); ++i) {
      if (static_cast<unsigned char>(out[i]) >= 0x80) {
        out[i] = '?';
      }
    }
  }
  return out;
}

}  // namespace cvm::vmm::api
