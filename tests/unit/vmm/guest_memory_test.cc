// SPDX-License-Identifier: Apache-2.0
// GuestMemory: slot registration per backing (recorded ioctls) and bounds-checked access.
#include "vmm/guest_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm {
namespace {

constexpr uint64_t kMiB = 1 << 20;

struct Fixture {
  kvm::RecordingSys sys;
  kvm::Vm vm = make_vm(sys);

  static kvm::Vm make_vm(kvm::RecordingSys& sys) {
    auto system = kvm::System::open(sys);
    EXPECT_TRUE(system.has_value());
    auto vm = system->create_vm(KVM_X86_DEFAULT_VM);
    EXPECT_TRUE(vm.has_value());
    return std::move(vm).value();
  }
};

TEST(GuestMemoryTest, AnonymousRangesBecomeSlotsZeroAndOne) {
  Fixture f;
  const RamRange ranges[] = {{0, 16 * kMiB}, {4ull << 30, 2 * kMiB}};
  auto memory = GuestMemory::create(f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_TRUE(memory.has_value()) << memory.error().message();
  auto slots = f.sys.calls_named("KVM_SET_USER_MEMORY_REGION");
  ASSERT_EQ(slots.size(), 2u);
  const auto low = slots[0].arg_as<kvm_userspace_memory_region>();
  const auto high = slots[1].arg_as<kvm_userspace_memory_region>();
  EXPECT_EQ(low.slot, 0u);
  EXPECT_EQ(low.guest_phys_addr, 0u);
  EXPECT_EQ(low.memory_size, 16 * kMiB);
  EXPECT_EQ(low.userspace_addr, reinterpret_cast<uint64_t>((*memory)->regions()[0].mapping.data()));
  EXPECT_EQ(high.slot, 1u);
  EXPECT_EQ(high.guest_phys_addr, 4ull << 30);
  EXPECT_EQ(high.flags, 0u);
  EXPECT_EQ((*memory)->size(), 18 * kMiB);
}

TEST(GuestMemoryTest, GuestMemfdCreatesFdThenRegion2WithIt) {
  Fixture f;
  f.sys.set_extension(KVM_CAP_GUEST_MEMFD, 1);
  f.sys.set_extension(KVM_CAP_USER_MEMORY2, 1);
  const RamRange ranges[] = {{0, 8 * kMiB}};
  auto memory = GuestMemory::create(f.vm, ranges, RamBacking::kGuestMemfd);
  ASSERT_TRUE(memory.has_value()) << memory.error().message();

  std::vector<std::string> tail;
  for (const auto& call : f.sys.calls()) {
    if (call.name == "KVM_CREATE_GUEST_MEMFD" || call.name == "mmap" ||
        call.name == "KVM_SET_USER_MEMORY_REGION2") {
      tail.push_back(call.name + "@" + call.fd_role);
    }
  }
  EXPECT_EQ(tail, (std::vector<std::string>{"KVM_CREATE_GUEST_MEMFD@vm", "mmap@gmem0",
                                            "KVM_SET_USER_MEMORY_REGION2@vm"}));
  const auto create =
      f.sys.calls_named("KVM_CREATE_GUEST_MEMFD").at(0).arg_as<kvm_create_guest_memfd>();
  EXPECT_EQ(create.size, 8 * kMiB);
  EXPECT_EQ(create.flags, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const auto slot = f.sys.calls_named("KVM_SET_USER_MEMORY_REGION2")
                        .at(0)
                        .arg_as<kvm_userspace_memory_region2>();
  const auto& region = (*memory)->regions()[0];
  ASSERT_TRUE(region.guest_memfd.has_value());
  EXPECT_EQ(slot.flags, KVM_MEM_GUEST_MEMFD);
  EXPECT_EQ(slot.guest_memfd, static_cast<uint32_t>(region.guest_memfd->fd()));
  EXPECT_EQ(slot.guest_memfd_offset, 0u);
  EXPECT_EQ(slot.memory_size, 8 * kMiB);
  EXPECT_EQ(slot.userspace_addr, reinterpret_cast<uint64_t>(region.mapping.data()));
}

TEST(GuestMemoryTest, GuestMemfdWithoutCapabilityIsNotSupported) {
  Fixture f;
  const RamRange ranges[] = {{0, 8 * kMiB}};
  auto memory = GuestMemory::create(f.vm, ranges, RamBacking::kGuestMemfd);
  ASSERT_FALSE(memory.has_value());
  EXPECT_EQ(memory.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_TRUE(f.sys.calls_named("KVM_CREATE_GUEST_MEMFD").empty());
}

TEST(GuestMemoryTest, NoFreeHugepagesGivesActionableError) {
  Fixture f;
  f.sys.fail_mmap(ENOMEM);
  const RamRange ranges[] = {{0, 64 * kMiB}};
  auto memory = GuestMemory::create(f.vm, ranges, RamBacking::kHugepages);
  ASSERT_FALSE(memory.has_value());
  EXPECT_EQ(memory.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(memory.error().message(),
            "no free 2 MiB hugepages for 64 MiB of guest RAM at 0x0: reserve them in "
            "/proc/sys/vm/nr_hugepages");
}

TEST(GuestMemoryTest, HugepagesNeedTwoMiBAlignment) {
  const RamRange ranges[] = {{0, 3 * kMiB + 4096}};
  auto result = validate_ram_ranges(ranges, RamBacking::kHugepages);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message(),
            "guest RAM range [0x0, 0x301000) is not 2048 KiB aligned, as hugepages backing needs");
}

TEST(GuestMemoryTest, OverlappingRangesAreRejected) {
  const RamRange ranges[] = {{0, 2 * kMiB}, {kMiB, 2 * kMiB}};
  EXPECT_FALSE(validate_ram_ranges(ranges, RamBacking::kAnonymous).has_value());
  EXPECT_FALSE(validate_ram_ranges({}, RamBacking::kAnonymous).has_value());
}

TEST(GuestMemoryTest, FailedSlotLeavesNoMappingBehind) {
  Fixture f;
  f.sys.fail_next(KVM_SET_USER_MEMORY_REGION, EEXIST);
  const RamRange ranges[] = {{0, 2 * kMiB}};
  const std::size_t before = f.sys.live_mappings();
  auto memory = GuestMemory::create(f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_FALSE(memory.has_value());
  EXPECT_EQ(memory.error().message(),
            "slot 0 gpa 0x0 size 0x200000: KVM_SET_USER_MEMORY_REGION: File exists");
  EXPECT_EQ(f.sys.live_mappings(), before);
}

TEST(GuestMemoryTest, AccessIsBoundsChecked) {
  Fixture f;
  const RamRange ranges[] = {{0, 2 * kMiB}, {4ull << 30, 2 * kMiB}};
  auto created = GuestMemory::create(f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_TRUE(created.has_value());
  GuestMemoryView& view = **created;
  const std::byte in[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  ASSERT_TRUE(view.write((4ull << 30) + 8, in).has_value());
  std::byte out[4] = {};
  ASSERT_TRUE(view.read((4ull << 30) + 8, out).has_value());
  EXPECT_EQ(std::memcmp(in, out, 4), 0);
  EXPECT_EQ((*created)->regions()[1].mapping.data()[9], std::byte{2});

  auto straddle = view.read(2 * kMiB - 2, out);
  ASSERT_FALSE(straddle.has_value());
  EXPECT_EQ(straddle.error().code(), ErrorCode::kGuest);
  EXPECT_EQ(straddle.error().message(), "guest range 0x1ffffe+0x4 is outside guest memory");
  EXPECT_FALSE(view.read(3ull << 30, std::span(out).first(1)).has_value());
  EXPECT_TRUE(view.contains(0, 2 * kMiB));
  EXPECT_FALSE(view.contains(0, 2 * kMiB + 1));
  EXPECT_FALSE((*created)->host_span(2 * kMiB - 4, 8).has_value());
  auto span = (*created)->host_span(4096, 16);
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->data(), (*created)->regions()[0].mapping.data() + 4096);
}

}  // namespace
}  // namespace cvm::vmm

namespace cvm::vmm {
namespace {

// Two slots back one contiguous guest range [0, 4 MiB): a guest buffer may straddle them.
TEST(GuestMemoryIovecTest, RangeAcrossAdjacentRegionsGivesOneIovecPerRegion) {
  Fixture f;
  const RamRange ranges[] = {{0, 2 * kMiB}, {2 * kMiB, 2 * kMiB}, {4ull << 30, 2 * kMiB}};
  auto created = GuestMemory::create(f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_TRUE(created.has_value()) << created.error().message();
  GuestMemory& memory = **created;
  std::array<iovec, 4> out{};
  auto used = memory.host_iovecs(2 * kMiB - 16, 48, out);
  ASSERT_TRUE(used.has_value()) << used.error().message();
  ASSERT_EQ(*used, 2u);
  EXPECT_EQ(out[0].iov_base, memory.regions()[0].mapping.data() + 2 * kMiB - 16);
  EXPECT_EQ(out[0].iov_len, 16u);
  EXPECT_EQ(out[1].iov_base, memory.regions()[1].mapping.data());
  EXPECT_EQ(out[1].iov_len, 32u);
  // read()/write() accept the same straddling range, byte for byte through both regions.
  std::array<std::byte, 48> data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::byte>(i + 1);
  }
  ASSERT_TRUE(memory.write(2 * kMiB - 16, data).has_value());
  EXPECT_EQ(memory.regions()[0].mapping.data()[2 * kMiB - 1], std::byte{16});
  EXPECT_EQ(memory.regions()[1].mapping.data()[0], std::byte{17});
  std::array<std::byte, 48> back{};
  ASSERT_TRUE(memory.read(2 * kMiB - 16, back).has_value());
  EXPECT_EQ(back, data);
  EXPECT_TRUE(memory.contains(0, 4 * kMiB));
}

TEST(GuestMemoryIovecTest, ShortOutputGetsAPrefixEndingAtARegionBoundary) {
  Fixture f;
  const RamRange ranges[] = {{0, 2 * kMiB}, {2 * kMiB, 2 * kMiB}};
  auto created = GuestMemory::create(f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_TRUE(created.has_value());
  std::array<iovec, 1> out{};
  auto used = (*created)->host_iovecs(kMiB, 2 * kMiB, out);
  ASSERT_TRUE(used.has_value());
  ASSERT_EQ(*used, 1u);
  EXPECT_EQ(out[0].iov_len, kMiB);
}

TEST(GuestMemoryIovecTest, HolesOutOfRangeAndWrapAroundFailLikeRead) {
  Fixture f;
  const RamRange ranges[] = {{0, 2 * kMiB}, {4ull << 30, 2 * kMiB}};
  auto created = GuestMemory::create(f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_TRUE(created.has_value());
  GuestMemory& memory = **created;
  struct Case {
    uint64_t gpa;
    uint64_t length;
  };
  const Case cases[] = {
      {2 * kMiB - 2, 4},                         // runs into the hole after region 0
      {3ull << 30, 1},                           // inside the hole
      {(4ull << 30) + 2 * kMiB - 1, 2},          // past the last region
      {(4ull << 30) + 2 * kMiB + 1, 0},          // empty, beyond the end
      {16, ~uint64_t{0}},                        // wraps around 2^64
      {~uint64_t{0}, 2},                         // wraps around 2^64
  };
  std::array<iovec, 4> out{};
  for (const Case& c : cases) {
    out[0] = iovec{};
    auto used = memory.host_iovecs(c.gpa, c.length, out);
    ASSERT_FALSE(used.has_value()) << c.gpa << "+" << c.length;
    EXPECT_EQ(used.error().code(), ErrorCode::kGuest);
    EXPECT_EQ(out[0].iov_base, nullptr);
    EXPECT_FALSE(memory.contains(c.gpa, c.length));
    if (c.length <= 8) {
      std::array<std::byte, 8> buffer{};
      EXPECT_FALSE(memory.read(c.gpa, std::span(buffer).first(c.length)).has_value());
    }
  }
  auto empty = memory.host_iovecs((4ull << 30) + 2 * kMiB, 0, out);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, 0u);
}

}  // namespace
}  // namespace cvm::vmm
