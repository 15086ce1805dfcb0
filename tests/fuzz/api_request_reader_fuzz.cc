// SPDX-License-Identifier: Apache-2.0
// Fuzzes the API socket's request framing (vmm/api/request_reader.h): an arbitrary byte stream
// fed in input-chosen chunks, with descriptors attached to some chunks, and the response
// writer on input-chosen statuses and bodies. Invariants: no crash; chunking does not change
// which requests come out nor the error that ends a complete bad request (beyond Beast's
// header_limit accounting, see below); no request exceeds the limits; every
// descriptor is closed once its request and the reader are gone; a serialised response is
// ASCII, starts with "HTTP/1.1 " and its Content-Length equals the bytes after the header.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/api/request_reader.h"

using namespace cvm;
using namespace cvm::vmm::api;

namespace {

constexpr HttpServerOptions kLimits{
    .max_header_bytes = 512, .max_body_bytes = 256, .max_connections = 1, .max_fds_per_request = 3};

struct Outcome {
  std::vector<std::string> requests;  // method, path, body and close flag, joined
  unsigned error_status = 0;          // 0: the stream ended without an error
  bool header_too_long = false;
  bool ended_mid_request = false;
};

void check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

bool is_prefix(const std::vector<std::string>& shorter, const std::vector<std::string>& longer) {
  return shorter.size() <= longer.size() &&
         std::equal(shorter.begin(), shorter.end(), longer.begin());
}

void drain(RequestReader& reader, Outcome& outcome) {
  for (;;) {
    ReadResult result = reader.next();
    if (auto* parsed = std::get_if<ParsedRequest>(&result)) {
      const HttpRequest& request = parsed->request;
      check(request.body.size() <= kLimits.max_body_bytes);
      check(request.fds.size() <= kLimits.max_fds_per_request);
      check(!request.method.empty() && request.path.find('?') == std::string::npos);
      outcome.requests.push_back(request.method + ' ' + request.path + ' ' + request.body +
                                 (parsed->close_after_response ? " close" : ""));
      continue;
    }
    if (auto* error = std::get_if<RequestError>(&result)) {
      check(error->status == 400 || error->status == 411 || error->status == 413);
      outcome.error_status = error->status;
      outcome.header_too_long = error->message.starts_with("request header exceeds");
    }
    return;
  }
}

Outcome feed(std::string_view stream, std::size_t chunk, uint8_t fd_pattern,
             std::vector<int>& fd_numbers) {
  static const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  RequestReader reader(kLimits);
  Outcome outcome;
  for (std::size_t offset = 0, index = 0; offset < stream.size(); offset += chunk, ++index) {
    std::vector<UniqueFd> fds;
    const unsigned count = (fd_pattern >> (2 * (index % 4))) & 3;
    for (unsigned i = 0; i < count && devnull >= 0; ++i) {
      fds.emplace_back(::fcntl(devnull, F_DUPFD_CLOEXEC, 0));
      fd_numbers.push_back(fds.back().get());
    }
    reader.append(stream.substr(offset, chunk), std::move(fds));
    drain(reader, outcome);
    if (outcome.error_status != 0) {
      break;
    }
  }
  outcome.ended_mid_request = reader.mid_request();
  return outcome;
}

void check_response(const uint8_t* data, size_t size) {
  if (size < 2) {
    return;
  }
  HttpResponse response;
  response.status = 100u + (static_cast<unsigned>(data[0]) << 8 | data[1]) % 550u;
  response.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  response.content_type = response.body.substr(0, response.body.size() / 4);
  response.close_after = (data[0] & 1) != 0;
  const std::string out = serialize_response(response);
  check(out.rfind("HTTP/1.1 ", 0) == 0);
  for (char c : out) {
    check(static_cast<unsigned char>(c) < 0x80);
  }
  const std::size_t header_end = out.find("\r\n\r\n");
  check(header_end != std::string::npos);
  const std::size_t length_at = out.find("\r\nContent-Length: ");
  const std::size_t body_bytes = out.size() - header_end - 4;
  if (length_at == std::string::npos || length_at > header_end) {
    check(body_bytes == 0);
  } else {
    check(std::stoul(out.substr(length_at + 18)) == body_bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const std::size_t chunk = 1 + data[0] % 32;
  const uint8_t fd_pattern = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
  std::vector<int> fd_numbers;
  const Outcome chunked = feed(stream, chunk, 0, fd_numbers);
  const Outcome whole = feed(stream, stream.size() + 1, 0, fd_numbers);
  if (chunked.header_too_long || whole.header_too_long) {
    // Beast applies header_limit to what it has been given so far, so a header a little over
    // the limit passes when it arrives in one piece and fails when it trickles in. Either
    // way the requests before it are the same.
    check(is_prefix(chunked.header_too_long ? chunked.requests : whole.requests,
                    chunked.header_too_long ? whole.requests : chunked.requests));
  } else {
    check(chunked.requests == whole.requests);
    // Beast checks the request line as soon as it has any bytes of it, the rest once the
    // header is complete, so a bad request that is still incomplete may be caught earlier
    // when more of it is there at once; a complete one gets the same answer however it is
    // chunked.
    if (chunked.error_status != whole.error_status) {
      check(chunked.error_status == 0 && chunked.ended_mid_request);
    }
  }
  // Descriptors may end the stream early (too many for one request), never change a request.
  const Outcome with_fds = feed(stream, chunk, fd_pattern, fd_numbers);
  check(is_prefix(with_fds.requests, chunked.requests));
  for (int fd : fd_numbers) {
    check(::fcntl(fd, F_GETFD) == -1);  // every descriptor we handed over is closed again
  }
  check_response(data, size);
  return 0;
}
