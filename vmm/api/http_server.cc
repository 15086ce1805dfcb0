// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "base/event_fd.h"
#include "base/rate_limited_log.h"

namespace cvm::vmm::api {
namespace {

constexpr int kListenBacklog = 64;
// One read's worth of request bytes; a bigger request just takes more reads.
constexpr std::size_t kReadChunkBytes = 16 * 1024;
constexpr std::chrono::milliseconds kAcceptPauseAfterFdExhaustion{100};

// Moves every descriptor of the SCM_RIGHTS messages in `msg` into owners at once, so none
// leaks whatever is wrong with the request.
std::vector<UniqueFd> take_received_fds(msghdr& msg) {
  std::vector<UniqueFd> fds;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
        cmsg->cmsg_len < CMSG_LEN(0)) {
      continue;
    }
    const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(cmsg);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, data + i * sizeof(int), sizeof(int));  // CMSG_DATA may be unaligned
      fds.emplace_back(fd);
    }
  }
  return fds;
}

int poll_timeout_ms(std::chrono::steady_clock::time_point until) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::listen(const std::string& socket_path,
                                                       HttpServerOptions options) {
  CVM_ASSIGN_OR_RETURN(UnixListener listener,
                       UnixListener::bind(socket_path, kListenBacklog, "API socket"));
  CVM_ASSIGN_OR_RETURN(UniqueFd wake_fd, make_eventfd("the API server"));
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(listener), std::move(wake_fd), options));
}

HttpServer::~HttpServer() = default;

void HttpServer::stop() {
  stop_requested_.store(true);
  signal_eventfd(wake_fd_.get());
}

void HttpServer::watch(int fd, std::function<void()> on_ready) {
  {
    std::lock_guard lock(watch_mutex_);
    watches_[fd] = std::make_shared<std::function<void()>>(std::move(on_ready));
  }
  signal_eventfd(wake_fd_.get());  // the serving thread rebuilds its poll set
}

void HttpServer::unwatch(int fd) {
  {
    std::lock_guard lock(watch_mutex_);
    watches_.erase(fd);
  }
  signal_eventfd(wake_fd_.get());
}

Result<void> HttpServer::serve(const RequestHandler& handler) {
  std::vector<pollfd> poll_fds;
  std::vector<std::pair<int, WatchCallback>> watched;
  std::vector<Connection*> polled;
  while (!stop_requested_.load()) {
    {
      std::lock_guard lock(watch_mutex_);
      watched.assign(watches_.begin(), watches_.end());
    }
    const bool accepting = std::chrono::steady_clock::now() >= accept_paused_until_;
    poll_fds.clear();
    poll_fds.push_back({.fd = wake_fd_.get(), .events = POLLIN, .revents = 0});
    // A paused listener is left out of the set (fd -1 is ignored by poll) so it cannot spin.
    poll_fds.push_back({.fd = accepting ? listener_.fd() : -1, .events = POLLIN, .revents = 0});
    for (const auto& [fd, callback] : watched) {
      poll_fds.push_back({.fd = fd, .events = POLLIN, .revents = 0});
    }
    polled.clear();
    for (const auto& conn : connections_) {
      polled.push_back(conn.get());
      poll_fds.push_back({.fd = conn->fd.get(), .events = POLLIN, .revents = 0});
    }
    const int timeout = accepting ? -1 : poll_timeout_ms(accept_paused_until_);
    if (::poll(poll_fds.data(), poll_fds.size(), timeout) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(ErrorCode::kIo, fmt::format("poll on API socket {}", socket_path()), errno);
    }
    if (poll_fds[0].revents != 0) {
      drain_eventfd(wake_fd_.get());
    }
    if ((poll_fds[1].revents & (POLLERR | POLLNVAL)) != 0) {
      return make_error(ErrorCode::kIo, "API socket {}: listener failed", socket_path());
    }
    if ((poll_fds[1].revents & POLLIN) != 0) {
      CVM_TRY(accept_connections());
    }
    std::vector<short> watch_revents;
    for (std::size_t i = 0; i < watched.size(); ++i) {
      watch_revents.push_back(poll_fds[2 + i].revents);
    }
    run_watch_callbacks(watched, watch_revents);
    const std::size_t first_conn = 2 + watched.size();
    for (std::size_t i = 0; i < polled.size() && !stop_requested_.load(); ++i) {
      if (poll_fds[first_conn + i].revents != 0) {
        serve_connection(*polled[i], handler);
      }
    }
    if (std::erase_if(connections_, [](const auto& conn) { return conn->closed; }) > 0) {
      connection_limit_logged_ = false;
    }
  }
  return ok();
}

void HttpServer::run_watch_callbacks(const std::vector<std::pair<int, WatchCallback>>& watched,
                                     const std::vector<short>& revents) {
  for (std::size_t i = 0; i < watched.size() && !stop_requested_.load(); ++i) {
    const auto& [fd, callback] = watched[i];
    if ((revents[i] & POLLNVAL) != 0) {
      // The owner closed it without unwatch(): polling it again would spin.
      CVM_LOG_RATE_LIMITED(1, "API server: watched fd {} is not open, no longer watching it", fd);
      std::lock_guard lock(watch_mutex_);
      auto it = watches_.find(fd);
      if (it != watches_.end() && it->second == callback) {
        watches_.erase(it);
      }
      continue;
    }
    if ((revents[i] & (POLLIN | POLLHUP | POLLERR)) != 0) {
      (*callback)();  // our shared_ptr copy keeps it alive through an unwatch() inside
    }
  }
}

Result<void> HttpServer::accept_connections() {
  for (;;) {
    UniqueFd fd(::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) {
        continue;
      }
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return ok();
      }
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        CVM_LOG_RATE_LIMITED(1, "API socket {}: cannot accept: {}", socket_path(),
                             std::strerror(err));
        accept_paused_until_ = std::chrono::steady_clock::now() + kAcceptPauseAfterFdExhaustion;
        return ok();
      }
      return errno_error(ErrorCode::kIo, fmt::format("accept on API socket {}", socket_path()),
                         err);
    }
    if (connections_.size() >= options_.max_connections) {
      // Closing at once (fd's destructor) tells the client to retry; logged once per episode.
      if (!connection_limit_logged_) {
        connection_limit_logged_ = true;
        fmt::print(stderr, "cvmm: API socket {}: {} connections open, refusing more\n",
                   socket_path(), connections_.size());
      }
      continue;
    }
    connections_.push_back(std::make_unique<Connection>(std::move(fd), options_));
  }
}

void HttpServer::serve_connection(Connection& conn, const RequestHandler& handler) {
  read_once(conn);
  while (!conn.closed) {
    ReadResult next = conn.reader.next();
    if (std::holds_alternative<NeedMoreBytes>(next)) {
      if (conn.reader.take_continue_request() &&
          !write_all(conn.fd.get(), serialize_response(HttpResponse{.status = 100}))) {
        conn.closed = true;
      }
      return;
    }
    if (auto* failure = std::get_if<RequestError>(&next)) {
      CVM_LOG_RATE_LIMITED(5, "API socket {}: {} -> {}, closing the connection", socket_path(),
                           failure->message, failure->status);
      const HttpResponse response{.status = failure->status,
                                  .body = failure->message + "\n",
                                  .content_type = "text/plain",
                                  .close_after = true};
      write_all(conn.fd.get(), serialize_response(response));
      conn.closed = true;
      return;
    }
    if (!answer(conn, std::get<ParsedRequest>(next), handler)) {
      conn.closed = true;
      return;
    }
    if (stop_requested_.load()) {
      return;  // pipelined requests wait for the next serve()
    }
  }
}

void HttpServer::read_once(Connection& conn) {
  std::array<char, kReadChunkBytes> bytes;
  // Room for one descriptor more than a request may carry, so "too many" is seen as a count
  // and not only as a truncation.
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (options_.max_fds_per_request + 1)));
  iovec iov{.iov_base = bytes.data(), .iov_len = bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  // Descriptors may come with any read (runtime-integration.md §1.8), so every read asks.
  const ssize_t got = ::recvmsg(conn.fd.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      conn.closed = true;  // ECONNRESET and the like: the client is gone
    }
    return;
  }
  std::vector<UniqueFd> fds = take_received_fds(msg);
  if (got == 0) {
    conn.closed = true;  // the client left, maybe mid-request: nothing to answer
    return;
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    conn.reader.fail(RequestError{
        .status = 400,
        .message = fmt::format("request carries more than {} file descriptors",
                               options_.max_fds_per_request)});
    return;
  }
  conn.reader.append(std::string_view(bytes.data(), static_cast<std::size_t>(got)),
                     std::move(fds));
}

bool HttpServer::answer(Connection& conn, ParsedRequest& parsed, const RequestHandler& handler) {
  const bool head_request = parsed.request.method == "HEAD";
  HttpResponse response;
  // Our handlers do not throw; this only keeps a bug (or bad_alloc) from killing the VMM.
  const HttpResponse internal_error{
      .status = 500, .body = "internal error\n", .content_type = "text/plain", .close_after = false};
  try {
    response = handler(parsed.request);
  } catch (const std::exception& e) {
    response = internal_error;
    CVM_LOG_RATE_LIMITED(5, "API request {} {} failed: {}", parsed.request.method,
                         parsed.request.path, e.what());
  } catch (...) {
    response = internal_error;
    CVM_LOG_RATE_LIMITED(5, "API request {} {} failed", parsed.request.method,
                         parsed.request.path);
  }
  // The request (and any descriptor the handler did not take) is released before writing.
  parsed.request = HttpRequest{};
  response.close_after = response.close_after || parsed.close_after_response;
  std::string wire = serialize_response(response);
  if (head_request) {
    // A HEAD response has the headers a GET would get and no body (RFC 9110 §9.3.2);
    // sending one would be read as the start of the next response.
    wire.resize(wire.find("\r\n\r\n") + 4);
  }
  if (!write_all(conn.fd.get(), wire)) {
    return false;
  }
  return !response.close_after;
}

bool HttpServer::write_all(int fd, std::string_view bytes) {
  const auto deadline = std::chrono::steady_clock::now() + kWriteTimeout;
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return false;  // EPIPE, ECONNRESET: the client left
    }
    const int timeout = poll_timeout_ms(deadline);
    pollfd pfd{.fd = fd, .events = POLLOUT, .revents = 0};
    if (timeout == 0 || (::poll(&pfd, 1, timeout) == 0)) {
      CVM_LOG_RATE_LIMITED(1, "API socket {}: client did not read its response within {} ms, "
                           "dropping it", socket_path(), kWriteTimeout.count());
      return false;
    }
  }
  return true;
}

}  // namespace cvm::vmm::api
