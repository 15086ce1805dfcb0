// SPDX-License-Identifier: Apache-2.0
// Plain `cvmm run --firmware` against the recording Sys: the image is a memory slot ending at
// 4 GiB holding the file's bytes, no vCPU register or boot-MSR set-up happens (vCPU 0 stays
// at KVM's reset state), and the firmware platform devices answer on the port bus; the RAM
// the firmware learns (fw_cfg etc/e820, CMOS) agrees with the KVM slots and leaves the image
// and the PCI hole alone. Also the config checks and image errors that happen before any KVM
// object exists.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "tests/unit/fw_cfg/fw_cfg_guest.h"
#include "tests/unit/vmm/tiny_elf.h"
#include "tests/unit/x86/synthetic_images.h"
#include "vmm/firmware_platform.h"
#include "tests/unit/vmm/machine_test_support.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/machine.h"

namespace cvm::vmm {
namespace {

constexpr std::string_view kPrefix = "cvmm_firmware_boot_test";

std::string write_file(const std::string& name, std::span<const std::byte> bytes) {
  return testing::write_temp_file(kPrefix, name, bytes);
}

std::string write_file(const std::string& name, std::span<const uint8_t> bytes) {
  return write_file(name, std::as_bytes(bytes));
}

/// A 64 KiB image: a byte pattern, and at 0xfff0 (0xfffffff0 once mapped) `jmp $` + hlt.
std::vector<uint8_t> firmware_image(std::size_t size = 64 * 1024) {
  std::vector<uint8_t> image(size);
  for (std::size_t i = 0; i < size; ++i) {
    image[i] = static_cast<uint8_t>(i * 7 + 3);
  }
  const uint8_t reset[] = {0xeb, 0xfe, 0xf4};
  std::memcpy(image.data() + size - 16, reset, sizeof(reset));
  return image;
}

void script_host(kvm::RecordingSys& sys) {
  // IA32_MTRR_DEF_TYPE: a direct boot would enable WB here; OVMF asserts it is 0.
  testing::script_plain_host(sys, 0x2ff);
}

VmConfig firmware_config(const std::string& firmware) {
  VmConfig config;
  config.payload.firmware = firmware;
  config.cpus.boot_vcpus = 2;
  config.memory.size_bytes = 128 << 20;
  config.serial.mode = SerialMode::kOff;
  return config;
}

uint32_t pio_read(Machine& machine, uint16_t port, std::size_t size = 4) {
  std::byte data[4] = {};
  machine.devices().pio_read(port, std::span<std::byte>(data, size));
  uint32_t value = 0;
  std::memcpy(&value, data, 4);
  return value;
}

void pio_write(Machine& machine, uint16_t port, uint32_t value, std::size_t size) {
  std::byte data[4] = {};
  std::memcpy(data, &value, size);
  machine.devices().pio_write(port, std::span<const std::byte>(data, size));
}

TEST(FirmwareBootTest, ImageIsASlotEndingAt4GiBAndRegistersStayAtReset) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::vector<uint8_t> image = firmware_image();
  const std::string path = write_file("fw64k.bin", image);
  auto machine = Machine::create(firmware_config(path), sys);
  ::unlink(path.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();

  const auto slots = sys.calls_named("KVM_SET_USER_MEMORY_REGION");
  ASSERT_EQ(slots.size(), 2u);
  const auto ram = slots[0].arg_as<kvm_userspace_memory_region>();
  EXPECT_EQ(ram.slot, 0u);
  EXPECT_EQ(ram.guest_phys_addr, 0u);
  EXPECT_EQ(ram.memory_size, 128u << 20);
  const auto firmware = slots[1].arg_as<kvm_userspace_memory_region>();
  EXPECT_EQ(firmware.slot, 1u);
  EXPECT_EQ(firmware.guest_phys_addr, 0xffff0000u);
  EXPECT_EQ(firmware.memory_size, 0x10000u);
  EXPECT_EQ(firmware.flags, 0u);  // writable RAM, like Cloud Hypervisor's firmware mapping
  // The slot's host memory holds the file, so 0xfffffff0 holds the reset-vector bytes.
  const auto* host = reinterpret_cast<const uint8_t*>(firmware.userspace_addr);
  EXPECT_EQ(std::memcmp(host, image.data(), image.size()), 0);
  EXPECT_EQ(host[0xfff0], 0xeb);
  EXPECT_EQ(host[0xfff1], 0xfe);

  EXPECT_EQ(sys.calls_named("KVM_CREATE_VCPU").size(), 2u);
  EXPECT_EQ(sys.calls_named("KVM_SET_CPUID2").size(), 2u);
  EXPECT_EQ(sys.calls_named("KVM_SET_LAPIC").size(), 2u);
  // No direct-boot set-up: no registers, no segment/control registers, no boot MSRs
  // (OVMF asserts that MTRRs are still disabled), and nothing runs yet.
  EXPECT_TRUE(sys.calls_named("KVM_SET_REGS").empty());
  EXPECT_TRUE(sys.calls_named("KVM_SET_SREGS").empty());
  EXPECT_TRUE(sys.calls_named("KVM_SET_MSRS").empty());
  // APs keep KVM's default multiprocessor state: waiting for INIT/SIPI.
  EXPECT_TRUE(sys.calls_named("KVM_SET_MP_STATE").empty());
  EXPECT_TRUE(sys.calls_named("KVM_RUN").empty());
}

TEST(FirmwareBootTest, PlatformDevicesAnswerOnThePortBus) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string path = write_file("fwdev.bin", firmware_image());
  auto machine = Machine::create(firmware_config(path), sys);
  ::unlink(path.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  Machine& m = **machine;
  pio_write(m, 0xcf8, 0x80000000, 4);
  EXPECT_EQ(pio_read(m, 0xcfc), 0x12378086u);  // i440FX host bridge
  pio_write(m, 0xcf8, 0x80000b00, 4);
  EXPECT_EQ(pio_read(m, 0xcfc), 0x71138086u);  // PIIX4 PM
  pio_write(m, 0x70, 0x35, 1);
  EXPECT_EQ(pio_read(m, 0x71, 1), 0x07u);  // (128 - 16) MiB / 64 KiB = 0x0700
  pio_write(m, 0x70, 0x5f, 1);
  EXPECT_EQ(pio_read(m, 0x71, 1), 0x01u);  // two vCPUs
  // PMBA + PMIOSE map the PM block; its timer's top byte is 0 (24 bits).
  pio_write(m, 0xcf8, 0x80000b40, 4);
  pio_write(m, 0xcfc, 0xb001, 4);
  pio_write(m, 0xcf8, 0x80000b80, 4);
  pio_write(m, 0xcfc, 0x01, 1);
  EXPECT_EQ(pio_read(m, 0xb008) >> 24, 0u);
  EXPECT_EQ(pio_read(m, 0xb00c), 0u);  // inside the block: not the bus's all-ones
}

/// The fw_cfg ports (0x510..) of a machine as one BusDevice, for the test fw_cfg driver.
class FwCfgPorts final : public devices::BusDevice {
 public:
  explicit FwCfgPorts(MachineDevices& devices) : devices_(devices) {}
  void read(uint64_t offset, std::span<std::byte> data) override {
    devices_.pio_read(static_cast<uint16_t>(devices::fw_cfg::kFwCfgPortBase + offset), data);
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    devices_.pio_write(static_cast<uint16_t>(devices::fw_cfg::kFwCfgPortBase + offset), data);
  }

 private:
  MachineDevices& devices_;
};

uint8_t cmos(Machine& machine, uint8_t index) {
  pio_write(machine, 0x70, index, 1);
  return static_cast<uint8_t>(pio_read(machine, 0x71, 1));
}

TEST(FirmwareBootTest, RamTheFirmwareLearnsMatchesTheSlotsAndAvoidsImageAndHole) {
  constexpr uint64_t kGiB = 1ull << 30;
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string path = write_file("fw5g.bin", firmware_image());
  VmConfig config = firmware_config(path);
  config.memory.size_bytes = 5 * kGiB;  // 3 GiB below the hole, 2 GiB from 4 GiB
  auto machine = Machine::create(config, sys);
  ::unlink(path.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  const auto slots = sys.calls_named("KVM_SET_USER_MEMORY_REGION");
  ASSERT_EQ(slots.size(), 3u);
  const auto low = slots[0].arg_as<kvm_userspace_memory_region>();
  const auto high = slots[1].arg_as<kvm_userspace_memory_region>();
  const auto image = slots[2].arg_as<kvm_userspace_memory_region>();
  EXPECT_EQ(low.guest_phys_addr + low.memory_size, 3 * kGiB);
  EXPECT_EQ(high.guest_phys_addr, 4 * kGiB);
  EXPECT_EQ(high.memory_size, 2 * kGiB);
  EXPECT_EQ(image.guest_phys_addr + image.memory_size, 4 * kGiB);

  // OVMF's reading of etc/e820 (PlatformScanOrAdd64BitE820Ram): RAM entries only, the
  // highest end below 4 GiB and the highest end overall.
  FwCfgPorts ports(machine->get()->devices());
  BufferGuestMemory unused(0, 16);
  devices::fw_cfg::testing::FwCfgGuest guest(ports, unused);
  const auto e820 = guest.read_file("etc/e820");
  ASSERT_TRUE(e820.has_value());
  ASSERT_EQ(e820->size() % 20, 0u);
  uint64_t low_end = 0;
  uint64_t max_end = 4 * kGiB;
  bool image_reserved = false;
  for (std::size_t at = 0; at < e820->size(); at += 20) {
    const std::span<const std::byte> entry(e820->data() + at, 20);
    const auto base = load_le<uint64_t>(entry.subspan<0, 8>());
    const auto end = base + load_le<uint64_t>(entry.subspan<8, 8>());
    if (load_le<uint32_t>(entry.subspan<16, 4>()) != 1) {
      image_reserved |= base == image.guest_phys_addr && end == 4 * kGiB;
      continue;
    }
    EXPECT_TRUE(end <= 3 * kGiB || base >= 4 * kGiB) << "RAM in the hole at " << base;
    if (end < 4 * kGiB) {
      low_end = std::max(low_end, end);
    }
    max_end = std::max(max_end, end);
  }
  EXPECT_TRUE(image_reserved);
  EXPECT_EQ(low_end, low.guest_phys_addr + low.memory_size);
  EXPECT_EQ(max_end, high.guest_phys_addr + high.memory_size);
  // The CMOS fallback (PlatformGetSystemMemorySizeBelow4gb/Above4gb) says the same.
  Machine& m = **machine;
  EXPECT_EQ(((uint64_t{cmos(m, 0x35)} << 8 | cmos(m, 0x34)) << 16) + (16ull << 20), low_end);
  EXPECT_EQ((uint64_t{cmos(m, 0x5d)} << 16 | uint64_t{cmos(m, 0x5c)} << 8 | cmos(m, 0x5b)) << 16,
            max_end - 4 * kGiB);
  // i440FX PCI window (PlatformQemuUc32BaseInitialization): the power-of-two-sized top of the
  // 4 GiB space above low RAM, here [3 GiB, 4 GiB): it starts where RAM ends.
  uint64_t uc32_size = 1;
  while (uc32_size * 2 <= 4 * kGiB - low_end) {
    uc32_size *= 2;
  }
  EXPECT_EQ(4 * kGiB - uc32_size, low_end);
}

TEST(FirmwareBootTest, DirectKernelBootHasNoFirmwarePlatform) {
  kvm::RecordingSys sys;
  script_host(sys);
  const uint8_t code[] = {0xf4};
  const auto elf = test::tiny_elf_kernel(code, 0x200000);
  const std::string path = write_file("vmlinux", std::span<const std::byte>(elf));
  VmConfig config;
  config.payload.kernel = path;
  config.memory.size_bytes = 64 << 20;
  config.serial.mode = SerialMode::kOff;
  auto machine = Machine::create(config, sys);
  ::unlink(path.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  pio_write(**machine, 0xcf8, 0x80000000, 4);
  EXPECT_EQ(pio_read(**machine, 0xcfc), 0xffffffffu);
}

TEST(FirmwareBootTest, BadImagesFailBeforeAnyKvmObject) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string odd = write_file("odd.bin", std::vector<uint8_t>(4097, 0));
  auto machine = Machine::create(firmware_config(odd), sys);
  ::unlink(odd.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "firmware " + odd + ": size 0x1001 is not a non-zero multiple of 4 KiB");
  const std::string huge = write_file("huge.bin", std::vector<uint8_t>((16 << 20) + 4096, 0));
  machine = Machine::create(firmware_config(huge), sys);
  ::unlink(huge.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "firmware " + huge + ": size 16 MiB exceeds the 16 MiB firmware region below 4 GiB");
  machine = Machine::create(firmware_config("/nonexistent/OVMF.fd"), sys);
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "reading the firmware: /nonexistent/OVMF.fd: No such file or directory");
  EXPECT_TRUE(sys.calls_named("KVM_CREATE_VM").empty());
  EXPECT_EQ(sys.live_mappings(), 0u);
}

TEST(FirmwareBootTest, FirmwareLoadsOnlyBzImageKernels) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string firmware = write_file("fwk.bin", firmware_image());
  const uint8_t code[] = {0xf4};
  const auto elf = test::tiny_elf_kernel(code, 0x200000);
  const std::string kernel = write_file("elf", std::span<const std::byte>(elf));
  VmConfig config = firmware_config(firmware);
  config.payload.kernel = kernel;
  auto machine = Machine::create(config, sys);
  ::unlink(firmware.c_str());
  ::unlink(kernel.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "--kernel " + kernel +
                ": firmware direct boot needs a bzImage (the firmware loads the kernel through "
                "fw_cfg): this is an ELF vmlinux");
  EXPECT_TRUE(sys.calls_named("KVM_CREATE_VM").empty());
}

TEST(FirmwareBootTest, KernelGoesToTheFirmwareThroughFwCfg) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string firmware = write_file("fwbz.bin", firmware_image());
  const auto bzimage = x86::testing::make_bzimage({.setup_sects = 3});
  const std::string kernel = write_file("bzImage", std::span<const std::byte>(bzimage));
  VmConfig config = firmware_config(firmware);
  config.payload.kernel = kernel;
  config.payload.cmdline = "console=ttyS0";
  auto machine = Machine::create(config, sys);
  ::unlink(firmware.c_str());
  ::unlink(kernel.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_TRUE(sys.calls_named("KVM_SET_REGS").empty());  // cvmm does not load it itself
  FwCfgPorts ports(machine->get()->devices());
  BufferGuestMemory unused(0, 16);
  devices::fw_cfg::testing::FwCfgGuest guest(ports, unused);
  guest.select(devices::fw_cfg::kKeyKernelSize);
  const auto size = guest.read_port(4);
  EXPECT_EQ(load_le<uint32_t>(std::span<const std::byte, 4>(size.data(), 4)),
            bzimage.size() - 4 * 512);  // everything after the 4 setup sectors
}

class CountingSink final : public devices::PowerRequestSink {
 public:
  void request(devices::PowerRequest) override { ++requests; }
  int requests = 0;
};

TEST(FirmwareBootTest, PlatformClaimsExactlyItsPorts) {
  devices::Bus pio(devices::BusKind::kPio);
  CountingSink sink;
  const auto layout = x86::compute_memory_layout(64 << 20);
  ASSERT_TRUE(layout.has_value());
  ASSERT_TRUE(insert_firmware_platform(pio, sink, *layout, 1).has_value());
  for (uint64_t port : {0x70, 0x71, 0x92, 0xcf8, 0xcf9, 0xcfc, 0xcff}) {
    EXPECT_NE(pio.lookup(port).device, nullptr) << port;
  }
  for (uint64_t port : {0x6f, 0x72, 0x91, 0x93, 0xcf7, 0xd00, 0xb000}) {
    EXPECT_EQ(pio.lookup(port).device, nullptr) << port;  // PM block: not before PMBA
  }
  auto again = insert_firmware_platform(pio, sink, *layout, 1);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kInvalidArgument);
  std::byte reset[1] = {std::byte{0x06}};
  EXPECT_TRUE(pio.write(0xcf9, reset));
  EXPECT_EQ(sink.requests, 1);
}

// Confidential firmware boots: the plan's firmware ranges, and nothing else, become read-only
// MMIO (FIRMWARE-PLATFORM.md, "the image is ROM").
firmware::LaunchPlan rom_plan(std::size_t firmware_ranges) {
  auto image = std::make_shared<std::vector<std::byte>>(0x8000);
  for (std::size_t i = 0; i < image->size(); ++i) {
    (*image)[i] = static_cast<std::byte>(i * 7 + 3);
  }
  firmware::LaunchPlan plan;
  // A 64 KiB range holding a 32 KiB blob (zero-filled to its size), then an unrelated range.
  firmware::PlanRange firmware;
  firmware.gpa = 0xffff0000;
  firmware.size = 0x10000;
  firmware.blob = image;
  firmware.length = image->size();
  firmware.label = "OVMF";
  firmware::PlanRange other;
  other.gpa = 0x800000;
  other.size = 0x1000;
  other.label = "SEC_MEM";
  plan.ranges = {firmware, other};
  plan.firmware_ranges = firmware_ranges;
  return plan;
}

TEST(FirmwareBootTest, FirmwareRomCoversThePlansFirmwareRangesOnly) {
  devices::Bus mmio(devices::BusKind::kMmio);
  ASSERT_TRUE(insert_firmware_rom(mmio, rom_plan(1)).has_value());
  EXPECT_NE(mmio.lookup(0xffff0000).device, nullptr);
  EXPECT_NE(mmio.lookup(0xffffffff).device, nullptr);
  EXPECT_EQ(mmio.lookup(0xfffeffff).device, nullptr);
  EXPECT_EQ(mmio.lookup(0x800000).device, nullptr);
  std::byte data[2] = {};
  EXPECT_TRUE(mmio.read(0xffff0001, data));
  EXPECT_EQ(data[0], std::byte{0x0a});
  EXPECT_TRUE(mmio.read(0xffff7fff, data));  // the blob's last byte, then its zero fill
  EXPECT_EQ(data[0], static_cast<std::byte>(0x7fff * 7 + 3));
  EXPECT_EQ(data[1], std::byte{0});
  const std::byte command[1] = {std::byte{0x10}};
  EXPECT_TRUE(mmio.write(0xffff0001, command));
  EXPECT_TRUE(mmio.read(0xffff0001, data));
  EXPECT_EQ(data[0], std::byte{0x0a});
  EXPECT_EQ(mmio.unhandled_writes(), 0u);

  auto again = insert_firmware_rom(mmio, rom_plan(1));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message(),
            "firmware OVMF [0xffff0000, 0x100000000): mmio bus: range [0xffff0000, 0xffffffff] "
            "overlaps [0xffff0000, 0xffffffff]");
}

TEST(FirmwareBootTest, PlanWithoutFirmwareRangesGetsNoRom) {
  devices::Bus mmio(devices::BusKind::kMmio);
  ASSERT_TRUE(insert_firmware_rom(mmio, rom_plan(0)).has_value());  // TDX plans
  EXPECT_EQ(mmio.lookup(0xffff0000).device, nullptr);
}

TEST(FirmwareBootTest, PlainFirmwareBootImageIsRamNotRom) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string path = write_file("fwram.bin", firmware_image());
  auto machine = Machine::create(firmware_config(path), sys);
  ::unlink(path.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  // Writable RAM in a memory slot (KVM never exits for it): nothing on the MMIO bus there.
  EXPECT_EQ((*machine)->devices().mmio_bus().lookup(0xffff0000).device, nullptr);
}

TEST(FirmwareBootTest, ConfigChecksSayWhoLoadsWhat) {
  VmConfig config = firmware_config("/usr/share/ovmf/OVMF.fd");
  EXPECT_TRUE(check_machine_config(config).has_value());
  config.payload.kernel = "/boot/vmlinuz";
  config.payload.initramfs = "/boot/initrd";
  config.payload.cmdline = "console=ttyS0";
  EXPECT_TRUE(check_machine_config(config).has_value());
  config.payload.kernel.clear();
  EXPECT_EQ(check_machine_config(config).error().message(),
            "--initramfs and --cmdline need --kernel: with --firmware, the firmware loads all "
            "three through fw_cfg");
  config = firmware_config("/usr/share/ovmf/OVMF.fd");
  config.payload.firmware.reset();
  EXPECT_EQ(check_machine_config(config).error().message(),
            "--kernel is required unless --firmware boots the guest");
}

}  // namespace
}  // namespace cvm::vmm
