// SPDX-License-Identifier: Apache-2.0
// VcpuRunner against the recording Sys: KVM_RUN handlers script the exits each vCPU sees.
#include "vmm/vcpu_runner.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm {
namespace {

class RecordingDispatcher final : public ExitDispatcher {
 public:
  void pio_read(uint16_t port, std::span<std::byte> data) override {
    std::memset(data.data(), 0x5a, data.size());
    record("in", port, {});
  }
  void pio_write(uint16_t port, std::span<const std::byte> data) override {
    record("out", port, std::vector<std::byte>(data.begin(), data.end()));
  }
  void mmio_read(uint64_t address, std::span<std::byte> data) override {
    std::memset(data.data(), 0xa5, data.size());
    record("read", address, {});
  }
  void mmio_write(uint64_t address, std::span<const std::byte> data) override {
    record("write", address, std::vector<std::byte>(data.begin(), data.end()));
  }

  struct Access {
    std::string kind;
    uint64_t address;
    std::vector<std::byte> data;
  };
  std::vector<Access> accesses() {
    std::lock_guard lock(mutex_);
    return accesses_;
  }

 private:
  void record(std::string kind, uint64_t address, std::vector<std::byte> data) {
    std::lock_guard lock(mutex_);
    accesses_.push_back({std::move(kind), address, std::move(data)});
  }
  std::mutex mutex_;
  std::vector<Access> accesses_;
};

struct Machine {
  kvm::RecordingSys sys;
  std::optional<kvm::System> system;
  std::optional<kvm::Vm> vm;
  std::vector<kvm::Vcpu> vcpus;
  std::map<int, kvm::Vcpu*> by_fd;

  explicit Machine(uint32_t count) {
    system.emplace(std::move(kvm::System::open(sys)).value());
    vm.emplace(std::move(system->create_vm(KVM_X86_DEFAULT_VM)).value());
    for (uint32_t i = 0; i < count; ++i) {
      vcpus.push_back(std::move(vm->create_vcpu(i)).value());
    }
    for (auto& vcpu : vcpus) {
      by_fd[vcpu.fd()] = &vcpu;
    }
  }
};

TEST(VcpuRunnerTest, IoIsDispatchedAndAllHaltedStopsWithZero) {
  Machine m(2);
  std::atomic<int> vcpu0_runs{0};
  m.sys.on(KVM_RUN, [&](int fd, std::uintptr_t) {
    kvm::Vcpu& vcpu = *m.by_fd.at(fd);
    kvm_run& run = vcpu.run_data();
    if (vcpu.id() == 0 && vcpu0_runs++ == 0) {
      run.exit_reason = KVM_EXIT_IO;
      run.io = {};
      run.io.direction = KVM_EXIT_IO_OUT;
      run.io.port = 0x80;
      run.io.size = 1;
      run.io.count = 2;
      run.io.data_offset = 4096;
      vcpu.run_area()[4096] = std::byte{'o'};
      vcpu.run_area()[4097] = std::byte{'k'};
      return 0L;
    }
    run.exit_reason = KVM_EXIT_HLT;
    return 0L;
  });
  RecordingDispatcher io;
  auto runner = VcpuRunner::start(m.vcpus, io);
  ASSERT_TRUE(runner.has_value()) << runner.error().message();
  const StopReport report = (*runner)->wait();
  EXPECT_EQ(report.status, 0);
  EXPECT_EQ(report.reason.rfind("all vCPUs halted", 0), 0u) << report.reason;
  const auto accesses = io.accesses();
  ASSERT_EQ(accesses.size(), 2u);  // rep outsb of 2 bytes = two 1-byte writes
  EXPECT_EQ(accesses[0].kind, "out");
  EXPECT_EQ(accesses[0].address, 0x80u);
  EXPECT_EQ(accesses[0].data, std::vector<std::byte>{std::byte{'o'}});
  EXPECT_EQ(accesses[1].data, std::vector<std::byte>{std::byte{'k'}});
}

TEST(VcpuRunnerTest, MmioReadResultIsWrittenBackToKvmRun) {
  Machine m(1);
  std::atomic<int> runs{0};
  m.sys.on(KVM_RUN, [&](int fd, std::uintptr_t) {
    kvm_run& run = m.by_fd.at(fd)->run_data();
    if (runs++ == 0) {
      run.exit_reason = KVM_EXIT_MMIO;
      run.mmio.phys_addr = 0xfec00010;
      run.mmio.len = 4;
      run.mmio.is_write = 0;
      return 0L;
    }
    run.exit_reason = KVM_EXIT_HLT;
    return 0L;
  });
  RecordingDispatcher io;
  auto runner = VcpuRunner::start(m.vcpus, io);
  ASSERT_TRUE(runner.has_value());
  EXPECT_EQ((*runner)->wait().status, 0);
  const auto& data = m.vcpus[0].run_data().mmio.data;
  EXPECT_EQ(data[0], 0xa5);
  EXPECT_EQ(data[3], 0xa5);
  EXPECT_EQ(data[4], 0);
}

TEST(VcpuRunnerTest, TripleFaultStopsWithFailureAndRegisterDump) {
  Machine m(1);
  m.sys.on(KVM_RUN, [&](int fd, std::uintptr_t) {
    m.by_fd.at(fd)->run_data().exit_reason = KVM_EXIT_SHUTDOWN;
    return 0L;
  });
  m.sys.on(KVM_GET_REGS, [](int, std::uintptr_t arg) {
    reinterpret_cast<kvm_regs*>(arg)->rip = 0xfff0;
    return 0L;
  });
  RecordingDispatcher io;
  auto runner = VcpuRunner::start(m.vcpus, io);
  ASSERT_TRUE(runner.has_value());
  const StopReport report = (*runner)->wait();
  EXPECT_EQ(report.status, 1);
  EXPECT_EQ(report.reason.rfind("vCPU 0: guest triple fault (KVM_EXIT_SHUTDOWN)\n", 0), 0u)
      << report.reason;
  EXPECT_NE(report.reason.find("rip 000000000000fff0"), std::string::npos) << report.reason;
}

TEST(VcpuRunnerTest, StopKicksVcpusBlockedInKvmRun) {
  Machine m(3);
  std::mutex mutex;
  std::set<std::string> names;
  m.sys.on(KVM_RUN, [&](int fd, std::uintptr_t) {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    {
      std::lock_guard lock(mutex);
      names.insert(name);
    }
    // Stands in for a guest that never exits on its own: only a kick ends KVM_RUN.
    kvm_run& run = m.by_fd.at(fd)->run_data();
    while (std::atomic_ref<uint8_t>(run.immediate_exit).load() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return -static_cast<long>(EINTR);
  });
  RecordingDispatcher io;
  auto runner = VcpuRunner::start(m.vcpus, io);
  ASSERT_TRUE(runner.has_value());
  (*runner)->request_stop(0, "test stop");
  (*runner)->request_stop(3, "second request is ignored");
  const StopReport report = (*runner)->wait();
  EXPECT_EQ(report.status, 0);
  EXPECT_EQ(report.reason, "test stop");
  std::lock_guard lock(mutex);
  for (const std::string& name : names) {
    EXPECT_TRUE(name == "vcpu0" || name == "vcpu1" || name == "vcpu2") << name;
  }
}

TEST(VcpuRunnerTest, KvmRunErrorStopsWithItsMessage) {
  Machine m(1);
  m.sys.fail_next(KVM_RUN, ENXIO);
  RecordingDispatcher io;
  auto runner = VcpuRunner::start(m.vcpus, io);
  ASSERT_TRUE(runner.has_value());
  const StopReport report = (*runner)->wait();
  EXPECT_EQ(report.status, 1);
  EXPECT_EQ(report.reason, "vCPU 0: KVM_RUN on vCPU 0: No such device or address");
}

}  // namespace
}  // namespace cvm::vmm
