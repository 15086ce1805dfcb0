// SPDX-License-Identifier: Apache-2.0
// HttpServer: the transport of the Cloud Hypervisor compatible API (`--api-socket PATH`,
// runtime-integration.md §1.2, §1.8): HTTP/1.1 over a Unix socket, one serving thread, one
// request at a time, SCM_RIGHTS descriptors delivered with their request. It knows nothing
// about VMs: the routes are the RequestHandler. See vmm/api/README.md for the guarantees.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "base/unix_listener.h"
#include "vmm/api/http_types.h"
#include "vmm/api/request_reader.h"

namespace cvm::vmm::api {

class HttpServer final {
 public:
  /// A client that does not take a response within this is dropped (its thread would
  /// otherwise block every other client, the VMM's ping included).
  static constexpr std::chrono::milliseconds kWriteTimeout{5'000};

  /// Binds `socket_path` (a stale socket there is replaced, a live one or a non-socket file is
  /// an error naming the path). Serving starts with serve().
  static Result<std::unique_ptr<HttpServer>> listen(const std::string& socket_path,
                                                    HttpServerOptions options = {});
  /// Closes every connection and removes the socket file if it is still ours.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Calls on_ready() on the serving thread whenever `fd` is readable, hung up or in error
  /// (level-triggered: on_ready must drain it). Any thread, before or during serve(); a
  /// second watch() of the same fd replaces the callback. `fd` stays owned by the caller,
  /// who must unwatch() it before closing it.
  void watch(int fd, std::function<void()> on_ready);
  /// Stops calling the callback of `fd`. Any thread, also from inside a callback.
  void unwatch(int fd);

  /// Serves until stop(): accepts connections, reads requests, calls `handler` for one
  /// request at a time on this thread and writes its response. Returns after the response
  /// in progress (if any) has been written. Errors only when the listener or poll fails,
  /// never because of a client. Open connections are closed by the destructor.
  Result<void> serve(const RequestHandler& handler);
  /// Makes serve() return soon after. Sticky, so a stop() that races ahead of serve() is not
  /// lost: a serve() that starts later returns at once.
  /// Any thread, also from inside the handler or a watch callback; async-signal-safe.
  void stop();

  const std::string& socket_path() const noexcept { return listener_.path(); }

 private:
  struct Connection {
    Connection(UniqueFd socket, const HttpServerOptions& options)
        : fd(std::move(socket)), reader(options) {}
    UniqueFd fd;
    RequestReader reader;
    bool closed = false;  // set by serve_connection(); removed after the poll round
  };
  using WatchCallback = std::shared_ptr<std::function<void()>>;

  HttpServer(UnixListener listener, UniqueFd wake_fd, HttpServerOptions options)
      : listener_(std::move(listener)), wake_fd_(std::move(wake_fd)), options_(options) {}

  Result<void> accept_connections();
  void run_watch_callbacks(const std::vector<std::pair<int, WatchCallback>>& watched,
                           const std::vector<short>& revents);
  /// Reads once from `conn` and answers every complete request; marks it closed when the
  /// client left, misbehaved or asked to close.
  void serve_connection(Connection& conn, const RequestHandler& handler);
  void read_once(Connection& conn);
  /// Calls the handler and writes its response; false when the connection must close.
  bool answer(Connection& conn, ParsedRequest& parsed, const RequestHandler& handler);
  /// Writes all of `bytes` within kWriteTimeout; false when the client is gone or too slow.
  bool write_all(int fd, std::string_view bytes);

  UnixListener listener_;
  UniqueFd wake_fd_;  // eventfd: stop() and watch()/unwatch() interrupt poll()
  HttpServerOptions options_;
  std::vector<std::unique_ptr<Connection>> connections_;  // serving thread only
  // After EMFILE/ENFILE the listener stays readable; accepting pauses instead of spinning.
  std::chrono::steady_clock::time_point accept_paused_until_{};
  bool connection_limit_logged_ = false;
  std::atomic<bool> stop_requested_{false};
  std::mutex watch_mutex_;
  std::map<int, WatchCallback> watches_;  // guarded by watch_mutex_
};

}  // namespace cvm::vmm::api
