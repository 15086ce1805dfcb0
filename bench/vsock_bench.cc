// SPDX-License-Identifier: Apache-2.0
// vsock_bench: hybrid-vsock throughput and round-trip latency through VsockDevice, with the
// guest played by the test double (GuestVsockStack over VsockGuestDriver rings in fake guest
// memory, on this thread) behaving like a Linux 6.1 guest, and the host client on its own
// thread with blocking Unix-socket I/O in 64 KiB chunks. The ceiling is a plain Unix-socket
// stream between two host threads with the same chunk size, measured in the same run in
// pieces alternating with the device's so both see the same machine load. No KVM needed.
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

// The ceiling: a Unix stream socketpair between two host threads, kept open for the run.
class Ceiling {
 public:
  Ceiling() {
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv_) != 0) {
      sv_[0] = sv_[1] = -1;
    }
  }
  ~Ceiling() {
    ::close(sv_[0]);
    ::close(sv_[1]);
  }
  Ceiling(const Ceiling&) = delete;
  Ceiling& operator=(const Ceiling&) = delete;

  // `bytes` from a writer thread to this thread; adds the seconds and CPU time to `cpu`.
  void transfer(uint64_t bytes, CpuSplit& cpu) {
    const auto [waits0, preempted0] = context_switches();
    const double reader0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    const auto start = std::chrono::steady_clock::now();
    double writer = 0;
    std::thread writer_thread([&] {
      const double writer0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      source(sv_[0], bytes);
      writer = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - writer0;
    });
    sink(sv_[1], bytes);
    writer_thread.join();
    cpu.wall += seconds_since(start);
    cpu.writer += writer;
    cpu.reader += cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - reader0;
    const auto [waits1, preempted1] = context_switches();
    cpu.waits += waits1 - waits0;
    cpu.preempted += preempted1 - preempted0;
  }

  // `count` 64-byte round trips against an echo thread.
  void ping_pong(int count, std::vector<double>& rtts) {
    std::thread echo([&] {
      std::vector<std::byte> buf(kPingBytes);
      for (int i = 0; i < count && read_exact(sv_[1], buf.data(), buf.size()) &&
                      write_all(sv_[1], buf.data(), buf.size());
           ++i) {
      }
    });
    const std::vector<double> more = ping(sv_[0], count);
    rtts.insert(rtts.end(), more.begin(), more.end());
    echo.join();
  }

 private:
  int sv_[2] = {-1, -1};
};

// Pumps the guest until `done`; `each` runs between pumps (echo, progress checks). Between
// pumps the guest sleeps until the device interrupts it, like a halted vCPU (the timeout is
// only a safety net; the client thread wakes the guest with finish() when it is done).
void drive_guest(GuestVsockStack& stack, VsockGuestDriver& driver, const std::atomic<bool>& done,
                 const std::function<void()>& each = [] {}) {
  while (!done) {
    stack.pump();
    each();
    driver.interrupt().wait(std::chrono::milliseconds(5));
    if (driver.interrupt().needs_reset) {
      fmt::print(stderr, "vsock_bench: the device set DEVICE_NEEDS_RESET\n");
      std::_Exit(2);
    }
  }
}

void finish(std::atomic<bool>& done, VsockGuestDriver& driver) {
  done = true;
  driver.interrupt().signal_used_queue(kRxQueue);
}

// One VsockDevice with one hybrid connection (client fd on the host side, port 1024 in the
// guest), kept open for the run. The guest behaves like Linux 6.1 drives the device: the
// device's queue size (256), rx buffers of VIRTIO_VSOCK_DEFAULT_RX_BUF_SIZE = 4 KiB including
// the 44-byte header, refilled once half are used, tx packets of up to 64 KiB, EVENT_IDX
// kick suppression, buf_alloc 256 KiB with the CREDIT_UPDATE rule of
// virtio_transport_stream_do_dequeue().
class DeviceSession {
 public:
  DeviceSession(std::unique_ptr<VsockDevice> device, const Plan& plan)
      : device_(std::move(device)),
        driver_(*device_, {.queue_size = device_->queue_max_sizes()[0],
                           .rx_payload = 4096 - static_cast<uint32_t>(kHeaderSize),
                           .unlocked_memory = true}),
        stack_(driver_) {
    (void)plan;
    driver_.discard_payload = true;
    stack_.keep_data = false;
    stack_.keep_log = false;
    stack_.listen(1024);
  }
  ~DeviceSession() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    device_->reset();  // the device thread must stop touching the driver's memory first
    if (g_print_cpu) {
      fmt::print("  guest: {} kicks, {} credit requests from the device\n", driver_.kicks,
                 stack_.credit_requests);
    }
    if (stack_.errors != 0 || driver_.protocol_errors != 0 || driver_.interrupt().needs_reset) {
      fmt::print(stderr, "vsock_bench: protocol errors during the run\n");
    }
  }
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  bool connect(const std::string& path) {
    if (!driver_.activate()) {
      return false;
    }
    std::atomic<bool> done{false};
    std::thread client([&] {
      testing::HostEnd end = testing::HostEnd::connect(path);
      fd_ = ::dup(end.fd());
      // HostEnd made the socket non-blocking; the bench client uses blocking I/O.
      testing::HostEnd::set_blocking(fd_);
      const std::string line = "CONNECT 1024\n";
      (void)write_all(fd_, reinterpret_cast<const std::byte*>(line.data()), line.size());
      std::byte c{};
      while (read_exact(fd_, &c, 1) && c != std::byte{'\n'}) {
      }
      finish(done, driver_);
    });
    drive_guest(stack_, driver_, done);
    client.join();
    if (stack_.accepted().empty()) {
      return false;
    }
    key_ = stack_.accepted().front();
    return true;
  }

  // Host client -> guest: `bytes` more.
  void up(uint64_t bytes, CpuSplit& cpu) {
    const uint64_t target = stack_.conns()[key_].received + bytes;
    std::atomic<bool> done{false};
    const Mark mark;
    double writer = 0;
    std::thread client([&] {
      const double writer0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      source(fd_, bytes);
      writer = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - writer0;
    });
    drive_guest(stack_, driver_, done,
                [&] { done = stack_.conns()[key_].received >= target; });
    const double wall = seconds_since(mark.start);
    const double guest = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - mark.thread0;
    client.join();
    mark.add(cpu, wall, writer, guest);
  }

  // Guest -> host client: `bytes` more.
  void down(uint64_t bytes, CpuSplit& cpu) {
    stack_.write_synthetic(key_, bytes);
    std::atomic<bool> done{false};
    const Mark mark;
    double reader = 0;
    std::thread client([&] {
      const double reader0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      sink(fd_, bytes);
      reader = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - reader0;
      finish(done, driver_);
    });
    drive_guest(stack_, driver_, done);
    const double wall = seconds_since(mark.start);
    const double guest = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - mark.thread0;
    client.join();
    mark.add(cpu, wall, guest, reader);
  }

  // `count` round trips: the client writes 64 bytes, the guest echoes them.
  void ping_pong(int count, std::vector<double>& rtts) {
    std::atomic<bool> done{false};
    uint64_t echoed = stack_.conns()[key_].received;
    std::thread pinger([&] {
      const std::vector<double> more = ping(fd_, count);
      rtts.insert(rtts.end(), more.begin(), more.end());
      finish(done, driver_);
    });
    drive_guest(stack_, driver_, done, [&] {
      const uint64_t received = stack_.conns()[key_].received;
      if (received > echoed) {
        stack_.write_synthetic(key_, received - echoed);
        echoed = received;
        stack_.pump();
      }
    });
    pinger.join();
  }

 private:
  // Start of a timed transfer: wall clock, this (guest) thread's and the process's CPU.
  struct Mark {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    double thread0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    double process0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    std::pair<long, long> switches0 = context_switches();
    void add(CpuSplit& cpu, double wall, double writer, double reader) const {
      const auto [waits1, preempted1] = context_switches();
      cpu.wall += wall;
      cpu.writer += writer;
      cpu.reader += reader;
      cpu.rest += cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process0 - writer - reader;
      cpu.waits += waits1 - switches0.first;
      cpu.preempted += preempted1 - switches0.second;
    }
  };

  std::unique_ptr<VsockDevice> device_;
  VsockGuestDriver driver_;
  GuestVsockStack stack_;
  int fd_ = -1;
  GuestVsockStack::Key key_{};
};

// One run: each direction in kSegments pieces, alternating ceiling and device piece by
// piece so both see the same machine load (this host is shared), likewise the round trips.
constexpr int kSegments = 8;

void one_run(const std::string& path, const Plan& plan, Figures& ceiling, Figures& device) {
  auto created = VsockDevice::create(3, path, VsockOptions{.conn_buffer_bytes = plan.conn_buffer});
  if (!created) {
    fmt::print(stderr, "vsock_bench: {}\n", created.error().message());
    return;
  }
  DeviceSession session(std::move(*created), plan);
  if (!session.connect(path)) {
    fmt::print(stderr, "vsock_bench: the hybrid-vsock handshake failed\n");
    return;
  }
  Ceiling pair;
  const uint64_t piece = plan.bytes / kSegments;
  const double mib = static_cast<double>(piece * kSegments) / (1 << 20);
  if (plan.up) {
    CpuSplit c;
    CpuSplit d;
    for (int i = 0; i < kSegments; ++i) {
      pair.transfer(piece, c);
      session.up(piece, d);
    }
    ceiling.up_mib_s = mib / c.wall;
    device.up_mib_s = mib / d.wall;
    print_cpu("ceiling", c, piece * kSegments);
    print_cpu("device host->guest", d, piece * kSegments);
  }
  if (plan.down) {
    CpuSplit c;
    CpuSplit d;
    for (int i = 0; i < kSegments; ++i) {
      pair.transfer(piece, c);
      session.down(piece, d);
    }
    ceiling.down_mib_s = mib / c.wall;
    device.down_mib_s = mib / d.wall;
    print_cpu("ceiling", c, piece * kSegments);
    print_cpu("device guest->host", d, piece * kSegments);
  }
  if (plan.rtt) {
    std::vector<double> c;
    std::vector<double> d;
    for (int i = 0; i < kSegments; ++i) {
      pair.ping_pong(plan.pings / kSegments, c);
      session.ping_pong(plan.pings / kSegments, d);
    }
    ceiling.rtt_us = median(c);
    device.rtt_us = median(d);
  }
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
    ceiling.emplace_back();
    device.emplace_back();
    one_run(path, plan, ceiling.back(), device.back());
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
