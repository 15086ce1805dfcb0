// SPDX-License-Identifier: Apache-2.0
// The GuestMemoryView contract (base/guest_memory_view.h), checked for every production
// implementation: BufferGuestMemory (fuzzers, hosted devices) and the machine's GuestMemory.
// Device code relies on exactly these rules: bounds failures copy nothing and say kGuest, and
// aligned 2/4/8-byte accesses are single loads/stores (virtqueues read the driver's ring
// indices once, devices/virtio/virtqueue.cc).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "base/guest_memory_view.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm {
namespace {

constexpr uint64_t kBase = 0x100000;
constexpr std::size_t kSize = 0x10000;

// Each implementation under test with what it needs to stay alive, and a host pointer to the
// guest byte at a gpa (the test plays the guest's part through it).
struct BufferImpl {
  BufferGuestMemory memory{kBase, kSize};
  GuestMemoryView& view() { return memory; }
  std::byte* host(uint64_t gpa) { return memory.bytes().data() + (gpa - kBase); }
};

struct MachineImpl {
  kvm::RecordingSys sys;
  std::optional<kvm::Vm> vm;
  std::unique_ptr<GuestMemory> memory;
  MachineImpl() {
    auto system = kvm::System::open(sys);
    EXPECT_TRUE(system.has_value());
    auto created = system->create_vm(KVM_X86_DEFAULT_VM);
    EXPECT_TRUE(created.has_value());
    vm.emplace(std::move(created).value());
    const RamRange ranges[] = {{kBase, kSize}};
    auto made = GuestMemory::create(*vm, ranges, RamBacking::kAnonymous);
    EXPECT_TRUE(made.has_value()) << made.error().message();
    memory = std::move(made).value();
  }
  GuestMemoryView& view() { return *memory; }
  std::byte* host(uint64_t gpa) {
    return memory->regions()[0].mapping.data() + (gpa - kBase);
  }
};

template <typename Impl>
class GuestMemoryViewContractTest : public ::testing::Test {
 protected:
  Impl impl;
};

using Implementations = ::testing::Types<BufferImpl, MachineImpl>;
TYPED_TEST_SUITE(GuestMemoryViewContractTest, Implementations);

TYPED_TEST(GuestMemoryViewContractTest, WriteThenReadReturnsTheBytes) {
  GuestMemoryView& view = this->impl.view();
  const std::array<std::byte, 5> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4},
                                      std::byte{5}};
  ASSERT_TRUE(view.write(kBase + 0x123, data).has_value());
  std::array<std::byte, 5> out{};
  ASSERT_TRUE(view.read(kBase + 0x123, out).has_value());
  EXPECT_EQ(out, data);
  EXPECT_EQ(*this->impl.host(kBase + 0x127), std::byte{5});
}

TYPED_TEST(GuestMemoryViewContractTest, RangesOutsideMemoryFailWithGuestErrorAndCopyNothing) {
  GuestMemoryView& view = this->impl.view();
  std::array<std::byte, 8> out{};
  out.fill(std::byte{0xaa});
  const uint64_t bad[] = {kBase - 4, kBase + kSize - 4, ~uint64_t{0} - 3, 0};
  for (const uint64_t gpa : bad) {
    auto read = view.read(gpa, out);
    ASSERT_FALSE(read.has_value()) << std::hex << gpa;
    EXPECT_EQ(read.error().code(), ErrorCode::kGuest);
    EXPECT_EQ(out[0], std::byte{0xaa}) << "a failed read copied bytes";
    EXPECT_FALSE(view.write(gpa, out).has_value()) << std::hex << gpa;
    EXPECT_FALSE(view.contains(gpa, out.size())) << std::hex << gpa;
  }
  // The straddling write at the top left the last in-range bytes alone.
  EXPECT_EQ(*this->impl.host(kBase + kSize - 1), std::byte{0});
  EXPECT_TRUE(view.contains(kBase, kSize));
  EXPECT_FALSE(view.contains(kBase, kSize + 1));
}

// host_iovecs() (scatter socket I/O on guest memory) accepts exactly the ranges read() does
// and points at the bytes read() would copy.
TYPED_TEST(GuestMemoryViewContractTest, HostIovecsFailExactlyWhereReadFails) {
  GuestMemoryView& view = this->impl.view();
  std::array<iovec, 4> iov{};
  const uint64_t bad[] = {kBase - 4, kBase + kSize - 4, ~uint64_t{0} - 3, 0};
  for (const uint64_t gpa : bad) {
    auto used = view.host_iovecs(gpa, 8, iov);
    ASSERT_FALSE(used.has_value()) << std::hex << gpa;
    EXPECT_EQ(used.error().code(), ErrorCode::kGuest);
    EXPECT_EQ(iov[0].iov_base, nullptr) << "a failed call filled entries";
  }
  auto used = view.host_iovecs(kBase + 0x40, 0x100, iov);
  ASSERT_TRUE(used.has_value()) << used.error().message();
  ASSERT_EQ(*used, 1u);
  EXPECT_EQ(iov[0].iov_base, this->impl.host(kBase + 0x40));
  EXPECT_EQ(iov[0].iov_len, 0x100u);
}

// A "driver" thread flips a word between two values whose bytes all differ while the device
// side reads it through the view: every read must see one of the two values, never bytes of
// each. A stress check, not a proof (glibc's 2-byte memcpy tears only in a one-instruction
// window: seen twice in ~40 vsock bench runs); it runs until the value changed under the
// reader many times, so the two really overlapped.
template <typename Word>
void expect_aligned_word_never_torn(GuestMemoryView& view, std::byte* host_word, uint64_t gpa) {
  constexpr Word kA = static_cast<Word>(0x00ff00ff00ff00ffull);
  constexpr Word kB = static_cast<Word>(~0x00ff00ff00ff00ffull);
  auto* word = reinterpret_cast<Word*>(host_word);
  __atomic_store_n(word, kA, __ATOMIC_RELAXED);
  std::atomic<bool> stop{false};
  std::thread driver([&] {
    for (uint32_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      __atomic_store_n(word, (i & 1) != 0 ? kA : kB, __ATOMIC_RELAXED);
    }
  });
  uint64_t torn = 0, changes = 0, reads = 0;
  Word last = kA;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (changes < 20'000 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1000; ++i, ++reads) {
      std::array<std::byte, sizeof(Word)> out{};
      if (!view.read(gpa, out).has_value()) {
        ++torn;
        continue;
      }
      Word value{};
      std::memcpy(&value, out.data(), sizeof(Word));
      torn += (value != kA && value != kB) ? 1 : 0;
      changes += value != last ? 1 : 0;
      last = value;
    }
  }
  stop = true;
  driver.join();
  EXPECT_EQ(torn, 0u) << sizeof(Word) << "-byte word, of " << reads << " reads";
  EXPECT_GE(changes, 100u) << "the driver and the reader hardly overlapped; nothing was tested";
}

TYPED_TEST(GuestMemoryViewContractTest, ConcurrentlyWrittenAlignedWordsAreNeverTorn) {
  GuestMemoryView& view = this->impl.view();
  expect_aligned_word_never_torn<uint16_t>(view, this->impl.host(kBase + 0x202), kBase + 0x202);
  expect_aligned_word_never_torn<uint32_t>(view, this->impl.host(kBase + 0x304), kBase + 0x304);
  expect_aligned_word_never_torn<uint64_t>(view, this->impl.host(kBase + 0x408), kBase + 0x408);
}

}  // namespace
}  // namespace cvm::vmm
