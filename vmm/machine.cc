// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "base/file.h"
#include "devices/debug/boot_timing_port.h"
#include "devices/virtio/blk/blk_device.h"
#include "devices/virtio/blk/disk_file.h"
#include "devices/virtio/vsock/vsock_device.h"
#include "firmware/fw_cfg_kernel.h"
#include "vmm/firmware_platform.h"
#include "vmm/plain_backend.h"
#include "vmm/signals.h"
#include "vmm/x86/cpu_features.h"
#include "vmm/x86/direct_boot.h"
#include "vmm/x86_vcpu.h"

namespace cvm::vmm {
namespace {

/// The nested kvm_pvm build host emulates most guest instructions and cannot emulate a few
/// (nested-kvm-notes.md); on it, cvmm hides those features from the guest.
bool emulating_host() { return ::access("/sys/module/kvm_pvm", F_OK) == 0; }

std::string_view platform_flag(TeeKind tee) {
  switch (tee) {
    case TeeKind::kTdx:
      return "--platform tdx=on";
    case TeeKind::kSevSnp:
      return "--platform sev_snp=on";
    case TeeKind::kNone:
      break;
  }
  return "--platform";
}

/// The backend's host check; a TEE the host cannot run fails here, before any VM exists.
Result<void> check_host(const kvm::System& system, const TeeBackend& backend,
                        const PlatformConfig& platform) {
  const HostSupport support = backend.check_host(system);
  if (support.available) {
    return ok();
  }
  if (platform.tee == TeeKind::kNone) {
    return make_error(ErrorCode::kNotSupportedByHost, "{}", support.reason);
  }
  return make_error(ErrorCode::kNotSupportedByHost, "{}: this host cannot run {} guests: {}",
                    platform_flag(platform.tee), backend.name(), support.reason);
}

Result<kvm::Vm> create_vm(const kvm::System& system) {
  CVM_ASSIGN_OR_RETURN(kvm::Vm vm, system.create_vm(KVM_X86_DEFAULT_VM));
  CVM_TRY(vm.set_identity_map_addr(kIdentityMapAddress));
  CVM_TRY(vm.set_tss_addr(kTssAddress));
  CVM_TRY(vm.enable_split_irqchip(x86::kIoapicPins));
  return vm;
}

/// Where a plain VM's --platform tsc_khz is applied. The VM-scoped KVM_SET_TSC_KHZ
/// (KVM_CAP_VM_TSC_CONTROL) sets the frequency of every vCPU created afterwards; where KVM does
/// not offer it, each vCPU gets the vCPU-scoped call (Documentation/virt/kvm/api.rst 4.55).
enum class TscScope { kKvmDefault, kVm, kVcpu };

Result<TscScope> plain_tsc_scope(const kvm::Vm& vm, const std::optional<uint32_t>& khz) {
  if (!khz) {
    return TscScope::kKvmDefault;  // KVM's default: the host TSC frequency
  }
  CVM_ASSIGN_OR_RETURN(const long vm_control, vm.check_extension(KVM_CAP_VM_TSC_CONTROL));
  return vm_control > 0 ? TscScope::kVm : TscScope::kVcpu;
}

/// Names the option in a failing KVM_SET_TSC_KHZ (KVM refuses rates beyond its scaling limit).
Result<void> with_tsc_context(Result<void> result, uint32_t khz) {
  if (!result) {
    return std::move(result).error().context(fmt::format("--platform tsc_khz={}", khz));
  }
  return ok();
}

std::vector<RamRange> ram_ranges(const x86::MemoryLayout& layout) {
  std::vector<RamRange> ranges;
  for (const x86::RamRegion& region : layout.ram_regions()) {
    ranges.push_back({region.gpa, region.size});
  }
  return ranges;
}

Result<std::vector<std::byte>> read_optional(const std::optional<std::string>& path,
                                             std::string_view what) {
  if (!path) {
    return std::vector<std::byte>{};
  }
  auto bytes = read_file(*path);
  if (!bytes) {
    return std::move(bytes).error().context(what);
  }
  return bytes;
}

/// Opens every --disk in order (the first becomes /dev/vda), then the vsock device (which
/// binds its Unix socket), before any KVM object exists, so a missing or unusable image or
/// socket path fails with nothing created. Slot order: disks, then vsock.
Result<std::vector<std::unique_ptr<devices::virtio::VirtioDevice>>> open_virtio_devices(
    const VmConfig& config) {
  namespace blk = devices::virtio::blk;
  std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> result;
  for (const DiskConfig& disk : config.disks) {
    auto file = blk::DiskFile::open(disk.path, disk.readonly);
    if (!file) {
      return std::move(file).error().context("--disk");
    }
    result.push_back(std::make_unique<blk::BlkDevice>(std::move(*file),
                                                      blk::BlkOptions{.serial = disk.id}));
  }
  if (config.vsock) {
    auto vsock = devices::virtio::vsock::VsockDevice::create(config.vsock->cid,
                                                              config.vsock->socket);
    if (!vsock) {
      return std::move(vsock).error().context("--vsock");
    }
    result.push_back(std::move(*vsock));
  }
  return result;
}

/// Slots 0..count-1: what the DSDT (and, with acpi=off, the command line) announces, and
/// where VirtioMmioDevices maps the devices in the same order.
Result<std::vector<x86::VirtioMmioSlot>> virtio_slots(std::size_t count) {
  std::vector<x86::VirtioMmioSlot> slots;
  for (std::size_t i = 0; i < count; ++i) {
    CVM_ASSIGN_OR_RETURN(const x86::VirtioMmioSlot slot,
                         x86::virtio_mmio_slot(static_cast<uint32_t>(i)));
    slots.push_back(slot);
  }
  return slots;
}

/// Whether the user's command line turns ACPI off; then the kernel can only learn about the
/// virtio-mmio devices from virtio_mmio.device= arguments.
bool acpi_off(std::string_view cmdline) {
  for (std::size_t at = cmdline.find("acpi=off"); at != std::string_view::npos;
       at = cmdline.find("acpi=off", at + 1)) {
    const bool starts_word = at == 0 || cmdline[at - 1] == ' ';
    const std::size_t end = at + std::string_view("acpi=off").size();
    if (starts_word && (end == cmdline.size() || cmdline[end] == ' ')) {
      return true;
    }
  }
  return false;
}

x86::DirectBootSpec boot_spec(const VmConfig& config, std::span<const std::byte> kernel,
                              std::span<const std::byte> initrd, bool emulating,
                              std::span<const x86::VirtioMmioSlot> virtio) {
  x86::DirectBootSpec spec;
  spec.kernel = kernel;
  spec.initrd = initrd;
  spec.cmdline.serial_console = config.serial.mode != SerialMode::kOff;
  spec.cmdline.user = config.payload.cmdline;
  if (emulating) {
    spec.cmdline.clearcpuid.assign(std::begin(x86::kNestedHostHidden),
                                   std::end(x86::kNestedHostHidden));
  }
  x86::acpi::AcpiSpec acpi;
  acpi.vcpu_count = config.cpus.boot_vcpus;
  acpi.virtio_devices.assign(virtio.begin(), virtio.end());
  spec.acpi = acpi;
  if (acpi_off(config.payload.cmdline)) {
    spec.cmdline.virtio_devices.assign(virtio.begin(), virtio.end());
  }
  return spec;
}

/// With --firmware the firmware takes the kernel from fw_cfg: the rule cvmm-measure shares
/// (firmware/fw_cfg_kernel.h), checked before any KVM object exists.
Result<void> check_firmware_kernel(std::span<const std::byte> kernel, const std::string& path) {
  auto checked = firmware::check_firmware_boot_kernel(kernel);
  if (!checked) {
    return std::move(checked).error().context(fmt::format("--kernel {}", path));
  }
  return ok();
}

/// Bytes already read, as the shared blob fw_cfg serves; null when there are none (fw_cfg then
/// serves no such item).
firmware::Blob as_blob(std::vector<std::byte> bytes) {
  if (bytes.empty()) {
    return nullptr;
  }
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

}  // namespace

Result<void> check_machine_config(const VmConfig& config) {
  if (config.cpus.boot_vcpus == 0 || config.cpus.boot_vcpus > 255) {
    return make_error(ErrorCode::kInvalidArgument, "--cpus boot={}: must be 1 to 255",
                      config.cpus.boot_vcpus);
  }
  if (config.platform.tee != TeeKind::kNone) {
    if (!config.payload.firmware) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{} needs --firmware (TDVF for TDX, an SEV-SNP OVMF for SNP)",
                        platform_flag(config.platform.tee));
    }
  } else if (config.payload.kernel.empty() && !config.payload.firmware) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--kernel is required unless --firmware boots the guest");
  }
  if (config.platform.tee == TeeKind::kNone && config.payload.firmware &&
      config.payload.kernel.empty() &&
      (config.payload.initramfs || !config.payload.cmdline.empty())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--initramfs and --cmdline need --kernel: with --firmware, the firmware "
                      "loads all three through fw_cfg");
  }
  return ok();
}

Result<RamBacking> ram_backing(const MemoryConfig& memory) {
  if (memory.guest_memfd && memory.hugepages) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--memory: guest_memfd and hugepages cannot be combined");
  }
  if (memory.guest_memfd) {
    return RamBacking::kGuestMemfd;
  }
  return memory.hugepages ? RamBacking::kHugepages : RamBacking::kAnonymous;
}

Result<std::unique_ptr<Machine>> Machine::create(const VmConfig& config, kvm::Sys& sys) {
  return create(config, make_plain_backend(), sys);
}

Result<std::unique_ptr<Machine>> Machine::create(const VmConfig& config,
                                                 std::unique_ptr<TeeBackend> backend,
                                                 kvm::Sys& sys) {
  CVM_TRY(check_machine_config(config));
  CVM_ASSIGN_OR_RETURN(const RamBacking backing, ram_backing(config.memory));
  CVM_ASSIGN_OR_RETURN(const x86::MemoryLayout layout,
                       x86::compute_memory_layout(config.memory.size_bytes));
  Images images;
  if (config.platform.tee == TeeKind::kNone) {  // confidential guests read theirs as blobs
    if (!config.payload.kernel.empty()) {  // a firmware boot may have none
      CVM_ASSIGN_OR_RETURN(images.kernel,
                           read_optional(config.payload.kernel, "reading the kernel"));
    }
    CVM_ASSIGN_OR_RETURN(images.initrd,
                         read_optional(config.payload.initramfs, "reading the initramfs"));
  }
  if (config.payload.firmware && config.platform.tee == TeeKind::kNone) {
    if (!images.kernel.empty()) {
      CVM_TRY(check_firmware_kernel(images.kernel, config.payload.kernel));
    }
    CVM_ASSIGN_OR_RETURN(images.firmware,
                         read_optional(config.payload.firmware, "reading the firmware"));
    CVM_ASSIGN_OR_RETURN(images.firmware_region,
                         x86::firmware_region(images.firmware.size(), *config.payload.firmware));
  }
  CVM_ASSIGN_OR_RETURN(auto virtio, open_virtio_devices(config));
  CVM_ASSIGN_OR_RETURN(images.virtio_slots, virtio_slots(virtio.size()));
  CVM_ASSIGN_OR_RETURN(kvm::System system, kvm::System::open(sys));
  CVM_TRY(check_host(system, *backend, config.platform));
  if (backend->requirements().private_memory || backend->requirements().firmware_boot) {
    return create_confidential(config, layout, std::move(backend), std::move(system),
                               std::move(virtio));
  }
  if (config.payload.firmware) {
    const uint64_t firmware_bytes = images.firmware.size();  // read before the move below
    return create_firmware_boot(
        config, FirmwareBoot{std::move(backend), std::move(system), backing, layout,
                             std::move(images.firmware), images.firmware_region,
                             FwCfgPayload{.kernel = as_blob(std::move(images.kernel)),
                                          .initrd = as_blob(std::move(images.initrd)),
                                          .firmware_bytes = firmware_bytes},
                             std::move(virtio)});
  }
  CVM_ASSIGN_OR_RETURN(kvm::Vm vm, create_vm(system));
  const std::vector<RamRange> ranges = ram_ranges(layout);
  CVM_ASSIGN_OR_RETURN(auto memory, GuestMemory::create(vm, ranges, backing));
  std::unique_ptr<Machine> machine(
      new Machine(std::move(system), std::move(memory), std::move(vm)));
  machine->backend_ = std::move(backend);
  CVM_TRY(machine->load_and_create_vcpus(config, layout, images));
  CVM_TRY(machine->finish_devices(config, layout, std::move(virtio)));
  return machine;
}

// Plain firmware boot: the image ends at 4 GiB as ordinary writable RAM (what Cloud
// Hypervisor does; OVMF then finds no pflash and keeps its variables in RAM), vCPU 0 stays
// at KVM's architectural reset state (real mode, CS.base 0xffff0000, RIP 0xfff0: the image's
// last 16 bytes) and the APs wait for INIT/SIPI. vmm/x86/FIRMWARE-PLATFORM.md has the reasons.
Result<std::unique_ptr<Machine>> Machine::create_firmware_boot(const VmConfig& config,
                                                               FirmwareBoot boot) {
  const std::vector<std::byte>& image = boot.image;
  const x86::RamRegion& region = boot.region;
  CVM_ASSIGN_OR_RETURN(kvm::Vm vm, create_vm(boot.system));
  CVM_ASSIGN_OR_RETURN(auto memory, GuestMemory::create(vm, ram_ranges(boot.layout), boot.backing));
  CVM_TRY(memory->add_region(vm, RamRange{region.gpa, region.size}));
  CVM_ASSIGN_OR_RETURN(const std::span<std::byte> target,
                       memory->host_span(region.gpa, region.size));
  // Bounds: firmware_region() made region.size == image.size(), and host_span covers it.
  std::memcpy(target.data(), image.data(), image.size());
  std::unique_ptr<Machine> machine(
      new Machine(std::move(boot.system), std::move(memory), std::move(vm)));
  machine->backend_ = std::move(boot.backend);
  CVM_TRY(machine->create_vcpus(config, /*set_boot_msrs=*/false));
  CVM_TRY(machine->finish_devices(config, boot.layout, std::move(boot.virtio),
                                  std::move(boot.payload)));
  return machine;
}

Result<void> Machine::finish_devices(
    const VmConfig& config, const x86::MemoryLayout& layout,
    std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio, FwCfgPayload payload) {
  std::optional<devices::fw_cfg::FwCfgStore> fw_cfg;
  if (config.payload.firmware) {  // firmware learns the platform through fw_cfg
    CVM_ASSIGN_OR_RETURN(const FwCfgMachineSpec spec,
                         fw_cfg_machine_spec(config, layout, virtio.size(), std::move(payload)));
    CVM_ASSIGN_OR_RETURN(fw_cfg, build_machine_fw_cfg(spec));
  }
  CVM_ASSIGN_OR_RETURN(devices_, MachineDevices::create(vm_, config.serial, *memory_,
                                                        std::move(virtio), std::move(fw_cfg)));
  if (config.payload.firmware) {
    CVM_TRY(insert_firmware_platform(devices_->pio_bus(), *devices_, layout,
                                     config.cpus.boot_vcpus));
  }
  CVM_ASSIGN_OR_RETURN(runner_, VcpuRunner::create(vcpus_, *devices_));
  runner_->set_interceptor(backend_->exit_interceptor());
  devices_->attach(*runner_);
  return ok();
}

Result<void> Machine::load_and_create_vcpus(const VmConfig& config,
                                            const x86::MemoryLayout& layout,
                                            const Images& images) {
  const bool emulating = emulating_host();
  CVM_ASSIGN_OR_RETURN(std::span<std::byte> low_ram, memory_->host_span(0, layout.low_ram_end));
  auto boot = x86::prepare_direct_boot(
      low_ram, layout,
      boot_spec(config, images.kernel, images.initrd, emulating, images.virtio_slots));
  if (!boot) {
    return std::move(boot).error().context(config.payload.kernel);
  }
  CVM_TRY(create_vcpus(config, /*set_boot_msrs=*/true));
  // Application processors wait for INIT/SIPI from the guest (MADT-driven SMP boot).
  return apply_boot_state(vcpus_[0], boot->bsp);
}

Result<void> Machine::create_vcpus(const VmConfig& config, bool set_boot_msrs) {
  CVM_ASSIGN_OR_RETURN(const auto cpuid, system_.supported_cpuid());
  CVM_ASSIGN_OR_RETURN(const auto msrs, system_.supported_msrs());
  VcpuSetup setup{cpuid, msrs, {}, set_boot_msrs};
  setup.cpuid_policy.vcpu_count = config.cpus.boot_vcpus;
  if (emulating_host()) {
    setup.cpuid_policy.hidden.assign(std::begin(x86::kNestedHostRequiredHidden),
                                     std::end(x86::kNestedHostRequiredHidden));
  }
  const std::optional<uint32_t> wanted_tsc = config.platform.tsc_khz;
  CVM_ASSIGN_OR_RETURN(const TscScope tsc_scope, plain_tsc_scope(vm_, wanted_tsc));
  if (tsc_scope == TscScope::kVm) {  // before any vCPU exists, or KVM refuses it
    CVM_TRY(with_tsc_context(vm_.set_tsc_khz(*wanted_tsc), *wanted_tsc));
  }
  for (uint32_t id = 0; id < config.cpus.boot_vcpus; ++id) {
    CVM_ASSIGN_OR_RETURN(kvm::Vcpu vcpu, vm_.create_vcpu(id));
    if (tsc_scope == TscScope::kVcpu) {
      CVM_TRY(with_tsc_context(vcpu.set_tsc_khz(*wanted_tsc), *wanted_tsc));
    }
    vcpus_.push_back(std::move(vcpu));
  }
  // CPUID leaf 0x40000010 tells the guest the TSC (and APIC bus) frequency, so it need not
  // calibrate against a PIT this machine does not have. KVM_GET_TSC_KHZ reads it back after
  // any KVM_SET_TSC_KHZ above, so the leaf reports the rate the vCPUs really run at.
  CVM_ASSIGN_OR_RETURN(const uint32_t tsc_khz, vcpus_[0].get_tsc_khz());
  if (tsc_khz != 0) {
    setup.cpuid_policy.tsc_khz = tsc_khz;
  }
  for (const kvm::Vcpu& vcpu : vcpus_) {
    CVM_TRY(configure_vcpu(vcpu, setup));
  }
  return ok();
}

Result<int> Machine::run() {
  CVM_ASSIGN_OR_RETURN(StopSignals signals, StopSignals::block());
  CVM_TRY(start());
  const StopReport stop = runner_->wait(signals.fd());
  report(stop, start_ns_);
  return stop.status;
}

Result<void> Machine::start() {
  start_ns_ = devices::debug::monotonic_now_ns();
  CVM_TRY(devices_->start());
  return runner_->start_threads();
}

int Machine::stop_event_fd() const noexcept { return runner_->stop_event_fd(); }

void Machine::request_stop(int status, std::string reason) {
  runner_->request_stop(status, std::move(reason));
}

int Machine::finish() {
  const StopReport stop = runner_->wait();
  report(stop, start_ns_);
  return stop.status;
}

void Machine::report(const StopReport& stop, uint64_t start_ns) const {
  const auto marks = devices_->boot_marks();
  if (!marks.empty()) {
    std::string line = fmt::format("cvmm: boot timing (port {:#x}, ms after vCPU start):",
                                   devices::debug::kBootTimingPort);
    for (const auto& mark : marks) {
      line += fmt::format(" {:#04x}@{:.3f}", mark.value,
                          static_cast<double>(mark.monotonic_ns - start_ns) / 1e6);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  if (const char* wanted = std::getenv("CVMM_BOOT_TIMING"); wanted != nullptr &&
                                                             std::string_view(wanted) == "1") {
    // Absolute CLOCK_MONOTONIC stamps for bench/timed_run.c, which relates them to its own
    // exec time. start_ns is taken just before the vCPU threads enter their first KVM_RUN.
    std::fprintf(stderr, "boot-timing: first-kvm-run monotonic_ns=%llu\n",
                 static_cast<unsigned long long>(start_ns));
    for (const auto& mark : marks) {
      std::fprintf(stderr, "boot-timing: guest-mark value=%u monotonic_ns=%llu\n",
                   static_cast<unsigned>(mark.value),
                   static_cast<unsigned long long>(mark.monotonic_ns));
    }
  }
  if (stop.status != 0) {
    std::fprintf(stderr, "cvmm: %s\n", stop.reason.c_str());
  }
}

}  // namespace cvm::vmm

namespace cvm::vmm {
namespace {

Result<firmware::Blob> read_blob(const std::optional<std::string>& path, std::string_view what) {
  CVM_ASSIGN_OR_RETURN(auto bytes, read_optional(path, what));
  if (bytes.empty()) {
    return firmware::Blob{};
  }
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

Result<TeeLaunchInputs> tee_inputs(const VmConfig& config) {
  TeeLaunchInputs inputs;
  CVM_ASSIGN_OR_RETURN(inputs.firmware, read_blob(config.payload.firmware, "reading the firmware"));
  if (!config.payload.kernel.empty()) {
    CVM_ASSIGN_OR_RETURN(inputs.kernel, read_blob(config.payload.kernel, "reading the kernel"));
  }
  CVM_ASSIGN_OR_RETURN(inputs.initrd,
                       read_blob(config.payload.initramfs, "reading the initramfs"));
  // Measured verbatim: cvmm-measure --cmdline must be given the same string.
  inputs.cmdline = config.payload.cmdline;
  inputs.vcpu_count = config.cpus.boot_vcpus;
  inputs.memory_bytes = config.memory.size_bytes;
  inputs.platform = config.platform;
  return inputs;
}

/// Step 3 of vmm/tee_backend.h, the TSC. A TD's TSC frequency is fixed at KVM_TDX_INIT_VM:
/// KVM copies the VM's TSC kHz into TD_PARAMS.TSC_FREQUENCY (Linux arch/x86/kvm/vmx/tdx.c
/// setup_tdparams) and the TDX module owns the TSC from then on, so it must be the VM-scoped
/// KVM_SET_TSC_KHZ, before INIT_VM and before any vCPU (QEMU target/i386/kvm/tdx.c
/// tdx_pre_create_vcpu does the same); KVM refuses the vCPU-scoped call on a TD (its TSC is
/// "protected", x86.c kvm_arch_vcpu_ioctl). Without --platform tsc_khz the VM keeps KVM's
/// default, the host TSC frequency, which CPUID 0x15 inside the TD then reports. Backends
/// without requirements().vm_tsc_khz (SEV-SNP) cannot take a frequency at all.
Result<void> set_confidential_tsc(const kvm::Vm& vm, const TeeRequirements& needs,
                                  std::string_view backend, const std::optional<uint32_t>& khz) {
  if (!khz) {
    return ok();
  }
  if (!needs.vm_tsc_khz) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--platform tsc_khz: the {} backend cannot set the guest TSC frequency",
                      backend);
  }
  return with_tsc_context(vm.set_tsc_khz(*khz), *khz);
}

/// The guest-physical ranges the plan writes, for GuestMemory::cover().
std::vector<RamRange> plan_ranges(const firmware::LaunchPlan& plan) {
  std::vector<RamRange> ranges;
  for (const firmware::PlanRange& range : plan.ranges) {
    ranges.push_back({range.gpa, range.size});
  }
  return ranges;
}

}  // namespace

// The launch order of vmm/tee_backend.h, steps 2-7. Everything the guest's launch measurement
// covers comes from `plan`, built by the same code cvmm-measure uses.
Result<std::unique_ptr<Machine>> Machine::create_confidential(
    const VmConfig& config, const x86::MemoryLayout& layout, std::unique_ptr<TeeBackend> backend,
    kvm::System system, std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio) {
  const TeeRequirements needs = backend->requirements();
  CVM_ASSIGN_OR_RETURN(const TeeLaunchInputs inputs, tee_inputs(config));
  if (inputs.kernel) {  // fw_cfg serves it to the firmware after the launch: refuse it now
    CVM_TRY(check_firmware_kernel(*inputs.kernel, config.payload.kernel));
  }
  CVM_ASSIGN_OR_RETURN(const firmware::LaunchPlan plan, backend->build_launch_plan(inputs));

  CVM_ASSIGN_OR_RETURN(kvm::Vm vm, system.create_vm(needs.vm_type));
  if (needs.legacy_vmx_pages) {
    CVM_TRY(vm.set_identity_map_addr(kIdentityMapAddress));
    CVM_TRY(vm.set_tss_addr(kTssAddress));
  }
  CVM_TRY(vm.enable_split_irqchip(x86::kIoapicPins));
  // The TSC (without --platform tsc_khz: KVM's default, the host's), before INIT_VM fixes it.
  CVM_TRY(set_confidential_tsc(vm, needs, backend->name(), config.platform.tsc_khz));
  CVM_TRY(backend->init_vm(system, vm, plan));

  CVM_ASSIGN_OR_RETURN(RamBacking backing, ram_backing(config.memory));
  if (needs.private_memory) {
    backing = RamBacking::kPrivate;
  }
  CVM_ASSIGN_OR_RETURN(auto memory, GuestMemory::create(vm, ram_ranges(layout), backing));
  // The firmware volume lies outside RAM (below 4 GiB) and still needs (private) memory.
  CVM_TRY(memory->cover(vm, plan_ranges(plan)));
  std::unique_ptr<Machine> machine(
      new Machine(std::move(system), std::move(memory), std::move(vm)));
  machine->backend_ = std::move(backend);
  CVM_TRY(machine->create_tee_vcpus(config, plan));
  CVM_TRY(machine->backend_->launch(machine->vm_, *machine->memory_, machine->vcpus_, plan));
  CVM_TRY(machine->finish_devices(config, layout, std::move(virtio),
                                  {inputs.kernel, inputs.initrd,
                                   inputs.firmware ? inputs.firmware->size() : 0}));
  // The launched image is ROM: OVMF's SEV-ES/SNP flash writes (VMGEXIT MMIO) are dropped.
  CVM_TRY(insert_firmware_rom(machine->devices_->mmio_bus(), plan));
  return machine;
}

Result<void> Machine::create_tee_vcpus(const VmConfig& config, const firmware::LaunchPlan& plan) {
  const bool set_registers = backend_->requirements().vmm_sets_vcpu_registers;
  std::vector<kvm_cpuid_entry2> cpuid;
  std::vector<uint32_t> msrs;
  if (set_registers) {
    CVM_ASSIGN_OR_RETURN(cpuid, system_.supported_cpuid());
    CVM_ASSIGN_OR_RETURN(msrs, system_.supported_msrs());
  }
  VcpuSetup setup{cpuid, msrs, {}};
  setup.cpuid_policy.vcpu_count = config.cpus.boot_vcpus;
  for (uint32_t id = 0; id < config.cpus.boot_vcpus; ++id) {
    CVM_ASSIGN_OR_RETURN(kvm::Vcpu vcpu, vm_.create_vcpu(id));
    // CPUID, MSRs and LAPIC first: the SNP backend builds its CPUID page from vCPU 0's table.
    if (set_registers) {
      CVM_TRY(configure_vcpu(vcpu, setup));
    }
    CVM_TRY(backend_->init_vcpu(vm_, vcpu, plan));
    vcpus_.push_back(std::move(vcpu));
  }
  return ok();
}

}  // namespace cvm::vmm
