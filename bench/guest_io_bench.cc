// SPDX-License-Identifier: Apache-2.0
// guest_io_bench (issue 3): virtio-blk and virtio-vsock figures measured inside the test guest
// (tests/guest, programs blk-bench and vsock-bench) under `cvmm run` and under QEMU's microvm,
// each beside its host ceiling measured in the same run (bench/host_ceiling.h). Builds nothing:
// `ninja -C build guest_io_bench cvmm cvmm_test_guest` first (bench/README.md).
//
// The guest times blk phases with rdtsc; this program measures the host TSC frequency against
// CLOCK_MONOTONIC and converts (KVM guests read the host TSC; QEMU TCG returns host ticks too).
// vsock figures are timed on the host end (tests/guest/bench_host.h).
#include <fmt/format.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "bench/host_ceiling.h"
#include "tests/guest/bench_host.h"
#include "tests/guest/guest_harness.h"
#include "tests/guest/vmm_launch.h"

namespace cvm::bench {
namespace {

namespace tg = test::guest;
namespace gb = test::guest::bench;
using Clock = std::chrono::steady_clock;
constexpr auto kRunTimeout = std::chrono::minutes(10);
constexpr uint32_t kVsockPort = 1234;
constexpr double kMiB = 1024.0 * 1024.0;

struct Options {
  gb::BlkBenchParams blk{.bytes = 64ull << 20, .chunk = 64 * 1024, .qd = 8, .ops = 4000};
  gb::VsockBenchParams vsock{.bytes = 64ull << 20, .rounds = 2000};
  uint32_t repeat = 3;  // rounds of (ceiling, cvmm, QEMU); the best figure of each is kept
  bool allow_tcg = false;
  std::filesystem::path image_dir = "/var/tmp";
  std::string cvmm = CVMM_BINARY;
};

/// One column of the table: figure name -> value (MiB/s, IOPS or microseconds).
using Figures = std::map<std::string, double>;

const char* const kRows[] = {"blk seq-read MiB/s",    "blk seq-write MiB/s",
                             "blk rand-read 4K IOPS", "blk rand-write 4K IOPS",
                             "vsock g2h MiB/s",       "vsock h2g MiB/s",
                             "vsock RTT median us"};

double measure_tsc_hz() {
  const auto start = Clock::now();
  const uint64_t tsc_start = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t tsc_end = __rdtsc();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(tsc_end - tsc_start) / seconds;
}

void add_blk(Figures& f, const gb::BlkBenchParams& p, const BlkPhaseSeconds& s) {
  f["blk seq-read MiB/s"] = static_cast<double>(p.bytes) / kMiB / s.seq_read;
  f["blk seq-write MiB/s"] = static_cast<double>(p.bytes) / kMiB / s.seq_write;
  f["blk rand-read 4K IOPS"] = static_cast<double>(p.ops) / s.rand_read;
  f["blk rand-write 4K IOPS"] = static_cast<double>(p.ops) / s.rand_write;
}

void add_vsock(Figures& f, const gb::VsockBenchParams& p, const gb::VsockBenchTimes& t) {
  f["vsock g2h MiB/s"] = static_cast<double>(t.g2h_timed_bytes) / kMiB / t.g2h_seconds;
  f["vsock h2g MiB/s"] = static_cast<double>(p.bytes) / kMiB / t.h2g_seconds;
  f["vsock RTT median us"] = gb::median(t.rtt_us);
}

/// A VMM that boots the guest: argv for a program, with an optional disk or vsock socket.
struct Vmm {
  std::string name;
  std::function<std::vector<std::string>(const std::string& append, const std::string& disk,
                                         const tg::TempDir& dir)>
      argv;
  std::function<std::filesystem::path(const tg::TempDir& dir)> console;
  std::function<Result<UniqueFd>(const tg::TempDir& dir)> vsock_listener;  // empty: no vsock
  int pass_status = 0;
};

Result<tg::GuestReport> finish(tg::ChildProcess& child, const Vmm& vmm, const tg::TempDir& dir) {
  CVM_ASSIGN_OR_RETURN(const int status, child.wait(kRunTimeout));
  CVM_ASSIGN_OR_RETURN(tg::GuestReport report, tg::read_report(vmm.console(dir)));
  if (status != vmm.pass_status || !report.has_line("done pass")) {
    return make_error(ErrorCode::kGuest, "{}: exit status {}, guest output:\n{}", vmm.name,
                      status, report.full_output);
  }
  return report;
}

Result<void> run_blk(const Vmm& vmm, const Options& o, double tsc_hz, Figures& figures) {
  CVM_ASSIGN_OR_RETURN(tg::TempDir dir, tg::TempDir::create("cvmm-guest-io-bench-"));
  const auto image = o.image_dir / fmt::format("cvmm-guest-io-bench-{}.img", ::getpid());
  const std::vector<std::byte> original = tg::disk_content(o.blk.bytes, 11);
  CVM_TRY(prepare_cold_image(image, original));
  CVM_ASSIGN_OR_RETURN(tg::ChildProcess child,
                       tg::ChildProcess::spawn(vmm.argv(gb::blk_bench_args(o.blk), image, dir),
                                               dir.path() / "vmm.txt"));
  auto report = finish(child, vmm, dir);
  std::filesystem::remove(image);
  CVM_TRY(report);
  CVM_ASSIGN_OR_RETURN(const gb::BlkBenchTsc tsc, gb::parse_blk_bench(*report, o.blk));
  const std::string expected = tg::sha256_hex(gb::blk_bench_expected_image(original, o.blk));
  if (report->value("blk-bench verify", "sha256") != expected) {
    return make_error(ErrorCode::kGuest, "{}: the disk's SHA-256 after blk-bench is not the "
                      "expected {}", vmm.name, expected);
  }
  const auto seconds = [tsc_hz](uint64_t delta) { return static_cast<double>(delta) / tsc_hz; };
  add_blk(figures, o.blk, {.seq_write = seconds(tsc.seq_write), .seq_read = seconds(tsc.seq_read),
                           .rand_read = seconds(tsc.rand_read),
                           .rand_write = seconds(tsc.rand_write)});
  return ok();
}

Result<void> run_vsock(const Vmm& vmm, const Options& o, Figures& figures) {
  CVM_ASSIGN_OR_RETURN(tg::TempDir dir, tg::TempDir::create("cvmm-guest-io-bench-"));
  CVM_ASSIGN_OR_RETURN(UniqueFd listener, vmm.vsock_listener(dir));
  CVM_ASSIGN_OR_RETURN(tg::ChildProcess child,
                       tg::ChildProcess::spawn(
                           vmm.argv(gb::vsock_bench_args(o.vsock, kVsockPort), "", dir),
                           dir.path() / "vmm.txt"));
  auto connection = tg::accept_connection(listener, std::chrono::seconds(60));
  if (!connection) {
    // The guest gives up after vsock.timeout (120 s) and reports why.
    auto report = finish(child, vmm, dir);
    return make_error(ErrorCode::kGuest, "{}: the guest did not connect to port {}: {}",
                      vmm.name, kVsockPort,
                      report ? report->full_output : report.error().message());
  }
  auto times = gb::vsock_bench_host(connection->get(), o.vsock, kRunTimeout);
  connection->reset();
  CVM_ASSIGN_OR_RETURN(const tg::GuestReport report, finish(child, vmm, dir));
  CVM_TRY(times);
  if (!report.has_line("vsock-bench ok")) {
    return make_error(ErrorCode::kGuest, "{}: vsock-bench did not finish", vmm.name);
  }
  add_vsock(figures, o.vsock, *times);
  return ok();
}

Vmm cvmm_vmm(const Options& o) {
  Vmm vmm;
  vmm.name = "cvmm";
  vmm.argv = [o](const std::string& append, const std::string& disk, const tg::TempDir& dir) {
    tg::CvmmLaunch launch{.binary = o.cvmm, .append = append, .serial = dir.path() / "serial.txt",
                          .disks = tg::disks_of(disk), .vsock_socket = std::nullopt};
    if (disk.empty()) {
      launch.vsock_socket = dir.path() / "vsock.sock";
    }
    return tg::cvmm_run_argv(launch);
  };
  vmm.console = [](const tg::TempDir& dir) { return dir.path() / "serial.txt"; };
  // Hybrid vsock: a guest connection to host port P arrives on <socket>_P.
  vmm.vsock_listener = [](const tg::TempDir& dir) {
    return tg::unix_listen(dir.path().string() + "/vsock.sock_" + std::to_string(kVsockPort));
  };
  return vmm;
}

Vmm qemu_vmm(bool kvm) {
  Vmm vmm;
  vmm.name = kvm ? "QEMU" : "QEMU (TCG)";
  vmm.argv = [kvm](const std::string& append, const std::string& disk, const tg::TempDir&) {
    tg::QemuLaunch launch{.kvm = kvm, .append = append, .disks = tg::disks_of(disk),
                          .disk_cache = "writeback", .vsock_cid = std::nullopt};
    if (disk.empty()) {
      launch.vsock_cid = 1000 + static_cast<uint32_t>(::getpid() % 100000);
    }
    return tg::qemu_microvm_argv(launch);
  };
  vmm.console = [](const tg::TempDir& dir) { return dir.path() / "vmm.txt"; };
  vmm.vsock_listener = [](const tg::TempDir&) { return tg::af_vsock_listen(kVsockPort); };
  vmm.pass_status = tg::kQemuPassStatus;
  return vmm;
}

std::string cell(const Figures& f, const char* row) {
  const auto it = f.find(row);
  return it == f.end() ? "n/a" : fmt::format("{:.1f}", it->second);
}

/// Performance of `a` relative to `b` (for the latency row: b / a, so above 1 is better).
std::string ratio(const Figures& a, const Figures& b, const char* row) {
  const auto x = a.find(row), y = b.find(row);
  if (x == a.end() || y == b.end() || x->second <= 0 || y->second <= 0) {
    return "n/a";
  }
  const bool latency = std::string_view(row).find("RTT") != std::string_view::npos;
  return fmt::format("{:.0f} %", 100 * (latency ? y->second / x->second : x->second / y->second));
}

void print_table(const Figures& cvmm, const Figures& qemu, const std::string& qemu_label,
                 const Figures& ceiling) {
  fmt::print("\n{:<24} {:>12} {:>12} {:>13} {:>14} {:>11}\n", "figure", "cvmm", qemu_label,
             "host ceiling", "cvmm/ceiling", "cvmm/QEMU");
  for (const char* row : kRows) {
    fmt::print("{:<24} {:>12} {:>12} {:>13} {:>14} {:>11}\n", row, cell(cvmm, row),
               cell(qemu, row), cell(ceiling, row), ratio(cvmm, ceiling, row),
               ratio(cvmm, qemu, row));
  }
  fmt::print("ratios are relative performance (latency: ceiling or QEMU RTT / cvmm RTT); "
             "targets: cvmm/ceiling >= 70 %, cvmm/QEMU >= 100 %\n");
}

/// Keeps the better of `best` and `run` per figure (the larger, or for RTT the smaller): on a
/// shared machine interference only ever makes a figure worse.
void keep_best(Figures& best, const Figures& run) {
  for (const auto& [row, value] : run) {
    const bool latency = row.find("RTT") != std::string::npos;
    const auto it = best.find(row);
    if (it == best.end() || (latency ? value < it->second : value > it->second)) {
      best[row] = value;
    }
  }
}

Figures run_vmm(const Vmm& vmm, const Options& o, double tsc_hz, bool with_vsock) {
  Figures figures;
  if (auto blk = run_blk(vmm, o, tsc_hz, figures); !blk) {
    fmt::print("{}: blk-bench failed: {}\n", vmm.name, blk.error().message());
  }
  if (with_vsock) {
    if (auto vsock = run_vsock(vmm, o, figures); !vsock) {
      fmt::print("{}: vsock-bench failed: {}\n", vmm.name, vsock.error().message());
    }
  }
  return figures;
}

Figures measure_ceiling(const Options& o) {
  Figures f;
  const auto image = o.image_dir / fmt::format("cvmm-guest-io-ceiling-{}.img", ::getpid());
  auto blk = blk_host_ceiling(image, tg::disk_content(o.blk.bytes, 11), o.blk);
  std::filesystem::remove(image);
  if (blk) {
    add_blk(f, o.blk, *blk);
  } else {
    fmt::print("host ceiling: blk failed: {}\n", blk.error().message());
  }
  if (auto vsock = vsock_host_ceiling(o.vsock)) {
    add_vsock(f, o.vsock, *vsock);
  } else {
    fmt::print("host ceiling: vsock failed: {}\n", vsock.error().message());
  }
  return f;
}

/// Which VMMs run (each skip is printed once, with its reason).
struct Plan {
  std::optional<Vmm> cvmm;
  std::optional<Vmm> qemu;
  bool qemu_kvm = false;
  bool qemu_vsock = false;
  std::string qemu_label = "QEMU";
};

Plan plan_runs(const Options& o) {
  Plan plan;
  if (tg::dev_kvm_absent()) {
    fmt::print("cvmm: skipped: /dev/kvm is absent\n");
  } else if (o.cvmm.empty()) {
    fmt::print("cvmm: skipped: the cvmm binary is not part of this build (--cvmm PATH)\n");
  } else {
    plan.cvmm = cvmm_vmm(o);
  }
  plan.qemu_kvm = tg::device_usable("/dev/kvm");
  if (::access(tg::kQemuBinary, X_OK) != 0) {
    fmt::print("QEMU: skipped: {} is absent\n", tg::kQemuBinary);
    return plan;
  }
  if (!plan.qemu_kvm && !o.allow_tcg) {
    fmt::print("QEMU: skipped: /dev/kvm is absent (--allow-tcg runs QEMU under TCG, figures "
               "not comparable)\n");
    return plan;
  }
  plan.qemu_label = plan.qemu_kvm ? "QEMU" : "QEMU TCG";
  plan.qemu = qemu_vmm(plan.qemu_kvm);
  plan.qemu_vsock = tg::device_usable("/dev/vhost-vsock");
  if (!plan.qemu_vsock) {
    fmt::print("QEMU: vsock: skipped: /dev/vhost-vsock is absent (QEMU's vhost-vsock-device "
               "needs it)\n");
  }
  return plan;
}

}  // namespace
}  // namespace cvm::bench

namespace {

constexpr const char* kUsage =
    "usage: guest_io_bench [--blk-mib N] [--chunk-kib C] [--qd Q] [--rand-ops R]\n"
    "                      [--vsock-mib M] [--rounds K] [--image-dir DIR] [--cvmm PATH]\n"
    "                      [--repeat N] [--allow-tcg]\n"
    "Build first: ninja -C build guest_io_bench cvmm cvmm_test_guest (bench/README.md)\n";

/// Parses "--flag value" pairs; false (usage printed) on anything unknown or malformed.
bool parse_options(int argc, char** argv, cvm::bench::Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--allow-tcg") {
      o.allow_tcg = true;
      continue;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr, "{}", kUsage);
      return false;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    const uint64_t number = std::strtoull(value.c_str(), &end, 10);
    const bool numeric = end != value.c_str() && *end == '\0' && number > 0;
    if (flag == "--image-dir") {
      o.image_dir = value;
    } else if (flag == "--cvmm") {
      o.cvmm = value;
    } else if (numeric && flag == "--blk-mib") {
      o.blk.bytes = number << 20;
    } else if (numeric && flag == "--chunk-kib") {
      o.blk.chunk = static_cast<uint32_t>(number << 10);
    } else if (numeric && flag == "--qd") {
      o.blk.qd = static_cast<uint32_t>(number);
    } else if (numeric && flag == "--rand-ops") {
      o.blk.ops = number;
    } else if (numeric && flag == "--vsock-mib") {
      o.vsock.bytes = number << 20;
    } else if (numeric && flag == "--rounds") {
      o.vsock.rounds = number;
    } else if (numeric && flag == "--repeat") {
      o.repeat = static_cast<uint32_t>(number);
    } else {
      fmt::print(stderr, "guest_io_bench: bad argument {} {}\n{}", flag, value, kUsage);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  namespace tg = cvm::test::guest;
  using namespace cvm::bench;
  Options o;
  if (tg::emulating_kvm_host()) {
    // Nested kvm_pvm emulates most guest instructions (nested-kvm-notes.md): smaller defaults.
    o.blk.bytes = 16ull << 20;
    o.blk.ops = 1000;
    o.vsock.bytes = 16ull << 20;
    o.vsock.rounds = 500;
    fmt::print("guest_io_bench: nested kvm_pvm host (/sys/module/kvm_pvm): smaller default "
               "sizes (the flags override them)\n");
  }
  if (!parse_options(argc, argv, o)) {
    return 2;
  }
  if (auto valid = cvm::test::guest::bench::validate(o.blk); !valid) {
    fmt::print(stderr, "guest_io_bench: {}\n", valid.error().message());
    return 2;
  }
  const double tsc_hz = measure_tsc_hz();
  fmt::print("guest_io_bench: host TSC {:.3f} GHz; blk: {} MiB, {} KiB chunks, qd {}, {} random "
             "4K reads + writes; vsock: {} MiB each way, {} x {}-byte round trips; best of {}\n",
             tsc_hz / 1e9, o.blk.bytes >> 20, o.blk.chunk >> 10, o.blk.qd, o.blk.ops,
             o.vsock.bytes >> 20, o.vsock.rounds, o.vsock.msg, o.repeat);
  fmt::print("blk images in {} (buffered I/O, page cache of the image dropped before each run)\n",
             o.image_dir.string());
  const Plan plan = plan_runs(o);
  Figures ceiling, cvmm, qemu;
  for (uint32_t round = 0; round < o.repeat; ++round) {
    keep_best(ceiling, measure_ceiling(o));
    if (plan.cvmm) {
      keep_best(cvmm, run_vmm(*plan.cvmm, o, tsc_hz, true));
    }
    if (plan.qemu) {
      keep_best(qemu, run_vmm(*plan.qemu, o, tsc_hz, plan.qemu_vsock));
    }
  }
  print_table(cvmm, qemu, plan.qemu_label, ceiling);
  if (plan.qemu && !plan.qemu_kvm) {
    fmt::print("QEMU ran under TCG (software emulation, no KVM): its figures and cvmm/QEMU are "
               "not comparable to a KVM run\n");
  }
  return 0;
}
