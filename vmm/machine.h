// SPDX-License-Identifier: Apache-2.0
// vmm::Machine: one x86-64 VM booted directly from a Linux kernel (bzImage or ELF vmlinux),
// from a firmware image at the reset vector (--firmware, plain KVM), or through a TEE backend:
// split irqchip, guest RAM, vCPUs set up from the vmm/x86 boot builders, the platform devices
// (machine_devices.h, plus firmware_platform.h for firmware boots) and one thread per vCPU.
//
// Ownership and teardown order (members are declared in this order and destroyed in
// reverse): the runner joins every vCPU thread first; then the devices go; then the vCPU fds
// and their kvm_run mappings; then the VM fd, which deletes every memory slot; then guest
// RAM, so no slot ever points at unmapped memory while a vCPU could run; /dev/kvm last.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/fw_cfg_items.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/machine_devices.h"
#include "vmm/tee_backend.h"
#include "vmm/vcpu_runner.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm {

/// Guest-physical pages KVM needs on Intel below 4 GiB, outside RAM and device windows:
/// the EPT identity-map page and, after it, the three-page real-mode TSS. They sit between
/// the local APIC page and the firmware region (vmm/x86/layout.h), where QEMU puts them too.
inline constexpr uint64_t kIdentityMapAddress = 0xfeffc000;
inline constexpr uint64_t kTssAddress = 0xfeffd000;

class Machine final {
 public:
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine() = default;

  /// Checks the host and the config, creates the VM, loads the kernel and sets up vCPUs and
  /// devices. Nothing runs yet. Errors: one line naming what failed (bad config or image,
  /// missing host capability, failing ioctl); everything created so far is released.
  /// `sys` is the ioctl seam (unit tests pass a RecordingSys).
  [[nodiscard]] static Result<std::unique_ptr<Machine>> create(const VmConfig& config,
                                                               kvm::Sys& sys = kvm::real_sys());
  /// As above with the backend for config.platform (vmm/backends.h picks it). The backend's
  /// host check runs first; a host that cannot run it fails with the host-check reason.
  [[nodiscard]] static Result<std::unique_ptr<Machine>> create(
      const VmConfig& config, std::unique_ptr<TeeBackend> backend,
      kvm::Sys& sys = kvm::real_sys());

  /// Runs the vCPUs until the guest powers off or resets (status 0), fails (status 1, the
  /// reason and registers on stderr), or SIGINT/SIGTERM arrives (status 0).
  [[nodiscard]] Result<int> run();

  // The same in steps, for a caller that serves an API while the VM runs (vmm/api) and owns
  // signal handling itself (it blocks SIGINT/SIGTERM before start() so vCPU threads inherit
  // the mask): start() starts the devices and vCPU threads and returns; stop_event_fd() turns
  // readable once a stop is requested (guest power-off or reset, a failure, request_stop());
  // finish() then joins the threads, reports as run() does and returns the exit status.
  [[nodiscard]] Result<void> start();
  int stop_event_fd() const noexcept;
  /// Thread-safe; the first stop request wins. No effect before start() other than that the
  /// vCPU threads end at once when started.
  void request_stop(int status, std::string reason);
  int finish();

  /// The platform devices (tests drive port I/O through them).
  MachineDevices& devices() noexcept { return *devices_; }
  /// Guest RAM as devices reach it (tests check what device DMA wrote).
  GuestMemory& memory() noexcept { return *memory_; }

 private:
  Machine(kvm::System system, std::unique_ptr<GuestMemory> memory, kvm::Vm vm) noexcept
      : system_(std::move(system)), memory_(std::move(memory)), vm_(std::move(vm)) {}
  /// Kernel and initramfs bytes, read before any KVM object exists.
  struct Images {
    std::vector<std::byte> kernel;
    std::vector<std::byte> initrd;
    std::vector<x86::VirtioMmioSlot> virtio_slots;  // announced to the guest, in device order
    std::vector<std::byte> firmware;                 // plain --firmware boot only
    x86::RamRegion firmware_region{};                // where `firmware` goes (checked size)
  };
  [[nodiscard]] Result<void> load_and_create_vcpus(const VmConfig& config,
                                                   const x86::MemoryLayout& layout,
                                                   const Images& images);
  /// Creates config.cpus.boot_vcpus vCPUs with CPUID, LAPIC wiring, FPU and (optionally) the
  /// boot MSRs; registers stay at KVM's reset state.
  [[nodiscard]] Result<void> create_vcpus(const VmConfig& config, bool set_boot_msrs);

  // Plain --firmware boot without a TEE: what create() has prepared for it.
  struct FirmwareBoot {
    std::unique_ptr<TeeBackend> backend;
    kvm::System system;
    RamBacking backing;
    x86::MemoryLayout layout;
    std::vector<std::byte> image;  // the firmware file
    x86::RamRegion region;         // where it goes: firmware_region() of its size, checked
    FwCfgPayload payload;          // the kernel and initrd already read (and checked)
    std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio;
  };
  [[nodiscard]] static Result<std::unique_ptr<Machine>> create_firmware_boot(
      const VmConfig& config, FirmwareBoot boot);
  void report(const StopReport& stop, uint64_t start_ns) const;

  // Confidential guests (machine_tee.cc): the launch steps of vmm/tee_backend.h.
  struct TeeLaunch;
  [[nodiscard]] static Result<std::unique_ptr<Machine>> create_confidential(
      const VmConfig& config, const x86::MemoryLayout& layout,
      std::unique_ptr<TeeBackend> backend, kvm::System system,
      std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio);
  [[nodiscard]] Result<void> create_tee_vcpus(const VmConfig& config,
                                              const firmware::LaunchPlan& plan);
  /// Builds the devices; with --firmware also the fw_cfg items (vmm/fw_cfg_items.h), from
  /// `payload` where the launch already read the kernel and initrd.
  [[nodiscard]] Result<void> finish_devices(
      const VmConfig& config, const x86::MemoryLayout& layout,
      std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio,
      FwCfgPayload payload = {});

  std::unique_ptr<TeeBackend> backend_;  // outlives everything that may call into it
  kvm::System system_;
  std::unique_ptr<GuestMemory> memory_;
  kvm::Vm vm_;
  std::vector<kvm::Vcpu> vcpus_;
  std::unique_ptr<MachineDevices> devices_;
  std::unique_ptr<VcpuRunner> runner_;
  uint64_t start_ns_ = 0;  // CLOCK_MONOTONIC just before the vCPU threads started
};

/// The config checks that need no host access (pure): vCPU count 1..255; a TEE needs
/// --firmware; a plain VM needs --kernel (direct boot) or --firmware (firmware boot, where a
/// --kernel, --initramfs and --cmdline are handed to the firmware through fw_cfg; the latter two
/// need --kernel).
/// Errors: kInvalidArgument with the offending option.
[[nodiscard]] Result<void> check_machine_config(const VmConfig& config);

/// RAM backing chosen by the config (guest_memfd wins over hugepages; both is an error).
[[nodiscard]] Result<RamBacking> ram_backing(const MemoryConfig& memory);

}  // namespace cvm::vmm
