// SPDX-License-Identifier: Apache-2.0
// vsock_bench: hybrid-vsock throughput and round-trip latency through VsockDevice, with the
// guest played by the test double (GuestVsockStack over VsockGuestDriver rings in fake guest
// memory, on this thread) and the host client on its own thread with blocking Unix-socket
// I/O. The ceiling is a plain Unix-socket pair between two host threads in the same run.
// No KVM needed.
//
// Usage: vsock_bench [MiB per direction, default 128] [round trips, default 20000]
//                    [device buffer per connection in KiB, default 256]
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "devices/virtio/vsock/vsock_device.h"
#include "tests/unit/virtio/vsock_guest.h"
#include "tests/unit/virtio/vsock_test_util.h"

using namespace cvm;
using namespace cvm::devices::virtio;
using namespace cvm::devices::virtio::vsock;
using testing::GuestVsockStack;
using testing::VsockGuestDriver;

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kPingBytes = 64;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool write_all(int fd, const std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_exact(int fd, std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void sink(int fd, uint64_t bytes) {
  std::vector<std::byte> buf(kChunk);
  for (uint64_t got = 0; got < bytes;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      return;
    }
    got += static_cast<uint64_t>(n);
  }
}

void source(int fd, uint64_t bytes) {
  const std::vector<std::byte> buf(kChunk, std::byte{0x5a});
  for (uint64_t sent = 0; sent < bytes; sent += kChunk) {
    if (!write_all(fd, buf.data(), std::min<uint64_t>(kChunk, bytes - sent))) {
      return;
    }
  }
}

struct Figures {
  double up_mib_s = 0;    // host client -> guest
  double down_mib_s = 0;  // guest -> host client
  double rtt_us = 0;      // median 64-byte round trip
};

std::vector<double> ping(int fd, int count) {
  std::vector<double> rtts;
  std::vector<std::byte> buf(kPingBytes, std::byte{1});
  for (int i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!write_all(fd, buf.data(), buf.size()) || !read_exact(fd, buf.data(), buf.size())) {
      break;
    }
    rtts.push_back(seconds_since(start) * 1e6);
  }
  return rtts;
}

double median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Figures socketpair_ceiling(uint64_t bytes, int pings) {
  Figures f;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    return f;
  }
  auto start = std::chrono::steady_clock::now();
  std::thread writer([&] { source(sv[0], bytes); });
  sink(sv[1], bytes);
  writer.join();
  f.up_mib_s = bytes / seconds_since(start) / (1 << 20);
  f.down_mib_s = f.up_mib_s;
  std::thread echo([&] {
    std::vector<std::byte> buf(kPingBytes);
    while (read_exact(sv[1], buf.data(), buf.size()) && write_all(sv[1], buf.data(), buf.size())) {
    }
  });
  f.rtt_us = median(ping(sv[0], pings));
  ::shutdown(sv[0], SHUT_RDWR);
  echo.join();
  ::close(sv[0]);
  ::close(sv[1]);
  return f;
}

// Pumps the guest until `done`; `each` runs between pumps (echo, progress checks).
void drive_guest(GuestVsockStack& stack, VsockGuestDriver& driver, const std::atomic<bool>& done,
                 const std::function<void()>& each = [] {}) {
  while (!done) {
    stack.pump();
    each();
    driver.interrupt().wait(std::chrono::microseconds(50));
  }
}

int handshake(const std::string& path, GuestVsockStack& stack, VsockGuestDriver& driver) {
  std::atomic<bool> done{false};
  int fd = -1;
  std::thread client([&] {
    testing::HostEnd end = testing::HostEnd::connect(path);
    fd = ::dup(end.fd());
    // HostEnd made the socket non-blocking; the bench client uses blocking I/O.
    testing::HostEnd::set_blocking(fd);
    const std::string line = "CONNECT 1024\n";
    (void)write_all(fd, reinterpret_cast<const std::byte*>(line.data()), line.size());
    std::byte c{};
    while (read_exact(fd, &c, 1) && c != std::byte{'\n'}) {
    }
    done = true;
  });
  drive_guest(stack, driver, done);
  client.join();
  return fd;
}

uint32_t g_conn_buffer = 256 * 1024;

Figures through_device(const std::string& path, uint16_t queue_size, uint32_t rx_payload,
                       uint64_t bytes, int pings) {
  Figures f;
  auto created = VsockDevice::create(3, path, VsockOptions{.conn_buffer_bytes = g_conn_buffer});
  if (!created) {
    fmt::print(stderr, "vsock_bench: {}\n", created.error().message());
    return f;
  }
  VsockGuestDriver driver(**created, {.queue_size = queue_size, .rx_payload = rx_payload});
  driver.discard_payload = true;
  if (!driver.activate()) {
    return f;
  }
  GuestVsockStack stack(driver);
  stack.keep_data = false;
  stack.keep_log = false;
  stack.listen(1024);
  const int fd = handshake(path, stack, driver);
  const GuestVsockStack::Key key = stack.accepted().at(0);
  std::atomic<bool> done{false};

  auto start = std::chrono::steady_clock::now();
  std::thread up([&] { source(fd, bytes); });
  drive_guest(stack, driver, done, [&] { done = stack.conns()[key].received >= bytes; });
  f.up_mib_s = bytes / seconds_since(start) / (1 << 20);
  up.join();

  done = false;
  stack.write(key, std::vector<std::byte>(bytes, std::byte{0xa5}));
  start = std::chrono::steady_clock::now();
  std::thread down([&] { sink(fd, bytes); done = true; });
  drive_guest(stack, driver, done);
  f.down_mib_s = bytes / seconds_since(start) / (1 << 20);
  down.join();

  done = false;
  uint64_t echoed = stack.conns()[key].received;
  std::vector<double> rtts;
  std::thread pinger([&] { rtts = ping(fd, pings); done = true; });
  drive_guest(stack, driver, done, [&] {
    const uint64_t received = stack.conns()[key].received;
    if (received > echoed) {
      stack.write(key, std::vector<std::byte>(received - echoed, std::byte{2}));
      echoed = received;
      stack.pump();
    }
  });
  pinger.join();
  f.rtt_us = median(rtts);
  ::close(fd);
  if (stack.errors != 0 || driver.protocol_errors != 0 || driver.interrupt().needs_reset) {
    fmt::print(stderr, "vsock_bench: protocol errors during the run\n");
  }
  return f;
}

void print_row(const char* name, const Figures& f, const Figures& ceiling) {
  fmt::print("{:<46} {:>8.0f} MiB/s ({:>4.0f}%) {:>8.0f} MiB/s ({:>4.0f}%) {:>7.1f} us ({:.1f}x)\n",
             name, f.up_mib_s, 100 * f.up_mib_s / ceiling.up_mib_s, f.down_mib_s,
             100 * f.down_mib_s / ceiling.down_mib_s, f.rtt_us, f.rtt_us / ceiling.rtt_us);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 128;
  const int pings = argc > 2 ? std::atoi(argv[2]) : 20000;
  if (argc > 3) {
    g_conn_buffer = static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10)) << 10;
  }
  const uint64_t bytes = mib << 20;
  char dir[] = "/tmp/cvmm-vsock-bench-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string path = std::string(dir) + "/vm.sock";
  fmt::print("{} MiB per direction, {} round trips of {} bytes; host->guest, guest->host, median RTT\n",
             mib, pings, kPingBytes);
  const Figures ceiling = socketpair_ceiling(bytes, pings);
  print_row("ceiling: Unix socketpair, two host threads", ceiling, ceiling);
  print_row("device, 4 KiB rx buffers (Linux), queue 128",
            through_device(path, 128, 4096, bytes, pings), ceiling);
  print_row("device, 64 KiB rx buffers, queue 64", through_device(path, 64, 65536, bytes, pings),
            ceiling);
  ::rmdir(dir);
  return 0;
}
