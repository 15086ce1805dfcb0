// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/request_reader.h"

#include <optional>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

namespace cvm::vmm::api {
namespace http = boost::beast::http;

class RequestReader::Parser {
 public:
  explicit Parser(const HttpServerOptions& limits) {
    // Not eager until the header has been checked (next()): put() stops after the header.
    beast.eager(false);
    beast.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    beast.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
  }
  http::request_parser<http::string_body> beast;
  bool header_checked = false;
};

namespace {

std::string to_std(boost::beast::string_view text) { return std::string(text.data(), text.size()); }

// runtime-integration.md §1.8: keep-alive unless the client said `Connection: close`, for
// HTTP/1.0 clients too (Beast's keep_alive() would close 1.0 connections by default).
bool client_asked_to_close(const http::request<http::string_body>& message) {
  for (const auto& token : http::token_list(message[http::field::connection])) {
    if (boost::beast::iequals(token, "close")) {
      return true;
    }
  }
  return false;
}

RequestError error_for(const boost::system::error_code& ec, const HttpServerOptions& limits) {
  if (ec == http::error::body_limit) {
    return RequestError{.status = 413,
                        .message = fmt::format("request body exceeds {} bytes", limits.max_body_bytes)};
  }
  if (ec == http::error::header_limit) {
    return RequestError{
        .status = 400,
        .message = fmt::format("request header exceeds {} bytes", limits.max_header_bytes)};
  }
  // Beast's messages are short ASCII ("bad method", "bad line ending", ...).
  return RequestError{.status = 400, .message = "malformed request: " + ec.message()};
}

bool expects_continue(const http::request<http::string_body>& message) {
  return boost::beast::iequals(message[http::field::expect], "100-continue");
}

// Kata's clients always send Content-Length (or no body at all). Chunked request bodies are
// refused: Beast 1.81's chunk parser asserts (BOOST_ASSERT(n >= 5) in parse_chunk_header)
// when a final chunk arrives a byte at a time, which a client controls (found by
// api_request_reader_fuzz); RFC 9112 §6.3 lets a server answer 411 instead.
std::optional<RequestError> check_header(const http::request_parser<http::string_body>& beast) {
  if (beast.get().count(http::field::transfer_encoding) != 0) {
    return RequestError{.status = 411,
                        .message = "transfer-encoding is not supported, send content-length"};
  }
  return std::nullopt;
}

}  // namespace

RequestReader::RequestReader(const HttpServerOptions& limits) : limits_(limits) {}

RequestReader::~RequestReader() = default;

void RequestReader::append(std::string_view bytes, std::vector<UniqueFd> fds) {
  if (error_) {
    return;  // the connection is being closed; `fds` close here
  }
  for (UniqueFd& fd : fds) {
    pending_fds_.push_back(std::move(fd));
  }
  if (pending_fds_.size() > limits_.max_fds_per_request) {
    fail(RequestError{.status = 400,
                      .message = fmt::format("request carries more than {} file descriptors",
                                             limits_.max_fds_per_request)});
    return;
  }
  unparsed_.append(bytes);
}

void RequestReader::fail(RequestError error) {
  if (!error_) {
    error_ = std::make_unique<RequestError>(std::move(error));
  }
  // Nothing of this connection will be parsed again: drop what it sent.
  unparsed_.clear();
  pending_fds_.clear();
  parser_.reset();
  continue_requested_ = false;
}

ReadResult RequestReader::next() {
  if (error_) {
    return *error_;
  }
  if (unparsed_.empty()) {
    return NeedMoreBytes{};
  }
  if (!parser_) {
    parser_ = std::make_unique<Parser>(limits_);
  }
  auto& beast = parser_->beast;
  boost::system::error_code ec;
  std::size_t offset = 0;
  // Beast consumes nothing until the header is complete, then the header and as much body
  // as is there; the loop stops when it needs more bytes or the request is complete, so the
  // bytes of a pipelined next request stay in unparsed_.
  while (offset < unparsed_.size() && !beast.is_done()) {
    const std::size_t used =
        beast.put(boost::asio::buffer(unparsed_.data() + offset, unparsed_.size() - offset), ec);
    offset += used;
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) {
      break;
    }
    if (beast.is_header_done() && !parser_->header_checked) {
      parser_->header_checked = true;
      if (auto refused = check_header(beast)) {
        unparsed_.erase(0, offset);
        fail(std::move(*refused));
        return *error_;
      }
      continue_requested_ = expects_continue(beast.get());
      // The body follows in the same put() from now on.
      beast.eager(true);
      continue;
    }
    if (used == 0) {
      break;
    }
  }
  unparsed_.erase(0, offset);
  if (ec) {
    fail(error_for(ec, limits_));
    return *error_;
  }
  if (!beast.is_done()) {
    return NeedMoreBytes{};
  }
  continue_requested_ = false;  // the body is already here
  http::request<http::string_body> message = beast.release();
  parser_.reset();
  ParsedRequest parsed;
  parsed.close_after_response = client_asked_to_close(message);
  parsed.request.method = to_std(message.method_string());
  const boost::beast::string_view target = message.target();
  parsed.request.path = to_std(target.substr(0, target.find('?')));
  parsed.request.body = std::move(message.body());
  parsed.request.fds = std::exchange(pending_fds_, {});
  return parsed;
}

bool RequestReader::mid_request() const noexcept {
  return !error_ && (!unparsed_.empty() || parser_ != nullptr);
}

}  // namespace cvm::vmm::api
