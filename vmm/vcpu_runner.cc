// SPDX-License-Identifier: Apache-2.0
#include "vmm/vcpu_runner.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "base/event_fd.h"
#include "vmm/register_dump.h"
#include "vmm/vcpu_exit.h"

namespace cvm::vmm {
namespace {

static_assert(kVcpuKickSignal == SIGUSR1);

extern "C" void ignore_kick(int) {}

std::string register_report(const kvm::Vcpu& vcpu) {
  auto regs = vcpu.get_regs();
  auto sregs = vcpu.get_sregs();
  if (!regs || !sregs) {
    return "  (registers unavailable)";
  }
  return format_registers(*regs, *sregs);
}

/// Sends an IO exit's `count` accesses to the dispatcher. Returns false if the data area
/// KVM reported does not fit the kvm_run mapping.
bool dispatch_io(const IoExit& io, std::span<std::byte> run_area, ExitDispatcher& dispatcher) {
  std::span<std::byte> data = io_data(io, run_area);
  if (data.empty()) {
    return false;
  }
  for (std::size_t offset = 0; offset < data.size(); offset += io.size) {
    std::span<std::byte> access = data.subspan(offset, io.size);
    if (io.in) {
      dispatcher.pio_read(io.port, access);
    } else {
      dispatcher.pio_write(io.port, access);
    }
  }
  return true;
}

void dispatch_mmio(const MmioExit& mmio, kvm_run& run, ExitDispatcher& dispatcher) {
  if (mmio.length == 0) {
    return;
  }
  if (mmio.is_write) {
    dispatcher.mmio_write(mmio.address, std::span(mmio.data).first(mmio.length));
    return;
  }
  std::array<std::byte, 8> data{};
  dispatcher.mmio_read(mmio.address, std::span(data).first(mmio.length));
  // Bounds: length <= 8 == sizeof(run.mmio.data) (decode_mmio caps it).
  std::memcpy(run.mmio.data, data.data(), mmio.length);
}

}  // namespace

Result<void> install_kick_signal_handler() {
  struct sigaction action {};
  action.sa_handler = ignore_kick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  if (::sigaction(kVcpuKickSignal, &action, nullptr) != 0) {
    return errno_error(ErrorCode::kIo, "sigaction SIGUSR1", errno);
  }
  return ok();
}

VcpuRunner::VcpuRunner(std::span<kvm::Vcpu> vcpus, ExitDispatcher& io,
                       UniqueFd stop_event) noexcept
    : vcpus_(vcpus), io_(io), stop_event_(std::move(stop_event)) {}

Result<std::unique_ptr<VcpuRunner>> VcpuRunner::create(std::span<kvm::Vcpu> vcpus,
                                                       ExitDispatcher& io) {
  CVM_TRY(install_kick_signal_handler());
  CVM_ASSIGN_OR_RETURN(UniqueFd event, make_eventfd("the VM stop"));
  return std::unique_ptr<VcpuRunner>(new VcpuRunner(vcpus, io, std::move(event)));
}

Result<std::unique_ptr<VcpuRunner>> VcpuRunner::start(std::span<kvm::Vcpu> vcpus,
                                                      ExitDispatcher& io) {
  CVM_ASSIGN_OR_RETURN(auto runner, create(vcpus, io));
  CVM_TRY(runner->start_threads());
  return runner;
}

Result<void> VcpuRunner::start_threads() {
  std::string failure;
  {
    std::lock_guard lock(mutex_);
    if (!threads_.empty()) {
      return make_error(ErrorCode::kInternal, "vCPU threads already started");
    }
    for (kvm::Vcpu& vcpu : vcpus_) {
      try {
        threads_.emplace_back([this, &vcpu] { thread_main(vcpu); });
      } catch (const std::system_error& e) {
        // std::thread's constructor is the one library call here that throws.
        failure = fmt::format("starting the thread of vCPU {}: {}", vcpu.id(), e.what());
        break;
      }
    }
  }
  if (!failure.empty()) {
    request_stop(1, failure);  // threads already running are kicked and joined later
    return Error(ErrorCode::kIo, failure);
  }
  return ok();
}

VcpuRunner::~VcpuRunner() {
  request_stop(0, "VMM shutting down");
  join_all();
}

void VcpuRunner::thread_main(kvm::Vcpu& vcpu) noexcept {
  // Named from inside, so the name is in place before the first KVM_RUN. Names are
  // diagnostics only; a failure (name too long) is not worth stopping for.
  const std::string name = fmt::format("vcpu{}", vcpu.id());
  (void)pthread_setname_np(pthread_self(), name.c_str());
  try {
    run_loop(vcpu);
  } catch (const std::exception& e) {
    request_stop(1, fmt::format("vCPU {}: internal error: {}", vcpu.id(), e.what()));
  } catch (...) {
    request_stop(1, fmt::format("vCPU {}: internal error", vcpu.id()));
  }
}

void VcpuRunner::run_loop(kvm::Vcpu& vcpu) {
  while (!stop_requested()) {
    auto outcome = vcpu.run();
    if (!outcome) {
      request_stop(1, fmt::format("vCPU {}: {}", vcpu.id(), outcome.error().message()));
      return;
    }
    if (*outcome == kvm::RunOutcome::kInterrupted) {
      continue;
    }
    if (!handle_exit(vcpu)) {
      return;
    }
  }
}

bool VcpuRunner::handle_exit(kvm::Vcpu& vcpu) {
  const VcpuExit exit = decode_exit(vcpu.run_data());
  std::optional<ExitPolicy> intercepted;
  if (interceptor_ != nullptr) {
    intercepted = interceptor_->intercept(vcpu, exit);
  }
  const ExitPolicy policy = intercepted ? std::move(*intercepted) : exit_policy(exit);
  switch (policy.verdict) {
    case ExitVerdict::kContinue:
      return true;
    case ExitVerdict::kDispatch:
      if (const auto* io = std::get_if<IoExit>(&exit)) {
        if (!dispatch_io(*io, vcpu.run_area(), io_)) {
          request_stop(1, fmt::format("vCPU {}: {} with data outside kvm_run", vcpu.id(),
                                      describe_exit(exit)));
          return false;
        }
      } else if (const auto* eoi = std::get_if<IoapicEoiExit>(&exit)) {
        io_.ioapic_eoi(eoi->vector);
      } else {
        dispatch_mmio(std::get<MmioExit>(exit), vcpu.run_data(), io_);
      }
      return true;
    case ExitVerdict::kVcpuHalted:
      vcpu_halted(vcpu.id());
      return false;
    case ExitVerdict::kStopVm:
      request_stop(0, fmt::format("vCPU {}: {}", vcpu.id(), policy.reason));
      return false;
    case ExitVerdict::kFailVm:
      request_stop(1, fmt::format("vCPU {}: {}\n{}", vcpu.id(), policy.reason,
                                  register_report(vcpu)));
      return false;
  }
  return false;
}

void VcpuRunner::vcpu_halted(uint32_t id) {
  if (halted_.fetch_add(1) + 1 == vcpus_.size()) {
    request_stop(0, fmt::format("all vCPUs halted (last: vCPU {})", id));
  }
}

void VcpuRunner::request_stop(int status, std::string reason) {
  if (stop_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    report_ = StopReport{status, std::move(reason)};
  }
  signal_eventfd(stop_event_.get());
  kick_all();
}

void VcpuRunner::kick_all() noexcept {
  for (kvm::Vcpu& vcpu : vcpus_) {
    vcpu.set_immediate_exit(true);
  }
  std::lock_guard lock(mutex_);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) {
      pthread_kill(thread.native_handle(), kVcpuKickSignal);
    }
  }
}

void VcpuRunner::join_all() noexcept {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

StopReport VcpuRunner::wait(int signal_fd) {
  while (!stop_requested()) {
    pollfd fds[2] = {{stop_event_.get(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    const int ready = ::poll(fds, signal_fd >= 0 ? 2 : 1, -1);
    if (ready < 0 && errno != EINTR) {
      request_stop(1, fmt::format("poll: {}", std::strerror(errno)));
      break;
    }
    if (signal_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
        request_stop(0, fmt::format("stopped by signal {}", sigabbrev_np(static_cast<int>(
                                                                info.ssi_signo))));
      }
    }
  }
  join_all();
  std::lock_guard lock(mutex_);
  return report_;
}

}  // namespace cvm::vmm
