// SPDX-License-Identifier: Apache-2.0
// Helpers for the KVM-labelled tests: a small VM (RAM from 0, N vCPUs with the host's
// supported CPUID), CPU mode setup for hand-assembled guests, and a port recorder.
// These tests need /dev/kvm; CVM_REQUIRE_KVM() skips them only when it does not exist.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/vcpu_runner.h"

namespace cvm::test {

/// True when /dev/kvm does not exist (ENOENT); any other failure is for the test to report.
bool dev_kvm_absent();

#define CVM_REQUIRE_KVM()                                                                 \
  do {                                                                                    \
    if (::cvm::test::dev_kvm_absent()) {                                                  \
      GTEST_SKIP() << "/dev/kvm is absent: this test boots a guest and needs a KVM host"; \
    }                                                                                     \
  } while (false)

/// Declared in teardown-safe order: vCPUs, then the VM (and its slots), then RAM.
struct TestVm {
  std::optional<kvm::System> system;
  std::unique_ptr<vmm::GuestMemory> memory;
  std::optional<kvm::Vm> vm;
  std::vector<kvm::Vcpu> vcpus;

  /// Copies `bytes` into guest RAM at `gpa` (test setup; fails the test on error).
  void load(uint64_t gpa, std::span<const uint8_t> bytes);
};

struct TestVmOptions {
  uint64_t ram_bytes = 4 << 20;
  unsigned vcpus = 1;
  vmm::RamBacking backing = vmm::RamBacking::kAnonymous;
  bool split_irqchip = false;  // without it HLT exits to userspace, which ends a test guest
};

[[nodiscard]] Result<TestVm> create_test_vm(const TestVmOptions& options);

/// Register setups for hand-assembled guests; all start at `rip` with flat segments.
[[nodiscard]] Result<void> enter_real_mode(const kvm::Vcpu& vcpu, uint64_t rip);
[[nodiscard]] Result<void> enter_protected_mode(const kvm::Vcpu& vcpu, uint64_t rip);
/// Long mode with a 1 GiB identity map built in RAM at 0x2000-0x4fff and a GDT at 0x500.
[[nodiscard]] Result<void> enter_long_mode(TestVm& vm, const kvm::Vcpu& vcpu, uint64_t rip);

/// Records every port write; reads return 0xff. Optionally stops the VM once `stop_after`
/// writes to `stop_port` have been seen.
class PortRecorder final : public vmm::ExitDispatcher {
 public:
  void pio_read(uint16_t port, std::span<std::byte> data) override;
  void pio_write(uint16_t port, std::span<const std::byte> data) override;
  void mmio_read(uint64_t address, std::span<std::byte> data) override;
  void mmio_write(uint64_t address, std::span<const std::byte> data) override;

  void stop_after(uint16_t port, unsigned writes) {
    stop_port_ = port;
    stop_after_ = writes;
  }
  void attach(vmm::VcpuRunner* runner) { runner_.store(runner); }
  /// Bytes written to `port`, in order.
  std::string written(uint16_t port);

 private:
  std::mutex mutex_;
  std::map<uint16_t, std::string> writes_;
  uint16_t stop_port_ = 0;
  unsigned stop_after_ = 0;
  std::atomic<vmm::VcpuRunner*> runner_{nullptr};
};

}  // namespace cvm::test
