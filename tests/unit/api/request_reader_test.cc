// SPDX-License-Identifier: Apache-2.0
// RequestReader and serialize_response without sockets: framing, limits, descriptors.
#include "vmm/api/request_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace cvm::vmm::api {
namespace {

std::vector<UniqueFd> open_devnull(int count) {
  std::vector<UniqueFd> fds;
  for (int i = 0; i < count; ++i) {
    fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  return fds;
}

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

ParsedRequest expect_request(RequestReader& reader) {
  ReadResult result = reader.next();
  if (auto* error = std::get_if<RequestError>(&result)) {
    ADD_FAILURE() << "error " << error->status << ": " << error->message;
    return {};
  }
  if (!std::holds_alternative<ParsedRequest>(result)) {
    ADD_FAILURE() << "no complete request";
    return {};
  }
  return std::move(std::get<ParsedRequest>(result));
}

RequestError expect_error(RequestReader& reader) {
  ReadResult result = reader.next();
  if (!std::holds_alternative<RequestError>(result)) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return std::get<RequestError>(result);
}

TEST(RequestReaderTest, GetWithoutBody) {
  RequestReader reader(HttpServerOptions{});
  reader.append("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n", {});
  ParsedRequest parsed = expect_request(reader);
  EXPECT_EQ(parsed.request.method, "GET");
  EXPECT_EQ(parsed.request.path, "/api/v1/vmm.ping");
  EXPECT_EQ(parsed.request.body, "");
  EXPECT_FALSE(parsed.close_after_response);
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  EXPECT_FALSE(reader.mid_request());
}

TEST(RequestReaderTest, QueryStringIsStrippedFromThePath) {
  RequestReader reader(HttpServerOptions{});
  reader.append("GET /api/v1/vm.info?verbose=1 HTTP/1.1\r\n\r\n", {});
  EXPECT_EQ(expect_request(reader).request.path, "/api/v1/vm.info");
}

TEST(RequestReaderTest, RuntimeRsStyleChunksWithoutContentType) {
  RequestReader reader(HttpServerOptions{});
  const std::string body = R"({"path":"/dev/mapper/x"})";
  reader.append("PUT /api/v1/vm.add-disk HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n", {});
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  EXPECT_TRUE(reader.mid_request());
  reader.append("Content-Length: " + std::to_string(body.size()) + "\r\n", {});
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  reader.append("\r\n", {});
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  reader.append(body.substr(0, 5), {});
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  reader.append(body.substr(5), {});
  ParsedRequest parsed = expect_request(reader);
  EXPECT_EQ(parsed.request.method, "PUT");
  EXPECT_EQ(parsed.request.body, body);
}

TEST(RequestReaderTest, BodilessPutWithoutContentLengthIsComplete) {
  RequestReader reader(HttpServerOptions{});
  reader.append("PUT /api/v1/vm.boot HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", {});
  ParsedRequest parsed = expect_request(reader);
  EXPECT_EQ(parsed.request.method, "PUT");
  EXPECT_EQ(parsed.request.path, "/api/v1/vm.boot");
  EXPECT_TRUE(parsed.request.body.empty());
}

TEST(RequestReaderTest, PipelinedRequestsComeOneAfterTheOther) {
  RequestReader reader(HttpServerOptions{});
  reader.append(
      "PUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\nPUT /c HTTP/1.1\r\n",
      {});
  EXPECT_EQ(expect_request(reader).request.body, "abc");
  EXPECT_EQ(expect_request(reader).request.path, "/b");
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  EXPECT_TRUE(reader.mid_request());
  reader.append("\r\n", {});
  EXPECT_EQ(expect_request(reader).request.path, "/c");
}

TEST(RequestReaderTest, ConnectionCloseIsHonouredAndHttp10IsKeptAlive) {
  RequestReader reader(HttpServerOptions{});
  reader.append("GET /a HTTP/1.0\r\n\r\n", {});
  EXPECT_FALSE(expect_request(reader).close_after_response);
  reader.append("GET /b HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", {});
  EXPECT_TRUE(expect_request(reader).close_after_response);
}

TEST(RequestReaderTest, DescriptorsGoToTheNextCompletedRequest) {
  RequestReader reader(HttpServerOptions{});
  std::vector<UniqueFd> fds = open_devnull(2);
  const int first = fds[0].get();
  reader.append("PUT /api/v1/vm.add-net HTTP/1.1\r\n", std::move(fds));
  EXPECT_EQ(reader.pending_fd_count(), 2u);
  reader.append("Content-Length: 2\r\n\r\n{}", {});
  ParsedRequest parsed = expect_request(reader);
  ASSERT_EQ(parsed.request.fds.size(), 2u);
  EXPECT_EQ(parsed.request.fds[0].get(), first);
  EXPECT_EQ(reader.pending_fd_count(), 0u);
}

TEST(RequestReaderTest, TooManyDescriptorsIs400AndClosesThem) {
  RequestReader reader(HttpServerOptions{.max_fds_per_request = 2});
  std::vector<UniqueFd> fds = open_devnull(3);
  const int last = fds[2].get();
  reader.append("PUT /x HTTP/1.1\r\n\r\n", std::move(fds));
  RequestError error = expect_error(reader);
  EXPECT_EQ(error.status, 400u);
  EXPECT_EQ(error.message, "request carries more than 2 file descriptors");
  EXPECT_FALSE(fd_is_open(last));
  EXPECT_EQ(expect_error(reader).status, 400u);  // sticky
}

TEST(RequestReaderTest, MalformedRequestLineIs400) {
  RequestReader reader(HttpServerOptions{});
  reader.append("BAD LINE\r\n\r\n", {});
  RequestError error = expect_error(reader);
  EXPECT_EQ(error.status, 400u);
  EXPECT_EQ(error.message.rfind("malformed request: ", 0), 0u) << error.message;
}

TEST(RequestReaderTest, BodyOverTheLimitIs413FromTheHeaderAlone) {
  RequestReader reader(HttpServerOptions{.max_body_bytes = 10});
  reader.append("PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", {});
  RequestError error = expect_error(reader);
  EXPECT_EQ(error.status, 413u);
  EXPECT_EQ(error.message, "request body exceeds 10 bytes");
}

TEST(RequestReaderTest, BodyAtTheLimitIsAccepted) {
  RequestReader reader(HttpServerOptions{.max_body_bytes = 10});
  reader.append("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", {});
  EXPECT_EQ(expect_request(reader).request.body, "0123456789");
}

TEST(RequestReaderTest, ChunkedBodyIs411) {
  RequestReader reader(HttpServerOptions{});
  reader.append("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", {});
  RequestError error = expect_error(reader);
  EXPECT_EQ(error.status, 411u);
  EXPECT_EQ(error.message, "transfer-encoding is not supported, send content-length");
}

TEST(RequestReaderTest, ByteAtATimeDeliveryGivesTheSameRequests) {
  const std::string stream =
      "PUT /api/v1/vm.add-disk HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n"
      "abcdGET /api/v1/vmm.ping HTTP/1.1\r\n\r\n";
  RequestReader reader(HttpServerOptions{});
  std::vector<std::string> seen;
  for (char c : stream) {
    reader.append(std::string_view(&c, 1), {});
    for (ReadResult r = reader.next(); std::holds_alternative<ParsedRequest>(r); r = reader.next()) {
      const HttpRequest& request = std::get<ParsedRequest>(r).request;
      seen.push_back(request.method + " " + request.path + " " + request.body);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"PUT /api/v1/vm.add-disk abcd",
                                            "GET /api/v1/vmm.ping "}));
}

TEST(RequestReaderTest, EndlessHeaderIs400OnceOverTheLimit) {
  RequestReader reader(HttpServerOptions{.max_header_bytes = 64});
  reader.append("GET /x HTTP/1.1\r\n", {});
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  reader.append("X-Filler: " + std::string(100, 'a'), {});
  RequestError error = expect_error(reader);
  EXPECT_EQ(error.status, 400u);
  EXPECT_EQ(error.message, "request header exceeds 64 bytes");
}

TEST(RequestReaderTest, OversizedHeaderInOneReadIs400) {
  RequestReader reader(HttpServerOptions{.max_header_bytes = 64});
  reader.append("GET /x HTTP/1.1\r\nX-Filler: " + std::string(200, 'a') + "\r\n\r\n", {});
  EXPECT_EQ(expect_error(reader).message, "request header exceeds 64 bytes");
}

TEST(RequestReaderTest, ExpectContinueIsSignalledOnceWhileTheBodyIsMissing) {
  RequestReader reader(HttpServerOptions{});
  reader.append("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", {});
  EXPECT_TRUE(std::holds_alternative<NeedMoreBytes>(reader.next()));
  EXPECT_TRUE(reader.take_continue_request());
  EXPECT_FALSE(reader.take_continue_request());
  reader.append("{}", {});
  EXPECT_EQ(expect_request(reader).request.body, "{}");
  // With the body in the same read there is nothing to continue.
  reader.append("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", {});
  EXPECT_EQ(expect_request(reader).request.body, "{}");
  EXPECT_FALSE(reader.take_continue_request());
}

TEST(SerializeResponseTest, ContinueIsJustTheStatusLine) {
  EXPECT_EQ(serialize_response(HttpResponse{.status = 100}), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(SerializeResponseTest, NoContentHasNoLengthAndNoBody) {
  EXPECT_EQ(serialize_response(HttpResponse{.status = 204, .body = "dropped"}),
            "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(SerializeResponseTest, BodyCarriesTypeAndExactLength) {
  EXPECT_EQ(serialize_response(HttpResponse{.status = 200, .body = R"({"id":"_disk2"})"}),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
            R"({"id":"_disk2"})");
}

TEST(SerializeResponseTest, ErrorWithoutBodyHasZeroLength) {
  EXPECT_EQ(serialize_response(HttpResponse{.status = 404}),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST(SerializeResponseTest, StandardReasonPhrases) {
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(413), "Payload Too Large");
  EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
  EXPECT_EQ(reason_phrase(409), "Conflict");
  EXPECT_EQ(reason_phrase(501), "Not Implemented");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(499), "Client Error");
}

TEST(SerializeResponseTest, NonAsciiBytesAndHeaderInjectionAreNeutralised) {
  const std::string out = serialize_response(HttpResponse{.status = 500,
                                                          .body = "caf\xc3\xa9",
                                                          .content_type = "text/plain\r\nX: y",
                                                          .close_after = true});
  EXPECT_EQ(out,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plainX: y\r\n"
            "Content-Length: 5\r\nConnection: close\r\n\r\ncaf??");
}

TEST(SerializeResponseTest, OutOfRangeStatusBecomes500) {
  EXPECT_EQ(serialize_response(HttpResponse{.status = 42}),
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace cvm::vmm::api
