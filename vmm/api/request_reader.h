// SPDX-License-Identifier: Apache-2.0
// RequestReader: turns the bytes and SCM_RIGHTS descriptors read from one API connection into
// HTTP/1.1 requests (Boost.Beast's parser underneath). Knows nothing about sockets, so it is
// unit-tested and fuzzed with plain byte strings. One per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/unique_fd.h"
#include "vmm/api/http_types.h"

namespace cvm::vmm::api {

/// next() has nothing complete yet: read more from the connection.
struct NeedMoreBytes {};

/// A complete request. `close_after_response` is true when the client asked for it
/// (`Connection: close`); HTTP/1.0 clients are kept alive too unless they ask
/// (runtime-integration.md §1.8: never close unless the client asked).
struct ParsedRequest {
  HttpRequest request;
  bool close_after_response = false;
};

/// The connection sent something we cannot parse: answer `status` (400 or 413) with the
/// ASCII `message` and close, because the byte stream has lost its framing.
struct RequestError {
  unsigned status = 400;
  std::string message;
};

using ReadResult = std::variant<NeedMoreBytes, ParsedRequest, RequestError>;

class RequestReader final {
 public:
  explicit RequestReader(const HttpServerOptions& limits);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  /// Adds the result of one read: `bytes` and the descriptors that came with them (already
  /// owned, so none leaks whatever happens next). Descriptors belong to the next request to
  /// complete: Kata sends them with the first chunk of their request and waits for the
  /// response before the next one (runtime-integration.md §1.6, §1.8).
  void append(std::string_view bytes, std::vector<UniqueFd> fds);
  /// Marks the stream broken because a read lost descriptors (MSG_CTRUNC); next() reports it.
  void fail(RequestError error);

  /// The next complete request (its descriptors move into it), NeedMoreBytes, or the error
  /// that ends the connection. Call until it stops returning ParsedRequest: pipelined
  /// requests are returned one after the other. After an error it keeps returning it.
  ReadResult next();

  /// True once per request whose header asked `Expect: 100-continue` and whose body has not
  /// arrived yet: the server then sends "100 Continue" so curl does not wait a second before
  /// sending the body (RFC 9110 §10.1.1).
  bool take_continue_request() noexcept { return std::exchange(continue_requested_, false); }
  /// Whether bytes of an unfinished request are held (a disconnect now loses a request).
  bool mid_request() const noexcept;
  /// Descriptors received and not yet handed to a request.
  std::size_t pending_fd_count() const noexcept { return pending_fds_.size(); }

 private:
  class Parser;  // Beast's request_parser, kept out of this header

  HttpServerOptions limits_;
  std::unique_ptr<Parser> parser_;  // the request being parsed; null between requests
  std::string unparsed_;            // received bytes Beast has not consumed yet
  std::vector<UniqueFd> pending_fds_;
  std::unique_ptr<RequestError> error_;  // sticky once set
  bool continue_requested_ = false;
};

}  // namespace cvm::vmm::api
