// SPDX-License-Identifier: Apache-2.0
// VcpuRunner: one thread per vCPU ("vcpu0", "vcpu1", ...) running KVM_RUN, decoding each exit
// (vcpu_exit.h) and dispatching port I/O and MMIO synchronously to an ExitDispatcher
// (architecture-anchors §B.3). It also owns the VM's stop state: the first stop request wins
// and fixes the exit status.
//
// Stopping: request_stop() sets the stop flag, sets kvm_run.immediate_exit on every vCPU and
// sends each vCPU thread SIGUSR1 (whose handler does nothing), so a thread inside KVM_RUN
// returns with EINTR and one about to enter returns at once. Both are needed: the signal
// interrupts a running guest, immediate_exit closes the race with a thread that checked the
// flag but has not entered KVM_RUN yet.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/vcpu_exit.h"

namespace cvm::vmm {

/// Where vCPU threads send guest port I/O and MMIO. `data` is the access (1-8 bytes); for
/// reads the implementation fills it. Called concurrently from every vCPU thread;
/// implementations are thread-safe and never abort on guest input.
class ExitDispatcher {
 public:
  virtual ~ExitDispatcher() = default;
  virtual void pio_read(uint16_t port, std::span<std::byte> data) = 0;
  virtual void pio_write(uint16_t port, std::span<const std::byte> data) = 0;
  virtual void mmio_read(uint64_t address, std::span<std::byte> data) = 0;
  virtual void mmio_write(uint64_t address, std::span<const std::byte> data) = 0;
  /// KVM_EXIT_IOAPIC_EOI (split irqchip): the guest EOIed level-triggered `vector`.
  virtual void ioapic_eoi(uint8_t /*vector*/) {}
};

/// Sees every exit before the generic policy (exit chain step 0 of architecture-anchors §B.4):
/// a TEE backend handles its own exits here (KVM_EXIT_MEMORY_FAULT conversions,
/// KVM_HC_MAP_GPA_RANGE, KVM_EXIT_TDX, SNP guest requests). Called on the vCPU's own thread,
/// concurrently for different vCPUs; must be thread-safe and never abort on guest input.
class ExitInterceptor {
 public:
  virtual ~ExitInterceptor() = default;
  /// The policy for `exit` if this interceptor handled it (usually kContinue, or kStopVm /
  /// kFailVm with a reason); std::nullopt hands the exit on to the generic policy.
  /// `vcpu.run_data()` may be updated (e.g. hypercall return values) before re-entry.
  virtual std::optional<ExitPolicy> intercept(kvm::Vcpu& vcpu, const VcpuExit& exit) = 0;
};

/// Why and how the VM stopped.
struct StopReport {
  int status = 0;       // process exit status cvmm should return
  std::string reason;   // one line (failures: followed by a register dump)
};

class VcpuRunner final {
 public:
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;
  /// Requests a stop (if none happened) and joins every thread.
  ~VcpuRunner();

  /// A runner for `vcpus`, not started yet, so that devices can be given its request_stop()
  /// before any vCPU runs. `vcpus` and `io` must outlive the runner.
  /// Errors: kIo when the eventfd or the SIGUSR1 handler cannot be set up.
  [[nodiscard]] static Result<std::unique_ptr<VcpuRunner>> create(std::span<kvm::Vcpu> vcpus,
                                                                  ExitDispatcher& io);
  /// create() followed by start_threads().
  [[nodiscard]] static Result<std::unique_ptr<VcpuRunner>> start(std::span<kvm::Vcpu> vcpus,
                                                                 ExitDispatcher& io);
  /// Installs the interceptor consulted before the generic exit policy. Call before
  /// start_threads(); `interceptor` must outlive the runner.
  void set_interceptor(ExitInterceptor* interceptor) noexcept { interceptor_ = interceptor; }

  /// Starts one thread per vCPU (once). If a stop was already requested the threads end at
  /// once. Errors: kIo if a thread cannot be created (the VM is then stopped with status 1).
  [[nodiscard]] Result<void> start_threads();

  /// Stops the VM with `status` unless a stop was already requested (first request wins).
  /// Thread-safe, non-blocking; callable from vCPU threads and device callbacks.
  void request_stop(int status, std::string reason);

  /// Blocks until a stop is requested or, if `signal_fd` >= 0, a signal arrives on that
  /// signalfd (then the VM stops with status 0 and the signal named). Then stops and joins all
  /// vCPU threads and returns the report.
  StopReport wait(int signal_fd = -1);

  bool stop_requested() const noexcept { return stop_.load(std::memory_order_acquire); }

  /// An eventfd that becomes readable (and stays readable) once a stop is requested, for a
  /// caller that waits for the VM inside its own poll loop (the API server) and then calls
  /// wait(), which returns at once. Do not read it.
  int stop_event_fd() const noexcept { return stop_event_.get(); }

 private:
  VcpuRunner(std::span<kvm::Vcpu> vcpus, ExitDispatcher& io, UniqueFd stop_event) noexcept;
  void thread_main(kvm::Vcpu& vcpu) noexcept;
  void run_loop(kvm::Vcpu& vcpu);
  /// Handles one decoded exit; returns false when this vCPU's loop ends.
  bool handle_exit(kvm::Vcpu& vcpu);
  void kick_all() noexcept;
  void join_all() noexcept;
  void vcpu_halted(uint32_t id);

  std::span<kvm::Vcpu> vcpus_;
  ExitDispatcher& io_;
  ExitInterceptor* interceptor_ = nullptr;
  UniqueFd stop_event_;  // eventfd written once when a stop is requested
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> halted_{0};
  std::mutex mutex_;  // guards report_ and threads_
  StopReport report_;
  std::vector<std::thread> threads_;
};

/// Installs the no-op SIGUSR1 handler used to kick vCPU threads (idempotent, no SA_RESTART).
[[nodiscard]] Result<void> install_kick_signal_handler();

/// The signal used to kick vCPU threads out of KVM_RUN.
inline constexpr int kVcpuKickSignal = 10;  // SIGUSR1 on x86-64 Linux (static_assert in .cc)

}  // namespace cvm::vmm
