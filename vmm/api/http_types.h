// SPDX-License-Identifier: Apache-2.0
// The request/response values passed between the API transport (http_server.h) and the
// routes. Plain data; no sockets, no Beast.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace cvm::vmm::api {

struct HttpRequest {
  std::string method;         // "GET", "PUT", ... as sent
  std::string path;           // target without query string, e.g. "/api/v1/vm.create"
  std::string body;           // may be empty
  std::vector<UniqueFd> fds;  // SCM_RIGHTS descriptors that arrived while this request was read
};

struct HttpResponse {
  /// Reason phrase from reason_phrase(); 204 never carries a body (any body is dropped).
  unsigned status = 204;
  /// Empty = no body. Must be ASCII (runtime-rs decodes 256-byte chunks as UTF-8 and panics on
  /// a split character, runtime-integration.md §1.8): the writer replaces any byte >= 0x80
  /// by '?' as a last line of defence; routes escape JSON properly.
  std::string body{};
  std::string content_type = "application/json";
  bool close_after = false;  // close the connection after writing
};

using RequestHandler = std::function<HttpResponse(HttpRequest&)>;

/// Limits of one API server (and of its RequestReaders).
struct HttpServerOptions {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_connections = 64;
  std::size_t max_fds_per_request = 64;
};

/// The standard reason phrase (RFC 9110 §15) of `status`; a generic one per class for
/// codes outside the table ("Client Error" for an unknown 4xx).
std::string_view reason_phrase(unsigned status);

/// The exact bytes of `response` on the wire (runtime-integration.md §1.8): always
/// "HTTP/1.1 <code> <reason>"; a body gets Content-Type and Content-Length (never chunked);
/// 204 and 1xx have neither body nor Content-Length; any other status without a body gets
/// "Content-Length: 0" (Go's http client would otherwise read the body until EOF);
/// "Connection: close" when close_after. Bytes >= 0x80 of the body become '?', control
/// characters in content_type are dropped (no header injection).
std::string serialize_response(const HttpResponse& response);

}  // namespace cvm::vmm::api
