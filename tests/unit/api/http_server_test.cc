// SPDX-License-Identifier: Apache-2.0
// HttpServer over real Unix sockets: the wire rules of runtime-integration.md §1.8 as Kata's
// two clients exercise them (runtime-rs chunked writes, Go keep-alive and parallel
// connections, SCM_RIGHTS), plus the control surface (stop, watch).
#include "vmm/api/http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace cvm::vmm::api {
namespace {

using namespace std::chrono_literals;

constexpr int kClientTimeoutMs = 3000;

// The client side, written with plain sockets the way Kata's clients use them.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto addr = unix_socket_address(path, "test");
    connected_ = addr.has_value() &&
                 ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0;
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_.get(); }

  bool send(std::string_view bytes, const std::vector<int>& fds = {}) {
    iovec iov{.iov_base = const_cast<char*>(bytes.data()), .iov_len = bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    if (!fds.empty()) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    return ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

  /// One whole response (header and Content-Length body); "" on EOF or timeout.
  std::string read_response(int timeout_ms = kClientTimeoutMs) {
    for (;;) {
      const std::size_t header_end = buffer_.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::size_t body_length = 0;
        const std::size_t length_at = buffer_.find("Content-Length: ");
        if (length_at != std::string::npos && length_at < header_end) {
          body_length = std::stoul(buffer_.substr(length_at + 16));
        }
        const std::size_t total = header_end + 4 + body_length;
        if (buffer_.size() >= total) {
          std::string response = buffer_.substr(0, total);
          buffer_.erase(0, total);
          return response;
        }
      }
      if (!read_more(timeout_ms)) {
        return "";
      }
    }
  }

  /// Everything that arrives until the connection stays quiet for `quiet_ms`.
  std::string read_quietly(int quiet_ms) {
    while (read_more(quiet_ms)) {
    }
    return std::exchange(buffer_, {});
  }

  /// Whether the server closed the connection (EOF) within the timeout, nothing unread.
  bool closed_by_server() {
    while (read_more(kClientTimeoutMs)) {
    }
    return eof_;
  }

 private:
  bool read_more(int timeout_ms) {
    pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
    if (::poll(&pfd, 1, timeout_ms) != 1) {
      return false;
    }
    char chunk[65536];
    const ssize_t got = ::read(fd_.get(), chunk, sizeof(chunk));
    if (got <= 0) {
      eof_ = got == 0;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  UniqueFd fd_;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

struct Recorded {
  std::string method;
  std::string path;
  std::string body;
  std::vector<int> fd_numbers{};
  bool fds_valid = true;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/cvmm-api-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    path_ = dir_ + "/api.sock";
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    server_.reset();
    ::rmdir(dir_.c_str());
  }

  void start(HttpServerOptions options = {}) {
    auto listening = HttpServer::listen(path_, options);
    ASSERT_TRUE(listening.has_value()) << listening.error().message();
    server_ = std::move(*listening);
    serve_done_ = serve_result_.get_future();
    thread_ = std::thread([this] {
      Result<void> served = server_->serve([this](HttpRequest& request) { return handle(request); });
      serve_result_.set_value(served.has_value());
    });
  }

  HttpResponse handle(HttpRequest& request) {
    Recorded record{.method = request.method, .path = request.path, .body = request.body};
    for (const UniqueFd& fd : request.fds) {
      struct stat st{};
      record.fd_numbers.push_back(fd.get());
      record.fds_valid = record.fds_valid && ::fstat(fd.get(), &st) == 0;
    }
    {
      std::lock_guard lock(mutex_);
      recorded_.push_back(record);
    }
    if (request.path == "/api/v1/vmm.ping") {
      return HttpResponse{.status = 200, .body = R"({"version":"cvmm"})"};
    }
    if (request.path == "/stop") {
      server_->stop();
      return HttpResponse{.status = 200, .body = "{}"};
    }
    if (request.path == "/big") {
      return HttpResponse{.status = 200, .body = std::string(8u << 20, 'x')};
    }
    if (request.path == "/echo") {
      return HttpResponse{.status = 200, .body = request.body};
    }
    return HttpResponse{};  // 204
  }

  std::vector<Recorded> recorded() {
    std::lock_guard lock(mutex_);
    return recorded_;
  }

  bool serve_returned_within(std::chrono::milliseconds limit) {
    return serve_done_.wait_for(limit) == std::future_status::ready;
  }

  static constexpr std::string_view kPingResponse =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n"
      R"({"version":"cvmm"})";
  static constexpr std::string_view kNoContent = "HTTP/1.1 204 No Content\r\n\r\n";
  static constexpr std::string_view kPing =
      "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n";

  std::string dir_;
  std::string path_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::promise<bool> serve_result_;
  std::future<bool> serve_done_;
  std::mutex mutex_;
  std::vector<Recorded> recorded_;
};

TEST_F(HttpServerTest, GetWithoutBodyGetsExactResponseBytes) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(kPing));
  EXPECT_EQ(client.read_response(), kPingResponse);
  auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/api/v1/vmm.ping");
  EXPECT_EQ(requests[0].body, "");
}

TEST_F(HttpServerTest, PutWithJsonBodyGets204WithoutContentLength) {
  start();
  Client client(path_);
  const std::string body = R"({"cpus":{"boot_vcpus":1}})";
  ASSERT_TRUE(client.send("PUT /api/v1/vm.create HTTP/1.1\r\nHost: localhost\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body));
  EXPECT_EQ(client.read_response(), kNoContent);
  auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].path, "/api/v1/vm.create");
  EXPECT_EQ(requests[0].body, body);
}

TEST_F(HttpServerTest, RuntimeRsRequestInFourWritesWithoutContentType) {
  start();
  Client client(path_);
  const std::string body = R"({"path":"/dev/mapper/ctr-rootfs","readonly":false})";
  ASSERT_TRUE(client.send("PUT /api/v1/echo HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"));
  std::this_thread::sleep_for(20ms);  // let the server see each part separately
  ASSERT_TRUE(client.send("Content-Length: " + std::to_string(body.size()) + "\r\n"));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(client.send("\r\n"));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(client.send(body));
  EXPECT_EQ(client.read_response(), kNoContent);
  ASSERT_EQ(recorded().size(), 1u);
  EXPECT_EQ(recorded()[0].body, body);
}

TEST_F(HttpServerTest, TwoPipelinedRequestsInOneWrite) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send(std::string(kPing) +
                          "PUT /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"));
  EXPECT_EQ(client.read_response(), kPingResponse);
  EXPECT_EQ(client.read_response(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(recorded().size(), 2u);
}

TEST_F(HttpServerTest, KeepAliveServesThreeRequestsOnOneConnection) {
  start();
  Client client(path_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(kPing));
    EXPECT_EQ(client.read_response(), kPingResponse) << "request " << i;
  }
  // An HTTP/1.0 client is kept alive too unless it asks otherwise.
  ASSERT_TRUE(client.send("GET /api/v1/vmm.ping HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(client.read_response(), kPingResponse);
  ASSERT_TRUE(client.send(kPing));
  EXPECT_EQ(client.read_response(), kPingResponse);
  EXPECT_EQ(recorded().size(), 5u);
}

TEST_F(HttpServerTest, HeadGetsTheHeadersWithoutTheBody) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("HEAD /api/v1/vmm.ping HTTP/1.1\r\n\r\nPUT /x HTTP/1.1\r\n\r\n"));
  // The 204 must follow the HEAD response's header directly.
  EXPECT_EQ(client.read_quietly(200),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n"
            "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_F(HttpServerTest, ConnectionCloseIsAnsweredThenClosed) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("PUT /x HTTP/1.1\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(client.read_response(), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, TwoConnectionsAtOnce) {
  start();
  Client first(path_);
  Client second(path_);
  // The first leaves a request unfinished; the second must still be served.
  ASSERT_TRUE(first.send("PUT /api/v1/vm.boot HTTP/1.1\r\nHost: localhost\r\n"));
  ASSERT_TRUE(second.send(kPing));
  EXPECT_EQ(second.read_response(), kPingResponse);
  ASSERT_TRUE(first.send("\r\n"));
  EXPECT_EQ(first.read_response(), kNoContent);
  ASSERT_TRUE(second.send(kPing));
  EXPECT_EQ(second.read_response(), kPingResponse);
}

TEST_F(HttpServerTest, ScmRightsDescriptorsArriveWithTheirRequestAndAreClosedAfter) {
  start();
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd pipe_read(pipe_fds[0]);
  UniqueFd pipe_write(pipe_fds[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Client client(path_);
  const std::string body = R"({"fds":[3,4]})";
  ASSERT_TRUE(client.send("PUT /api/v1/vm.add-net HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n",
                          {pipe_write.get(), devnull.get()}));
  ASSERT_TRUE(client.send("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  EXPECT_EQ(client.read_response(), kNoContent);
  auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_EQ(requests[0].fd_numbers.size(), 2u);
  EXPECT_TRUE(requests[0].fds_valid);
  EXPECT_EQ(requests[0].body, body);
  // The server's copy of the pipe's write end is gone once the response was written.
  pipe_write.reset();
  pollfd pfd{.fd = pipe_read.get(), .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&pfd, 1, kClientTimeoutMs), 1);
  char byte = 0;
  EXPECT_EQ(::read(pipe_read.get(), &byte, 1), 0);  // EOF: no writer left
  EXPECT_EQ(::fcntl(requests[0].fd_numbers[1], F_GETFD), -1);
  // A following request on the same connection has none.
  ASSERT_TRUE(client.send(kPing));
  EXPECT_EQ(client.read_response(), kPingResponse);
  EXPECT_TRUE(recorded()[1].fd_numbers.empty());
}

TEST_F(HttpServerTest, GoAddNetStyleOneSendmsgWithFdsThenClose) {
  start();
  UniqueFd tap0(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd tap1(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd tap2(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const std::string body = R"({"mac":"02:00:00:00:00:01","num_queues":2})";
  {
    Client client(path_);
    ASSERT_TRUE(client.send("PUT /api/v1/vm.add-net HTTP/1.1\r\nHost: localhost\r\n"
                            "Accept: application/json\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                            {tap0.get(), tap1.get(), tap2.get()}));
    EXPECT_EQ(client.read_response(), kNoContent);
  }  // the Go driver closes this connection after the response
  auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].fd_numbers.size(), 3u);
  EXPECT_TRUE(requests[0].fds_valid);
  EXPECT_EQ(requests[0].body, body);
  Client next(path_);
  ASSERT_TRUE(next.send(kPing));
  EXPECT_EQ(next.read_response(), kPingResponse);
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  EXPECT_EQ(client.read_response(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.send("ok"));
  EXPECT_EQ(client.read_response(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\nok");
}

TEST_F(HttpServerTest, ClientThatDoesNotReadItsResponseIsDroppedAfterTheTimeout) {
  start();
  Client other(path_);
  Client slow(path_);
  // A response far bigger than the socket buffer, never read: the server blocks in the write
  // (one request at a time) until kWriteTimeout, then drops the client and serves the next.
  const auto start_time = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow.send("GET /big HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(other.send(kPing));
  EXPECT_EQ(other.read_response(8000), kPingResponse);
  const auto waited = std::chrono::steady_clock::now() - start_time;
  EXPECT_GE(waited, HttpServer::kWriteTimeout - 100ms);
  EXPECT_LT(waited, HttpServer::kWriteTimeout + 2s);
  EXPECT_TRUE(slow.closed_by_server());
}

TEST_F(HttpServerTest, TooManyDescriptorsIs400AndClose) {
  start(HttpServerOptions{.max_fds_per_request = 1});
  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd b(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Client client(path_);
  ASSERT_TRUE(client.send("PUT /x HTTP/1.1\r\n\r\n", {a.get(), b.get()}));
  const std::string response = client.read_response();
  EXPECT_EQ(response.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << response;
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_TRUE(recorded().empty());
}

TEST_F(HttpServerTest, MalformedRequestLineIs400TextThenClose) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("NOT AN HTTP REQUEST\r\n\r\n"));
  const std::string response = client.read_response();
  EXPECT_EQ(response.rfind("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                           "Content-Length: ", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close\r\n\r\nmalformed request: "), std::string::npos)
      << response;
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_TRUE(recorded().empty());
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  start(HttpServerOptions{.max_body_bytes = 16});
  Client client(path_);
  ASSERT_TRUE(client.send("PUT /x HTTP/1.1\r\nContent-Length: 17\r\n\r\n"));
  EXPECT_EQ(client.read_response(),
            "HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n"
            "Connection: close\r\n\r\nrequest body exceeds 16 bytes\n");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, HandlerCallingStopStillGetsItsResponseOut) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("PUT /stop HTTP/1.1\r\n\r\n" + std::string(kPing)));
  EXPECT_EQ(client.read_response(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(serve_returned_within(2s));
  EXPECT_TRUE(serve_done_.get());
  EXPECT_EQ(recorded().size(), 1u);  // the pipelined ping was not started
}

TEST_F(HttpServerTest, StopFromAnotherThread) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send(kPing));
  EXPECT_EQ(client.read_response(), kPingResponse);
  server_->stop();
  ASSERT_TRUE(serve_returned_within(2s));
  EXPECT_TRUE(serve_done_.get());
}

TEST_F(HttpServerTest, WatchCallbackRunsWhenItsEventfdIsWritten) {
  start();
  UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::promise<uint64_t> seen;
  server_->watch(event.get(), [&] {
    uint64_t value = 0;
    ASSERT_EQ(::read(event.get(), &value, sizeof(value)), static_cast<ssize_t>(sizeof(value)));
    server_->unwatch(event.get());  // unwatching from inside the callback is allowed
    seen.set_value(value);
  });
  const uint64_t value = 7;
  ASSERT_EQ(::write(event.get(), &value, sizeof(value)), static_cast<ssize_t>(sizeof(value)));
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(future.get(), 7u);
  Client client(path_);  // the server still serves after the callback
  ASSERT_TRUE(client.send(kPing));
  EXPECT_EQ(client.read_response(), kPingResponse);
}

TEST_F(HttpServerTest, ClientDisconnectingMidBodyDoesNotDisturbOthers) {
  start();
  Client steady(path_);
  ASSERT_TRUE(steady.send(kPing));
  EXPECT_EQ(steady.read_response(), kPingResponse);
  {
    Client quitter(path_);
    ASSERT_TRUE(quitter.send("PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"cp"));
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(steady.send(kPing));
  EXPECT_EQ(steady.read_response(), kPingResponse);
  EXPECT_EQ(recorded().size(), 2u);
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  start(HttpServerOptions{.max_connections = 2});
  Client first(path_);
  Client second(path_);
  ASSERT_TRUE(first.send(kPing));
  EXPECT_EQ(first.read_response(), kPingResponse);
  ASSERT_TRUE(second.send(kPing));
  EXPECT_EQ(second.read_response(), kPingResponse);
  Client third(path_);
  ASSERT_TRUE(third.connected());
  EXPECT_TRUE(third.closed_by_server());
  ASSERT_TRUE(first.send(kPing));
  EXPECT_EQ(first.read_response(), kPingResponse);
}

TEST_F(HttpServerTest, SocketFileIsRemovedWhenTheServerGoes) {
  start();
  server_->stop();
  thread_.join();
  server_.reset();
  struct stat st{};
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
}

}  // namespace
}  // namespace cvm::vmm::api
