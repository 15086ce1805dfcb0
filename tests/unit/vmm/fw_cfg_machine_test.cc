// SPDX-License-Identifier: Apache-2.0
// A firmware-boot machine (--firmware with --kernel/--initrd) built by vmm::Machine against the
// recording KVM seam and a recording confidential backend: the fw_cfg device answers at 0x510
// through the machine's own port dispatch, serves the kernel, initrd and command line exactly
// as given, and its ACPI table-loader runs (over DMA into the machine's guest memory) to
// checksummed tables. The same for a plain (non-TEE) --firmware boot, whose etc/e820 reserves
// the image below 4 GiB. A direct-boot machine has no fw_cfg device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "tests/unit/fw_cfg/fw_cfg_guest.h"
#include "tests/unit/vmm/tiny_elf.h"
#include "tests/unit/x86/synthetic_images.h"
#include "tests/unit/vmm/machine_test_support.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/machine.h"
#include "vmm/plain_backend.h"

namespace cvm::vmm {
namespace {

namespace fw = devices::fw_cfg;

std::string write_file(const std::string& name, std::span<const std::byte> bytes) {
  return testing::write_temp_file("cvmm_fw_cfg_machine", name, bytes);
}

void script_confidential_host(kvm::RecordingSys& sys) {
  testing::script_confidential_host(sys, 0x10a);
}

/// A confidential backend that boots firmware and does nothing else: the machine's device
/// wiring is under test, not a launch.
class FirmwareBootBackend final : public PlainBackend {
 public:
  std::string_view name() const noexcept override { return "tdx"; }
  TeeRequirements requirements() const noexcept override {
    return {.vm_type = KVM_X86_TDX_VM, .private_memory = true, .firmware_boot = true};
  }
  HostSupport check_host(const kvm::System&) const override {
    return {.tee = "tdx", .available = true, .findings = {}, .reason = {}};
  }
  Result<firmware::LaunchPlan> build_launch_plan(const TeeLaunchInputs& inputs) const override {
    kernel_seen = inputs.kernel;
    return firmware::LaunchPlan{};
  }
  mutable firmware::Blob kernel_seen;
};

/// The machine's port space seen from offset 0 = port 0x510, as FwCfgGuest expects.
class MachinePorts final : public devices::BusDevice {
 public:
  explicit MachinePorts(MachineDevices& devices) : devices_(devices) {}
  void read(uint64_t offset, std::span<std::byte> data) override {
    devices_.pio_read(static_cast<uint16_t>(fw::kFwCfgPortBase + offset), data);
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    devices_.pio_write(static_cast<uint16_t>(fw::kFwCfgPortBase + offset), data);
  }

 private:
  MachineDevices& devices_;
};

struct Files {
  std::vector<std::byte> kernel = x86::testing::make_bzimage({.setup_sects = 3});
  std::vector<std::byte> initrd = std::vector<std::byte>(777, std::byte{0x42});
  std::string firmware_path = write_file("fw.fd", std::vector<std::byte>(8192, std::byte{0x5a}));
  std::string kernel_path = write_file("bzImage", kernel);
  std::string initrd_path = write_file("initrd", initrd);
  ~Files() {
    for (const auto& path : {firmware_path, kernel_path, initrd_path}) {
      ::unlink(path.c_str());
    }
  }
};

VmConfig firmware_config(const Files& files) {
  VmConfig config;
  config.platform.tee = TeeKind::kTdx;
  config.payload.firmware = files.firmware_path;
  config.payload.kernel = files.kernel_path;
  config.payload.initramfs = files.initrd_path;
  config.payload.cmdline = "console=ttyS0";
  config.cpus.boot_vcpus = 2;
  config.memory.size_bytes = 64 << 20;
  config.serial.mode = SerialMode::kOff;
  return config;
}

TEST(FwCfgMachineTest, FirmwareBootServesTheLaunchedKernelThroughPort0x510) {
  kvm::RecordingSys sys;
  script_confidential_host(sys);
  Files files;
  auto backend = std::make_unique<FirmwareBootBackend>();
  FirmwareBootBackend& recorded = *backend;
  auto machine = Machine::create(firmware_config(files), std::move(backend), sys);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();

  MachinePorts ports((*machine)->devices());
  BufferGuestMemory unused(0, 16);
  fw::testing::FwCfgGuest guest(ports, unused);
  EXPECT_EQ(guest.read_port(4), (std::vector<std::byte>{std::byte{'Q'}, std::byte{'E'},
                                                        std::byte{'M'}, std::byte{'U'}}));
  guest.select(fw::kKeyNbCpus);
  EXPECT_EQ(guest.read_port(2), (std::vector<std::byte>{std::byte{2}, {}}));
  guest.select(fw::kKeySetupSize);
  const auto setup_size = guest.read_port(4);
  EXPECT_EQ(load_le<uint32_t>(std::span<const std::byte, 4>(setup_size.data(), 4)), 4u * 512);
  guest.select(fw::kKeySetupData);
  auto served = guest.read_port(4 * 512);
  guest.select(fw::kKeyKernelData);
  const auto rest = guest.read_port(files.kernel.size() - 4 * 512);
  served.insert(served.end(), rest.begin(), rest.end());
  EXPECT_EQ(served, files.kernel);
  // The bytes the launch (and with it the SEV kernel hash) saw are the bytes served.
  ASSERT_TRUE(recorded.kernel_seen);
  EXPECT_EQ(*recorded.kernel_seen, served);
  guest.select(fw::kKeyInitrdData);
  EXPECT_EQ(guest.read_port(files.initrd.size()), files.initrd);
  guest.select(fw::kKeyCmdlineData);
  const auto cmdline = guest.read_port(14);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(cmdline.data()), 14),
            std::string("console=ttyS0\0", 14));
  EXPECT_EQ(guest.directory().count("etc/e820"), 1u);
}

TEST(FwCfgMachineTest, TableLoaderRunsOverDmaIntoTheMachinesGuestMemory) {
  kvm::RecordingSys sys;
  script_confidential_host(sys);
  Files files;
  auto machine = Machine::create(firmware_config(files), std::make_unique<FirmwareBootBackend>(),
                                 sys);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  MachinePorts ports((*machine)->devices());
  GuestMemory& memory = (*machine)->memory();  // the shared side, where firmware DMA lands
  fw::testing::FwCfgGuest guest(ports, memory);
  constexpr uint64_t kTables = 0x1000000;
  constexpr uint64_t kRsdp = 0x2000000;
  auto run = fw::testing::run_ovmf_table_loader(guest, memory, kTables, kRsdp, 0x1000);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_EQ(run->installed, (std::vector<std::string>{"DSDT", "FACP", "APIC"}));
  std::array<std::byte, 36> rsdp{};
  ASSERT_TRUE(memory.read(kRsdp, rsdp).has_value());
  uint8_t sum = 0;
  for (std::byte b : rsdp) {
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  }
  EXPECT_EQ(sum, 0);
  EXPECT_EQ(load_le<uint64_t>(std::span(rsdp).subspan<24, 8>()), kTables);
  // The MADT lists both vCPUs: OVMF installs what the machine's config describes.
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rsdp.data()), 8), "RSD PTR ");
}

TEST(FwCfgMachineTest, PlainFirmwareBootServesTheImageReservedMapAndLinkedAcpi) {
  kvm::RecordingSys sys;
  script_confidential_host(sys);
  sys.on(KVM_GET_MSR_INDEX_LIST, [](int, std::uintptr_t arg) {
    reinterpret_cast<kvm_msr_list*>(arg)->nmsrs = 0;
    return 0L;
  });
  Files files;
  VmConfig config = firmware_config(files);
  config.platform.tee = TeeKind::kNone;
  config.memory.size_bytes = 128 << 20;
  auto machine = Machine::create(config, sys);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  MachinePorts ports((*machine)->devices());
  GuestMemory& memory = (*machine)->memory();
  fw::testing::FwCfgGuest guest(ports, memory);
  const auto e820 = guest.read_file("etc/e820");
  ASSERT_TRUE(e820.has_value());
  ASSERT_EQ(e820->size(), 2u * 20);  // RAM [0, 128 MiB), the 8 KiB image below 4 GiB
  const std::span<const std::byte> e(*e820);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<8, 8>()), 128u << 20);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<20, 8>()), (4ull << 30) - 8192);
  EXPECT_EQ(load_le<uint32_t>(e.subspan<36, 4>()), 2u);
  auto run = fw::testing::run_ovmf_table_loader(guest, memory, 0x1000000, 0x2000000, 0x1000);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_EQ(run->installed, (std::vector<std::string>{"DSDT", "FACP", "APIC"}));
  guest.select(fw::kKeyKernelSize);
  const auto kernel_size = guest.read_port(4);
  EXPECT_EQ(load_le<uint32_t>(std::span<const std::byte, 4>(kernel_size.data(), 4)),
            files.kernel.size() - 4 * 512);
}

TEST(FwCfgMachineTest, DirectKernelBootHasNoFwCfgDevice) {
  kvm::RecordingSys sys;
  script_confidential_host(sys);
  sys.on(KVM_GET_MSR_INDEX_LIST, [](int, std::uintptr_t arg) {
    reinterpret_cast<kvm_msr_list*>(arg)->nmsrs = 0;
    return 0L;
  });
  const uint8_t code[] = {0xf4};
  const std::string kernel = write_file("elf", test::tiny_elf_kernel(code, 0x200000));
  VmConfig config;
  config.payload.kernel = kernel;
  config.memory.size_bytes = 64 << 20;
  config.serial.mode = SerialMode::kOff;
  auto machine = Machine::create(config, sys);
  ::unlink(kernel.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  std::array<std::byte, 1> byte{};
  (*machine)->devices().pio_read(fw::kFwCfgDataPort, byte);
  EXPECT_EQ(byte[0], std::byte{0xff});  // unhandled port
}

}  // namespace
}  // namespace cvm::vmm
