// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/direct_boot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/x86/synthetic_images.h"

namespace cvm::vmm::x86 {
namespace {

using ::testing::HasSubstr;
using testing::peek;

struct Guest {
  MemoryLayout layout = *compute_memory_layout(128 * kMiB);
  std::vector<std::byte> ram = std::vector<std::byte>(128 * kMiB);
};

std::vector<std::byte> make_initrd() {
  std::vector<std::byte> initrd(0x3001);
  for (std::size_t i = 0; i < initrd.size(); ++i) {
    initrd[i] = testing::pattern_byte(i, 0x44);
  }
  return initrd;
}

TEST(DirectBootTest, BzImageLinux64BootWritesEveryStructure) {
  Guest g;
  const auto kernel = testing::make_bzimage();
  const auto initrd = make_initrd();
  auto boot = prepare_direct_boot(
      g.ram, g.layout,
      {.kernel = kernel,
       .initrd = initrd,
       .cmdline = {.virtio_devices = {*virtio_mmio_slot(0)}, .user = "root=/dev/vda"},
       .acpi = acpi::AcpiSpec{.vcpu_count = 1, .virtio_devices = {*virtio_mmio_slot(0)}}});
  ASSERT_TRUE(boot) << boot.error().message();
  EXPECT_EQ(boot->entry, BootEntry::kLinux64);
  EXPECT_EQ(boot->bsp.regs.rip, 0x1000200u);
  EXPECT_EQ(boot->bsp.regs.rsi, kZeroPageAddress);
  EXPECT_EQ(boot->bsp.sregs.cr3, kPageTablesAddress);
  EXPECT_EQ(boot->rsdp_gpa, 0xe0000u);
  EXPECT_EQ(boot->initrd_gpa, (128 * kMiB - 0x3001) & ~0xfffull);
  EXPECT_EQ(boot->initrd_size, 0x3001u);
  EXPECT_EQ(boot->cmdline,
            "console=ttyS0 8250.nr_uarts=1 reboot=k panic=-1 "
            "virtio_mmio.device=4K@0xd0000000:5 root=/dev/vda");

  const std::size_t zp = kZeroPageAddress;
  EXPECT_EQ(peek(g.ram, zp + 0x228, 4), kCmdlineAddress);
  EXPECT_EQ(peek(g.ram, zp + 0x218, 4), boot->initrd_gpa);
  EXPECT_EQ(peek(g.ram, zp + 0x21c, 4), 0x3001u);
  EXPECT_EQ(peek(g.ram, zp + 0x070, 8), 0xe0000u);
  EXPECT_EQ(peek(g.ram, zp + 0x1e8, 1), 4u);
  EXPECT_EQ(peek(g.ram, zp + 0x206, 2), 0x020fu);  // setup header copied from the image
  EXPECT_EQ(peek(g.ram, zp + 0x210, 1), 0xffu);
  const std::string written(reinterpret_cast<const char*>(g.ram.data()) + kCmdlineAddress,
                            boot->cmdline.size());
  EXPECT_EQ(written, boot->cmdline);
  EXPECT_EQ(g.ram[kCmdlineAddress + boot->cmdline.size()], std::byte{0});
  EXPECT_EQ(peek(g.ram, 0xe0000, 8), 0x2052545020445352u);  // "RSD PTR "
  EXPECT_EQ(peek(g.ram, kPageTablesAddress, 8), 0x3003u);
  EXPECT_EQ(peek(g.ram, kGdtAddress + 0x10, 8), 0x00af9b000000ffffull);
  EXPECT_EQ(g.ram[boot->initrd_gpa + 0x3000], testing::pattern_byte(0x3000, 0x44));
  EXPECT_EQ(g.ram[0x1000000], testing::pattern_byte(0, 0xb2));
}

TEST(DirectBootTest, ElfPvhBootWritesStartInfo) {
  Guest g;
  const auto kernel = testing::make_elf();
  auto boot = prepare_direct_boot(g.ram, g.layout,
                                  {.kernel = kernel, .protocol = BootProtocol::kPvh});
  ASSERT_TRUE(boot) << boot.error().message();
  EXPECT_EQ(boot->entry, BootEntry::kPvh32);
  EXPECT_EQ(boot->bsp.regs.rip, 0x1000100u);
  EXPECT_EQ(boot->bsp.regs.rbx, kPvhStartInfoAddress);
  EXPECT_EQ(boot->rsdp_gpa, 0u);
  EXPECT_EQ(peek(g.ram, kPvhStartInfoAddress, 4), 0x336ec578u);
  EXPECT_EQ(peek(g.ram, kPvhStartInfoAddress + 24, 8), kCmdlineAddress);
  EXPECT_EQ(peek(g.ram, kPvhStartInfoAddress + 48, 4), 4u);  // memmap entries
  EXPECT_EQ(peek(g.ram, kGdtAddress + 0x10, 8), 0x00cf9b000000ffffull);
}

TEST(DirectBootTest, ElfDefaultsToTheLinux64Entry) {
  Guest g;
  const auto kernel = testing::make_elf();
  auto boot = prepare_direct_boot(g.ram, g.layout, {.kernel = kernel});
  ASSERT_TRUE(boot) << boot.error().message();
  EXPECT_EQ(boot->entry, BootEntry::kLinux64);
  EXPECT_EQ(boot->bsp.regs.rip, 0x1000000u);
  EXPECT_EQ(peek(g.ram, kZeroPageAddress + 0x202, 4), 0x53726448u);
}

TEST(DirectBootTest, PvhWithoutNoteIsRejected) {
  Guest g;
  const auto kernel = testing::make_bzimage();
  auto boot = prepare_direct_boot(g.ram, g.layout,
                                  {.kernel = kernel, .protocol = BootProtocol::kPvh});
  ASSERT_FALSE(boot);
  EXPECT_THAT(boot.error().message(),
              HasSubstr("preparing the pvh boot: pvh boot needs an ELF vmlinux"));
}

TEST(DirectBootTest, ErrorsNameTheStep) {
  Guest g;
  const std::vector<std::byte> junk(8192);
  auto boot = prepare_direct_boot(g.ram, g.layout, {.kernel = junk});
  ASSERT_FALSE(boot);
  EXPECT_EQ(boot.error().message(),
            "loading the kernel: kernel image is neither a bzImage nor an ELF vmlinux");

  const auto kernel = testing::make_bzimage({.cmdline_size = 10});
  auto long_line = prepare_direct_boot(g.ram, g.layout, {.kernel = kernel});
  ASSERT_FALSE(long_line);
  EXPECT_THAT(long_line.error().message(),
              HasSubstr("writing the kernel command line: kernel command line is"));

  const std::vector<std::byte> huge_initrd(120 * kMiB);
  auto initrd = prepare_direct_boot(g.ram, g.layout,
                                    {.kernel = testing::make_bzimage(), .initrd = huge_initrd});
  ASSERT_FALSE(initrd);
  EXPECT_THAT(initrd.error().message(), HasSubstr("loading the initrd: initrd of"));
}

TEST(DirectBootTest, RamSpanMustMatchTheLayout) {
  Guest g;
  const auto kernel = testing::make_bzimage();
  auto boot = prepare_direct_boot(std::span(g.ram).first(64 * kMiB), g.layout, {.kernel = kernel});
  ASSERT_FALSE(boot);
  EXPECT_EQ(boot.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cvm::vmm::x86
