// SPDX-License-Identifier: Apache-2.0
// The machine's fw_cfg items (vmm/fw_cfg_items.h): etc/e820 byte for byte, the numbered items
// OVMF reads, and the direct-boot items read back through the device.
#include "vmm/fw_cfg_items.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "tests/unit/fw_cfg/fw_cfg_guest.h"
#include "tests/unit/x86/synthetic_images.h"

namespace cvm::vmm {
namespace {

namespace fw = devices::fw_cfg;

TEST(FwCfgItemsTest, E820FileIsPackedTwentyByteLittleEndianEntries) {
  const x86::E820Entry map[] = {
      {.addr = 0, .size = 0x9fc00, .type = x86::E820Type::kRam},
      {.addr = 0x100000000, .size = 0x40000000, .type = x86::E820Type::kReserved},
  };
  const auto file = build_e820_fw_cfg_file(map);
  const std::vector<uint8_t> expected = {
      0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xfc, 0x09, 0, 0, 0, 0, 0, 1, 0, 0, 0,
      0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x00, 0x00, 0x40, 0, 0, 0, 0, 2, 0, 0, 0};
  ASSERT_EQ(file.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(file[i], std::byte{expected[i]}) << "byte " << i;
  }
}

struct Read {
  BufferGuestMemory memory{0, 1 << 20};
  std::unique_ptr<fw::FwCfgDevice> device;
  std::unique_ptr<fw::testing::FwCfgGuest> guest;
  explicit Read(fw::FwCfgStore store)
      : device(std::make_unique<fw::FwCfgDevice>(std::move(store), memory)),
        guest(std::make_unique<fw::testing::FwCfgGuest>(*device, memory)) {}
  std::vector<std::byte> item(uint16_t key, std::size_t length) {
    guest->select(key);
    return guest->read_port(length);
  }
  uint64_t le(uint16_t key, std::size_t length) {
    auto bytes = item(key, length);
    bytes.resize(8);
    return load_le<uint64_t>(std::span<const std::byte, 8>(bytes.data(), 8));
  }
};

FwCfgMachineSpec spec_for(uint64_t ram) {
  FwCfgMachineSpec spec;
  spec.layout = *x86::compute_memory_layout(ram);
  spec.boot_vcpus = 4;
  spec.acpi.vcpu_count = 4;
  spec.firmware = {.gpa = 0xffe00000, .size = 0x200000};
  return spec;
}

TEST(FwCfgItemsTest, PlatformItemsWithoutAKernel) {
  const FwCfgMachineSpec spec = spec_for(5ull << 30);  // 3 GiB low, 2 GiB high
  auto store = build_machine_fw_cfg(spec);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  Read r(std::move(*store));
  EXPECT_EQ(r.le(fw::kKeyRamSize, 8), 5ull << 30);
  EXPECT_EQ(r.le(fw::kKeyNbCpus, 2), 4u);
  EXPECT_EQ(r.le(fw::kKeyMaxCpus, 2), 4u);
  EXPECT_EQ(r.le(fw::kKeyKernelSize, 4), 0u);  // no kernel: OVMF sees size 0
  const auto files = r.guest->directory();
  std::vector<std::string> names;
  for (const auto& [name, entry] : files) {
    names.push_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"etc/acpi/rsdp", "etc/acpi/tables", "etc/e820",
                                             "etc/table-loader"}));
  const auto e820 = r.guest->read_file("etc/e820");
  ASSERT_TRUE(e820.has_value());
  EXPECT_EQ(*e820, build_e820_fw_cfg_file(x86::build_firmware_e820_map(spec.layout,
                                                                        spec.firmware)));
  // What OVMF's PlatformScanOrAdd64BitE820Ram reads: RAM [0, 3 GiB), the image reserved,
  // RAM [4 GiB, 6 GiB).
  ASSERT_EQ(e820->size(), 3u * 20);
  const std::span<const std::byte> e(*e820);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<0, 8>()), 0u);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<8, 8>()), 3ull << 30);
  EXPECT_EQ(load_le<uint32_t>(e.subspan<16, 4>()), 1u);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<20, 8>()), 0xffe00000u);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<28, 8>()), 0x200000u);
  EXPECT_EQ(load_le<uint32_t>(e.subspan<36, 4>()), 2u);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<40, 8>()), 4ull << 30);
  EXPECT_EQ(load_le<uint64_t>(e.subspan<48, 8>()), 2ull << 30);
  EXPECT_EQ(load_le<uint32_t>(e.subspan<56, 4>()), 1u);
}

TEST(FwCfgItemsTest, DirectBootItemsServeTheFilesUnmodified) {
  FwCfgMachineSpec spec = spec_for(256 << 20);
  const auto image = x86::testing::make_bzimage({.setup_sects = 2, .payload_size = 0x1800});
  spec.kernel = std::make_shared<const std::vector<std::byte>>(image);
  spec.initrd = std::make_shared<const std::vector<std::byte>>(300, std::byte{0x5a});
  spec.cmdline = "console=ttyS0 quiet";
  auto store = build_machine_fw_cfg(spec);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  Read r(std::move(*store));
  EXPECT_EQ(r.le(fw::kKeySetupSize, 4), 3u * 512);
  EXPECT_EQ(r.le(fw::kKeyKernelSize, 4), 0x1800u);
  auto joined = r.item(fw::kKeySetupData, 3 * 512);
  const auto kernel = r.item(fw::kKeyKernelData, 0x1800);
  joined.insert(joined.end(), kernel.begin(), kernel.end());
  EXPECT_EQ(joined, image);
  EXPECT_EQ(r.le(fw::kKeyInitrdSize, 4), 300u);
  EXPECT_EQ(r.item(fw::kKeyInitrdData, 300), *spec.initrd);
  EXPECT_EQ(r.le(fw::kKeyCmdlineSize, 4), 20u);
  const auto cmdline = r.item(fw::kKeyCmdlineData, 20);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(cmdline.data()), 20),
            std::string("console=ttyS0 quiet\0", 20));
}

TEST(FwCfgItemsTest, SpecFromTheConfigPlacesTheImageBelow4GiB) {
  const std::string path = ::testing::TempDir() + "fw_cfg_items_fw_" + std::to_string(::getpid());
  std::ofstream(path, std::ios::binary) << std::string(0x400000, '\xff');
  VmConfig config;
  config.payload.firmware = path;
  config.cpus.boot_vcpus = 3;
  config.memory.size_bytes = 128 << 20;
  auto layout = x86::compute_memory_layout(config.memory.size_bytes);
  ASSERT_TRUE(layout.has_value());
  auto spec = fw_cfg_machine_spec(config, *layout, 2, {});
  ::unlink(path.c_str());
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->firmware.gpa, 0xffc00000u);
  EXPECT_EQ(spec->firmware.size, 0x400000u);
  EXPECT_EQ(spec->boot_vcpus, 3u);
  EXPECT_TRUE(spec->acpi.fw_cfg);
  ASSERT_EQ(spec->acpi.virtio_devices.size(), 2u);
  EXPECT_EQ(spec->acpi.virtio_devices[1].base, 0xd0001000u);
  EXPECT_FALSE(spec->kernel);
  // The size the launch already knows wins over the file.
  auto given = fw_cfg_machine_spec(config, *layout, 0, {.firmware_bytes = 0x200000});
  ASSERT_TRUE(given.has_value());
  EXPECT_EQ(given->firmware.gpa, 0xffe00000u);
}

TEST(FwCfgItemsTest, AnElfKernelCannotBeServedToFirmware) {
  FwCfgMachineSpec spec = spec_for(256 << 20);
  spec.kernel = std::make_shared<const std::vector<std::byte>>(x86::testing::make_elf());
  auto store = build_machine_fw_cfg(spec);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kMalformedImage);
  EXPECT_EQ(store.error().message(),
            "fw_cfg direct boot: kernel: firmware direct boot needs a bzImage (the firmware "
            "loads the kernel through fw_cfg): this is an ELF vmlinux");
}

}  // namespace
}  // namespace cvm::vmm
