// SPDX-License-Identifier: Apache-2.0
// Private guest memory (RamBacking::kPrivate) and conversions, checked call by call against
// RecordingSys: the ioctl sequence and argument bytes of tee-kvm-reference §1.3-§1.7, and what
// hostile MapGPA arguments do (an error in hypercall.ret, no conversion, no crash).
#include "vmm/private_memory.h"

#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kHighRam = 4ull << 30;

struct Fixture {
  kvm::RecordingSys sys;
  std::optional<kvm::System> system;
  std::optional<kvm::Vm> vm;

  explicit Fixture(bool private_capable = true) {
    sys.set_extension(KVM_CAP_VM_TYPES,
                      (1 << KVM_X86_DEFAULT_VM) | (1 << KVM_X86_SNP_VM) | (1 << KVM_X86_TDX_VM));
    if (private_capable) {
      sys.set_extension(KVM_CAP_GUEST_MEMFD, 1);
      sys.set_extension(KVM_CAP_USER_MEMORY2, 1);
      sys.set_extension(KVM_CAP_MEMORY_ATTRIBUTES, KVM_MEMORY_ATTRIBUTE_PRIVATE);
      sys.set_extension(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE);
    }
    auto opened = kvm::System::open(sys);
    EXPECT_TRUE(opened.has_value());
    system.emplace(std::move(opened).value());
    auto created = system->create_vm(KVM_X86_TDX_VM);
    EXPECT_TRUE(created.has_value());
    vm.emplace(std::move(created).value());
  }

  std::unique_ptr<GuestMemory> private_memory() {
    const RamRange ranges[] = {{0, 8 * kMiB}, {kHighRam, 2 * kMiB}};
    auto memory = GuestMemory::create(*vm, ranges, RamBacking::kPrivate);
    EXPECT_TRUE(memory.has_value()) << memory.error().message();
    return memory ? std::move(memory).value() : nullptr;
  }

  /// Names of the calls after the first `skip`, as "name@role".
  std::vector<std::string> calls_since(std::size_t skip) const {
    std::vector<std::string> out;
    const auto calls = sys.calls();
    for (std::size_t i = skip; i < calls.size(); ++i) {
      if (calls[i].name == "KVM_CHECK_EXTENSION") {
        continue;
      }
      out.push_back(calls[i].name + "@" + calls[i].fd_role);
    }
    return out;
  }
};

std::vector<uint64_t> u64s(const kvm::RecordedCall& call) {
  std::vector<uint64_t> out(call.arg_bytes.size() / 8);
  std::memcpy(out.data(), call.arg_bytes.data(), out.size() * 8);
  return out;
}

TEST(PrivateMemoryTest, SetupIsGmemRegion2ThenPrivateAttributesPerSlot) {
  Fixture f;
  const std::size_t before = f.sys.calls().size();
  auto memory = f.private_memory();
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(f.calls_since(before),
            (std::vector<std::string>{
                "mmap@fd -1", "KVM_CREATE_GUEST_MEMFD@vm", "KVM_SET_USER_MEMORY_REGION2@vm",
                "KVM_SET_MEMORY_ATTRIBUTES@vm", "mmap@fd -1", "KVM_CREATE_GUEST_MEMFD@vm",
                "KVM_SET_USER_MEMORY_REGION2@vm", "KVM_SET_MEMORY_ATTRIBUTES@vm"}));

  const auto gmems = f.sys.calls_named("KVM_CREATE_GUEST_MEMFD");
  ASSERT_EQ(gmems.size(), 2u);
  const auto gmem0 = gmems[0].arg_as<kvm_create_guest_memfd>();
  EXPECT_EQ(gmems[0].arg_bytes.size(), 64u);
  EXPECT_EQ(gmem0.size, 8 * kMiB);
  EXPECT_EQ(gmem0.flags, 0u) << "private memory must not be host-mappable (§1.3)";
  for (const uint64_t reserved : gmem0.reserved) {
    EXPECT_EQ(reserved, 0u);
  }
  EXPECT_EQ(gmems[1].arg_as<kvm_create_guest_memfd>().size, 2 * kMiB);

  const auto slots = f.sys.calls_named("KVM_SET_USER_MEMORY_REGION2");
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0].arg_bytes.size(), 160u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto slot = slots[i].arg_as<kvm_userspace_memory_region2>();
    const auto& region = memory->regions()[i];
    EXPECT_EQ(slot.slot, i);
    EXPECT_EQ(slot.flags, KVM_MEM_GUEST_MEMFD);
    EXPECT_EQ(slot.guest_phys_addr, region.gpa);
    EXPECT_EQ(slot.memory_size, region.size);
    EXPECT_EQ(slot.userspace_addr, reinterpret_cast<uint64_t>(region.mapping.data()));
    EXPECT_EQ(slot.guest_memfd_offset, 0u);
    ASSERT_TRUE(region.guest_memfd.has_value());
    EXPECT_EQ(slot.guest_memfd, static_cast<uint32_t>(region.guest_memfd->fd()));
    EXPECT_EQ(f.sys.role_of(region.guest_memfd->fd()), "gmem" + std::to_string(i));
    EXPECT_EQ(slot.pad1, 0u);
    for (const uint64_t pad : slot.pad2) {
      EXPECT_EQ(pad, 0u);
    }
  }
  const auto attributes = f.sys.calls_named("KVM_SET_MEMORY_ATTRIBUTES");
  ASSERT_EQ(attributes.size(), 2u);
  const auto high = attributes[1].arg_as<kvm_memory_attributes>();
  EXPECT_EQ(high.address, kHighRam);
  EXPECT_EQ(high.size, 2 * kMiB);
  EXPECT_EQ(high.attributes, KVM_MEMORY_ATTRIBUTE_PRIVATE);
  EXPECT_EQ(high.flags, 0u);
  EXPECT_EQ(memory->backing(), RamBacking::kPrivate);
  EXPECT_EQ(to_string(RamBacking::kPrivate), "private");
}

TEST(PrivateMemoryTest, HostWithoutPrivateAttributeIsRefusedBeforeAnyMapping) {
  Fixture f(false);
  f.sys.set_extension(KVM_CAP_GUEST_MEMFD, 1);
  f.sys.set_extension(KVM_CAP_USER_MEMORY2, 1);
  const RamRange ranges[] = {{0, 2 * kMiB}};
  auto memory = GuestMemory::create(*f.vm, ranges, RamBacking::kPrivate);
  ASSERT_FALSE(memory.has_value());
  EXPECT_EQ(memory.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_NE(memory.error().message().find("KVM_CAP_MEMORY_ATTRIBUTES"), std::string::npos);
  EXPECT_TRUE(f.sys.calls_named("mmap").empty());
  EXPECT_TRUE(f.sys.calls_named("KVM_CREATE_GUEST_MEMFD").empty());
}

TEST(PrivateMemoryTest, AddRegionTakesNextSlotAndRefusesOverlap) {
  Fixture f;
  auto memory = f.private_memory();
  ASSERT_NE(memory, nullptr);
  ASSERT_TRUE(memory->add_region(*f.vm, {0xffc00000, 4 * kMiB}).has_value());
  const auto slot = f.sys.calls_named("KVM_SET_USER_MEMORY_REGION2")
                        .back()
                        .arg_as<kvm_userspace_memory_region2>();
  EXPECT_EQ(slot.slot, 2u);
  EXPECT_EQ(slot.guest_phys_addr, 0xffc00000u);
  auto overlap = memory->add_region(*f.vm, {0x7ff000, 0x2000});
  ASSERT_FALSE(overlap.has_value());
  EXPECT_EQ(overlap.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(memory->regions().size(), 3u);
}

TEST(PrivateMemoryTest, ToSharedSetsAttributeZeroThenPunchesGuestMemfd) {
  Fixture f;
  auto memory = f.private_memory();
  ASSERT_NE(memory, nullptr);
  const std::size_t before = f.sys.calls().size();
  ASSERT_TRUE(convert_guest_memory(*f.vm, *memory, 0x200000, 0x3000, false).has_value());
  EXPECT_EQ(f.calls_since(before),
            (std::vector<std::string>{"KVM_SET_MEMORY_ATTRIBUTES@vm", "fallocate@gmem0"}));
  const auto attrs = f.sys.calls().at(before).arg_as<kvm_memory_attributes>();
  EXPECT_EQ(attrs.address, 0x200000u);
  EXPECT_EQ(attrs.size, 0x3000u);
  EXPECT_EQ(attrs.attributes, 0u);
  EXPECT_EQ(attrs.flags, 0u);
  EXPECT_EQ(u64s(f.sys.calls_named("fallocate").at(0)),
            (std::vector<uint64_t>{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x200000, 0x3000}));
}

TEST(PrivateMemoryTest, ToPrivateSetsAttributeThenDropsSharedPages) {
  Fixture f;
  auto memory = f.private_memory();
  ASSERT_NE(memory, nullptr);
  const auto& high = memory->regions()[1];
  std::memset(high.mapping.data() + 0x1000, 0xab, 0x1000);  // stale shared data
  const std::size_t before = f.sys.calls().size();
  ASSERT_TRUE(convert_guest_memory(*f.vm, *memory, kHighRam + 0x1000, 0x1000, true).has_value());
  EXPECT_EQ(f.calls_since(before),
            (std::vector<std::string>{"KVM_SET_MEMORY_ATTRIBUTES@vm", "madvise@"}));
  const auto attrs = f.sys.calls().at(before).arg_as<kvm_memory_attributes>();
  EXPECT_EQ(attrs.address, kHighRam + 0x1000);
  EXPECT_EQ(attrs.attributes, KVM_MEMORY_ATTRIBUTE_PRIVATE);
  EXPECT_EQ(u64s(f.sys.calls_named("madvise").at(0)),
            (std::vector<uint64_t>{reinterpret_cast<uint64_t>(high.mapping.data() + 0x1000), 0x1000,
                                   MADV_DONTNEED}));
  EXPECT_EQ(high.mapping.data()[0x1000], std::byte{0}) << "shared side must read as zero";
}

TEST(PrivateMemoryTest, RangeSpanningTwoAdjacentRegionsIsOneAttributeCallTwoDiscards) {
  Fixture f;
  const RamRange ranges[] = {{0, 2 * kMiB}, {2 * kMiB, 2 * kMiB}};
  auto memory = GuestMemory::create(*f.vm, ranges, RamBacking::kPrivate);
  ASSERT_TRUE(memory.has_value());
  const std::size_t before = f.sys.calls().size();
  ASSERT_TRUE(convert_guest_memory(*f.vm, **memory, 2 * kMiB - 0x1000, 0x2000, false));
  EXPECT_EQ(f.calls_since(before),
            (std::vector<std::string>{"KVM_SET_MEMORY_ATTRIBUTES@vm", "fallocate@gmem0",
                                      "fallocate@gmem1"}));
  const auto punches = f.sys.calls_named("fallocate");
  EXPECT_EQ(u64s(punches[0])[1], 2 * kMiB - 0x1000);
  EXPECT_EQ(u64s(punches[1])[1], 0u);
  EXPECT_EQ(u64s(punches[1])[2], 0x1000u);
}

TEST(PrivateMemoryTest, BadRangesAreRefusedWithoutAnyCall) {
  Fixture f;
  auto memory = f.private_memory();
  ASSERT_NE(memory, nullptr);
  const std::size_t before = f.sys.calls().size();
  struct Case {
    uint64_t gpa, size;
  };
  const Case cases[] = {
      {0x1000, 0},                     // empty
      {0x1001, 0x1000},                // unaligned gpa
      {0x1000, 0x1800},                // unaligned size
      {8 * kMiB - 0x1000, 0x2000},     // runs past RAM into the hole
      {0xc0000000, 0x1000},            // MMIO hole
      {~uint64_t{0} - 0xfff, 0x2000},  // wraps
  };
  for (const Case& c : cases) {
    auto result = convert_guest_memory(*f.vm, *memory, c.gpa, c.size, false);
    ASSERT_FALSE(result.has_value()) << std::hex << c.gpa << "+" << c.size;
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(f.calls_since(before), std::vector<std::string>{});
}

TEST(PrivateMemoryTest, NonPrivateBackingIsRefused) {
  Fixture f;
  const RamRange ranges[] = {{0, 2 * kMiB}};
  auto memory = GuestMemory::create(*f.vm, ranges, RamBacking::kAnonymous);
  ASSERT_TRUE(memory.has_value());
  auto result = convert_guest_memory(*f.vm, **memory, 0, 0x1000, true);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("not private-capable"), std::string::npos);
}

TEST(PrivateMemoryTest, EnableMapGpaExitChecksTheBitAndEnablesIt) {
  Fixture f;
  ASSERT_TRUE(enable_map_gpa_range_exit(*f.vm).has_value());
  const auto enables = f.sys.calls_named("KVM_ENABLE_CAP");
  ASSERT_EQ(enables.size(), 1u);
  const auto cap = enables[0].arg_as<kvm_enable_cap>();
  EXPECT_EQ(cap.cap, static_cast<uint32_t>(KVM_CAP_EXIT_HYPERCALL));
  EXPECT_EQ(cap.args[0], 1u << 12);
  EXPECT_EQ(cap.args[1], 0u);
  EXPECT_EQ(cap.flags, 0u);

  Fixture without(false);
  auto refused = enable_map_gpa_range_exit(*without.vm);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_TRUE(without.sys.calls_named("KVM_ENABLE_CAP").empty());
}

// ---- MemoryConversionHandler -------------------------------------------------------------

struct HandlerFixture : Fixture {
  std::unique_ptr<GuestMemory> memory = private_memory();
  kvm::Vcpu vcpu = make_vcpu();
  MemoryConversionHandler handler;

  kvm::Vcpu make_vcpu() {
    auto created = vm->create_vcpu(0);
    EXPECT_TRUE(created.has_value());
    return std::move(created).value();
  }
  HandlerFixture() { handler.attach(*vm, *memory); }

  /// Runs a MapGPA exit through the handler; returns hypercall.ret.
  uint64_t map_gpa(uint64_t gpa, uint64_t npages, uint64_t attributes) {
    vcpu.run_data().hypercall.ret = 0xdead;
    HypercallExit call{KVM_HC_MAP_GPA_RANGE, {gpa, npages, attributes, 0, 0, 0}};
    auto policy = handler.handle(vcpu, call);
    EXPECT_TRUE(policy.has_value());
    EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
    return vcpu.run_data().hypercall.ret;
  }
};

TEST(MemoryConversionHandlerTest, MapGpaToSharedConvertsAndReturnsZero) {
  HandlerFixture f;
  const std::size_t before = f.sys.calls().size();
  EXPECT_EQ(f.map_gpa(0x100000, 16, 0), 0u);
  EXPECT_EQ(f.calls_since(before),
            (std::vector<std::string>{"KVM_SET_MEMORY_ATTRIBUTES@vm", "fallocate@gmem0"}));
  const auto attrs = f.sys.calls().at(before).arg_as<kvm_memory_attributes>();
  EXPECT_EQ(attrs.address, 0x100000u);
  EXPECT_EQ(attrs.size, 16u * 4096);
  EXPECT_EQ(attrs.attributes, 0u);
}

TEST(MemoryConversionHandlerTest, MapGpaEncryptedConvertsToPrivate) {
  HandlerFixture f;
  const std::size_t before = f.sys.calls().size();
  EXPECT_EQ(f.map_gpa(kHighRam, 512, KVM_MAP_GPA_RANGE_ENCRYPTED | 1 /* 2M hint */), 0u);
  const auto attrs = f.sys.calls().at(before).arg_as<kvm_memory_attributes>();
  EXPECT_EQ(attrs.address, kHighRam);
  EXPECT_EQ(attrs.size, 2 * kMiB);
  EXPECT_EQ(attrs.attributes, KVM_MEMORY_ATTRIBUTE_PRIVATE);
  EXPECT_EQ(f.sys.calls_named("madvise").size(), 1u);
}

TEST(MemoryConversionHandlerTest, HostileMapGpaGetsEinvalAndChangesNothing) {
  HandlerFixture f;
  const std::size_t before = f.sys.calls().size();
  EXPECT_EQ(f.map_gpa(0x1000, 0, 0), static_cast<uint64_t>(EINVAL));                  // no pages
  EXPECT_EQ(f.map_gpa(0x1234, 1, 0), static_cast<uint64_t>(EINVAL));                  // unaligned
  EXPECT_EQ(f.map_gpa(0x1000, ~uint64_t{0} >> 4, 0), static_cast<uint64_t>(EINVAL));  // wraps
  EXPECT_EQ(f.map_gpa(~uint64_t{0} - 0xfff, 2, 0), static_cast<uint64_t>(EINVAL));    // wraps
  EXPECT_EQ(f.map_gpa(0x1000, 1, 1ull << 5), static_cast<uint64_t>(EINVAL));          // unknown bit
  EXPECT_EQ(f.map_gpa(0x1000, 1, 3), static_cast<uint64_t>(EINVAL));                  // page size 3
  EXPECT_EQ(f.map_gpa(0xfee00000, 1, 0), static_cast<uint64_t>(EINVAL));         // LAPIC, no RAM
  EXPECT_EQ(f.map_gpa(8 * kMiB - 0x1000, 2, 0), static_cast<uint64_t>(EINVAL));  // past RAM end
  EXPECT_EQ(f.calls_since(before), std::vector<std::string>{});
}

TEST(MemoryConversionHandlerTest, KvmFailureIsReportedToTheGuestAsItsErrno) {
  HandlerFixture f;
  f.sys.fail_next(KVM_SET_MEMORY_ATTRIBUTES, ENOMEM);
  EXPECT_EQ(f.map_gpa(0x1000, 1, 0), static_cast<uint64_t>(ENOMEM));
}

TEST(MemoryConversionHandlerTest, MemoryFaultConvertsToTheAccessKind) {
  HandlerFixture f;
  const std::size_t before = f.sys.calls().size();
  auto shared = f.handler.handle(f.vcpu, MemoryFaultExitInfo{0, 0x5000, 0x1000});
  ASSERT_TRUE(shared.has_value());
  EXPECT_EQ(shared->verdict, ExitVerdict::kContinue);
  auto priv =
      f.handler.handle(f.vcpu, MemoryFaultExitInfo{KVM_MEMORY_EXIT_FLAG_PRIVATE, 0x5000, 0x1000});
  ASSERT_TRUE(priv.has_value());
  EXPECT_EQ(priv->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(f.calls_since(before),
            (std::vector<std::string>{"KVM_SET_MEMORY_ATTRIBUTES@vm", "fallocate@gmem0",
                                      "KVM_SET_MEMORY_ATTRIBUTES@vm", "madvise@"}));
  const auto calls = f.sys.calls();
  EXPECT_EQ(calls.at(before).arg_as<kvm_memory_attributes>().attributes, 0u);
  EXPECT_EQ(calls.at(before + 2).arg_as<kvm_memory_attributes>().attributes,
            KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

TEST(MemoryConversionHandlerTest, MemoryFaultOutsideRamFailsTheVmWithTheRange) {
  HandlerFixture f;
  auto policy = f.handler.handle(f.vcpu, MemoryFaultExitInfo{0, 0xfeb00000, 0x1000});
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->verdict, ExitVerdict::kFailVm);
  EXPECT_NE(policy->reason.find("[0xfeb00000, 0xfeb01000)"), std::string::npos) << policy->reason;
}

TEST(MemoryConversionHandlerTest, OtherExitsAndHypercallsPassThrough) {
  HandlerFixture f;
  EXPECT_FALSE(f.handler.handle(f.vcpu, HltExit{}).has_value());
  EXPECT_FALSE(f.handler.handle(f.vcpu, HypercallExit{KVM_HC_MAP_GPA_RANGE + 1, {}}).has_value());
}

TEST(MemoryConversionHandlerTest, ExitBeforeAttachFailsSafely) {
  Fixture f;
  auto vcpu = f.vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value());
  MemoryConversionHandler handler;
  auto fault = handler.handle(*vcpu, MemoryFaultExitInfo{0, 0, 0x1000});
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->verdict, ExitVerdict::kFailVm);
  HypercallExit call{KVM_HC_MAP_GPA_RANGE, {0, 1, 0, 0, 0, 0}};
  auto map = handler.handle(*vcpu, call);
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(vcpu->run_data().hypercall.ret, static_cast<uint64_t>(EINVAL));
}

}  // namespace
}  // namespace cvm::vmm
