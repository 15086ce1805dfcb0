// SPDX-License-Identifier: Apache-2.0
// vsock_bench: hybrid-vsock throughput and round-trip latency through VsockDevice, with the
// guest played by the test double (GuestVsockStack over VsockGuestDriver rings in fake guest
// memory, on this thread) behaving like a Linux 6.1 guest, and the host client on its own
// thread with blocking Unix-socket I/O in 64 KiB chunks. The ceiling is a plain Unix-socket
// stream between two host threads with the same chunk size, measured in the same run
// alternately with the device so both see the same machine load. No KVM needed.
//
// Usage: vsock_bench [MiB per direction, default 128] [round trips, default 5000]
//                    [runs, default 5] [device buffer per connection in KiB, default 256]
//                    [what: all|up|down|rtt, default all]
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
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

struct Plan {
  uint64_t bytes = 128ull << 20;
  int pings = 5000;
  int runs = 5;
  uint32_t conn_buffer = 256 * 1024;
  bool up = true;
  bool down = true;
  bool rtt = true;
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

double mib_per_s(uint64_t bytes, std::chrono::steady_clock::time_point start) {
  return static_cast<double>(bytes) / seconds_since(start) / (1 << 20);
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of one transfer phase, split by thread (VSOCK_BENCH_CPU=1 prints it): where the
// cycles go, and whether the phase was bound by CPU (sum ~ 2 x wall on this 2-core host).
struct CpuSplit {
  double wall = 0;
  double writer = 0;  // the thread that sends (client or guest)
  double reader = 0;  // the thread that receives (guest or client)
  double rest = 0;    // everything else in the process: the device's event loop
  long waits = 0;     // voluntary context switches (blocking waits) of the whole process
  long preempted = 0; // involuntary ones (the CPU was taken away)
};

std::pair<long, long> context_switches() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return {ru.ru_nvcsw, ru.ru_nivcsw};
}

bool g_print_cpu = false;

void print_cpu(const char* what, const CpuSplit& c, uint64_t bytes) {
  if (!g_print_cpu) {
    return;
  }
  const double gib = static_cast<double>(bytes) / (1 << 30);
  fmt::print("  cpu {:<20} wall {:.3f} s; per GiB: writer {:.3f} s, reader {:.3f} s, "
             "device loop {:.3f} s, {:.0f} waits, {:.0f} preemptions\n",
             what, c.wall, c.writer / gib, c.reader / gib, c.rest / gib,
             static_cast<double>(c.waits) / gib, static_cast<double>(c.preempted) / gib);
}

// Two host threads over a Unix stream socketpair: one direction at a time (the host->guest
// and guest->host ceilings are the same path), then 64-byte ping-pong.
Figures socketpair_ceiling(const Plan& plan) {
  Figures f;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    return f;
  }
  for (double* out : {plan.up ? &f.up_mib_s : nullptr, plan.down ? &f.down_mib_s : nullptr}) {
    if (out != nullptr) {
      CpuSplit cpu;
      const auto [waits0, preempted0] = context_switches();
      const double reader0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      const auto start = std::chrono::steady_clock::now();
      std::thread writer([&] {
        source(sv[0], plan.bytes);
        cpu.writer = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      });
      sink(sv[1], plan.bytes);
      writer.join();
      *out = mib_per_s(plan.bytes, start);
      cpu.wall = seconds_since(start);
      cpu.reader = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - reader0;
      const auto [waits1, preempted1] = context_switches();
      cpu.waits = waits1 - waits0;
      cpu.preempted = preempted1 - preempted0;
      print_cpu("ceiling", cpu, plan.bytes);
    }
  }
  if (plan.rtt) {
    std::thread echo([&] {
      std::vector<std::byte> buf(kPingBytes);
      while (read_exact(sv[1], buf.data(), buf.size()) &&
             write_all(sv[1], buf.data(), buf.size())) {
      }
    });
    f.rtt_us = median(ping(sv[0], plan.pings));
    ::shutdown(sv[0], SHUT_RDWR);
    echo.join();
  }
  ::close(sv[0]);
  ::close(sv[1]);
  return f;
}

// Pumps the guest until `done`; `each` runs between pumps (echo, progress checks). Between
// pumps the guest sleeps until the device interrupts it, like a halted vCPU (the timeout is
// only a safety net; the client thread wakes the guest with finish() when it is done).
void drive_guest(GuestVsockStack& stack, VsockGuestDriver& driver, const std::atomic<bool>& done,
                 const std::function<void()>& each = [] {}) {
  while (!done) {
    stack.pump();
    each();
    driver.interrupt().wait(std::chrono::milliseconds(5));
  }
}

void finish(std::atomic<bool>& done, VsockGuestDriver& driver) {
  done = true;
  driver.interrupt().signal_used_queue(kRxQueue);
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
    finish(done, driver);
  });
  drive_guest(stack, driver, done);
  client.join();
  return fd;
}

// The guest as Linux 6.1 drives the device: the device's queue size (256), rx buffers of
// VIRTIO_VSOCK_DEFAULT_RX_BUF_SIZE = 4 KiB including the 44-byte header, refilled once half
// are used, tx packets of up to 64 KiB, EVENT_IDX kick suppression, buf_alloc 256 KiB with
// the CREDIT_UPDATE rule of virtio_transport_stream_do_dequeue().
Figures through_device(const std::string& path, const Plan& plan) {
  Figures f;
  auto created = VsockDevice::create(3, path, VsockOptions{.conn_buffer_bytes = plan.conn_buffer});
  if (!created) {
    fmt::print(stderr, "vsock_bench: {}\n", created.error().message());
    return f;
  }
  VsockGuestDriver driver(**created, {.queue_size = (*created)->queue_max_sizes()[0],
                                      .rx_payload = 4096 - kHeaderSize,
                                      .unlocked_memory = true});
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
  if (plan.up) {
    CpuSplit cpu;
    const auto [waits0, preempted0] = context_switches();
    const double process0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    const double guest0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    const auto start = std::chrono::steady_clock::now();
    std::thread up([&] {
      source(fd, plan.bytes);
      cpu.writer = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    });
    drive_guest(stack, driver, done,
                [&] { done = stack.conns()[key].received >= plan.bytes; });
    f.up_mib_s = mib_per_s(plan.bytes, start);
    cpu.wall = seconds_since(start);
    cpu.reader = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - guest0;
    up.join();
    cpu.rest = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process0 - cpu.writer - cpu.reader;
    const auto [waits1, preempted1] = context_switches();
    cpu.waits = waits1 - waits0;
    cpu.preempted = preempted1 - preempted0;
    print_cpu("device host->guest", cpu, plan.bytes);
  }
  if (plan.down) {
    done = false;
    stack.write_synthetic(key, plan.bytes);
    CpuSplit cpu;
    const auto [waits0, preempted0] = context_switches();
    const double process0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    const double guest0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    const auto start = std::chrono::steady_clock::now();
    std::thread down([&] {
      sink(fd, plan.bytes);
      cpu.reader = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      finish(done, driver);
    });
    drive_guest(stack, driver, done);
    f.down_mib_s = mib_per_s(plan.bytes, start);
    cpu.wall = seconds_since(start);
    cpu.writer = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - guest0;
    down.join();
    cpu.rest = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process0 - cpu.writer - cpu.reader;
    const auto [waits1, preempted1] = context_switches();
    cpu.waits = waits1 - waits0;
    cpu.preempted = preempted1 - preempted0;
    print_cpu("device guest->host", cpu, plan.bytes);
  }
  if (plan.rtt) {
    done = false;
    uint64_t echoed = stack.conns()[key].received;
    std::vector<double> rtts;
    std::thread pinger([&] {
      rtts = ping(fd, plan.pings);
      finish(done, driver);
    });
    drive_guest(stack, driver, done, [&] {
      const uint64_t received = stack.conns()[key].received;
      if (received > echoed) {
        stack.write_synthetic(key, received - echoed);
        echoed = received;
        stack.pump();
      }
    });
    pinger.join();
    f.rtt_us = median(rtts);
  }
  ::close(fd);
  (*created)->reset();  // the device thread must stop touching `driver`'s memory first
  if (stack.errors != 0 || driver.protocol_errors != 0 || driver.interrupt().needs_reset) {
    fmt::print(stderr, "vsock_bench: protocol errors during the run\n");
  }
  return f;
}

struct Spread {
  double min = 0;
  double median = 0;
  double max = 0;
};

Spread spread(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? Spread{} : Spread{v.front(), v[v.size() / 2], v.back()};
}

void print_spread(const char* name, const char* unit, const std::vector<double>& v) {
  const Spread s = spread(v);
  fmt::print("  {:<34} {:>9.1f} {:>9.1f} {:>9.1f}  {}\n", name, s.min, s.median, s.max, unit);
}

// Per figure: the ceiling, the device and the ratio of each run's pair (device / ceiling
// for throughput, ceiling / device for latency, so 100% = as good as the host).
void summarise(const char* what, const char* unit, bool lower_is_better,
               const std::vector<double>& ceiling, const std::vector<double>& device) {
  std::vector<double> ratio;
  for (std::size_t i = 0; i < ceiling.size(); ++i) {
    ratio.push_back(100 * (lower_is_better ? ceiling[i] / device[i] : device[i] / ceiling[i]));
  }
  fmt::print("{} ({} runs)                         min    median       max\n", what,
             ceiling.size());
  print_spread("ceiling: Unix socket, two threads", unit, ceiling);
  print_spread("device, Linux 6.1 guest", unit, device);
  print_spread("device as % of the ceiling (paired)", "%", ratio);
}

Plan parse(int argc, char** argv) {
  Plan plan;
  if (argc > 1) {
    plan.bytes = std::strtoull(argv[1], nullptr, 10) << 20;
  }
  if (argc > 2) {
    plan.pings = std::atoi(argv[2]);
  }
  if (argc > 3) {
    plan.runs = std::max(1, std::atoi(argv[3]));
  }
  if (argc > 4) {
    plan.conn_buffer = static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10)) << 10;
  }
  if (argc > 5 && std::string(argv[5]) != "all") {
    const std::string what = argv[5];
    plan.up = what == "up";
    plan.down = what == "down";
    plan.rtt = what == "rtt";
  }
  return plan;
}

}  // namespace

int main(int argc, char** argv) {
  const Plan plan = parse(argc, argv);
  g_print_cpu = std::getenv("VSOCK_BENCH_CPU") != nullptr;
  char dir[] = "/tmp/cvmm-vsock-bench-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string path = std::string(dir) + "/vm.sock";
  fmt::print("{} MiB per direction, {} round trips of {} bytes, {} runs, {} KiB device buffer\n",
             plan.bytes >> 20, plan.pings, kPingBytes, plan.runs, plan.conn_buffer >> 10);
  std::vector<Figures> ceiling;
  std::vector<Figures> device;
  for (int run = 0; run < plan.runs; ++run) {
    ceiling.push_back(socketpair_ceiling(plan));
    device.push_back(through_device(path, plan));
    fmt::print("run {}: ceiling {:.0f}/{:.0f} MiB/s {:.1f} us, device {:.0f}/{:.0f} MiB/s "
               "{:.1f} us (host->guest/guest->host, RTT)\n",
               run + 1, ceiling.back().up_mib_s, ceiling.back().down_mib_s,
               ceiling.back().rtt_us, device.back().up_mib_s, device.back().down_mib_s,
               device.back().rtt_us);
  }
  auto column = [](const std::vector<Figures>& runs, double Figures::*field) {
    std::vector<double> v;
    for (const Figures& f : runs) {
      v.push_back(f.*field);
    }
    return v;
  };
  if (plan.up) {
    summarise("host -> guest", "MiB/s", false, column(ceiling, &Figures::up_mib_s),
              column(device, &Figures::up_mib_s));
  }
  if (plan.down) {
    summarise("guest -> host", "MiB/s", false, column(ceiling, &Figures::down_mib_s),
              column(device, &Figures::down_mib_s));
  }
  if (plan.rtt) {
    summarise("64-byte round trip", "us", true, column(ceiling, &Figures::rtt_us),
              column(device, &Figures::rtt_us));
  }
  ::rmdir(dir);
  return 0;
}
