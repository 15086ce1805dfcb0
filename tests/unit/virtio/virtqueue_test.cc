// SPDX-License-Identifier: Apache-2.0
// Split virtqueue walking, including hostile chains (virtio 1.2 §2.7).
#include "devices/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include "tests/unit/virtio/virtq_driver.h"

namespace cvm::devices::virtio {
namespace {

using testing::kDataGpa;
using testing::kDescTableGpa;
using testing::VirtqDriver;

constexpr uint64_t kMemSize = 1 << 20;

class VirtqueueTest : public ::testing::Test {
 protected:
  SplitVirtqueue make_queue(QueueFeatures features = {.event_idx = true, .indirect_desc = true}) {
    auto q = SplitVirtqueue::create(driver.layout(), 256, features, memory);
    EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message());
    return std::move(q).value();
  }
  // Pops and expects a kGuest error whose message contains `text`.
  void expect_pop_error(SplitVirtqueue& q, std::string_view text) {
    auto popped = q.pop();
    ASSERT_FALSE(popped.has_value());
    EXPECT_EQ(popped.error().code(), ErrorCode::kGuest);
    EXPECT_NE(popped.error().message().find(text), std::string::npos)
        << popped.error().message();
  }

  BufferGuestMemory memory{0, kMemSize};
  VirtqDriver driver{memory, 16};
};

TEST_F(VirtqueueTest, CreateRejectsSizeThatIsNotAPowerOfTwo) {
  QueueLayout layout = driver.layout();
  layout.size = 12;
  auto q = SplitVirtqueue::create(layout, 256, {}, memory);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().message(), "queue size 12 is not a power of two in [1, 256]");
}

TEST_F(VirtqueueTest, CreateRejectsSizeAboveMaximum) {
  QueueLayout layout = driver.layout();
  layout.size = 512;
  EXPECT_FALSE(SplitVirtqueue::create(layout, 256, {}, memory).has_value());
  layout.size = 0;
  EXPECT_FALSE(SplitVirtqueue::create(layout, 256, {}, memory).has_value());
}

TEST_F(VirtqueueTest, CreateRejectsMisalignedOrOutOfMemoryRings) {
  QueueLayout layout = driver.layout();
  layout.desc_table = kDescTableGpa + 8;
  EXPECT_FALSE(SplitVirtqueue::create(layout, 256, {}, memory).has_value());
  layout = driver.layout();
  layout.used_ring = kMemSize - 8;
  auto q = SplitVirtqueue::create(layout, 256, {}, memory);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().message(), "used ring 0xffff8+0x86 is outside guest memory");
}

TEST_F(VirtqueueTest, PopOnEmptyRingReturnsNothing) {
  SplitVirtqueue q = make_queue();
  auto popped = q.pop();
  ASSERT_TRUE(popped.has_value());
  EXPECT_FALSE(popped->has_value());
}

TEST_F(VirtqueueTest, PopSplitsReadableAndWritableBuffers) {
  SplitVirtqueue q = make_queue();
  const uint16_t head = driver.add_chain(
      {{kDataGpa, 16, false}, {kDataGpa + 0x100, 512, false}, {kDataGpa + 0x400, 1, true}});
  auto popped = q.pop();
  ASSERT_TRUE(popped.has_value() && popped->has_value());
  const DescriptorChain& chain = **popped;
  EXPECT_EQ(chain.head, head);
  ASSERT_EQ(chain.readable.size(), 2u);
  EXPECT_EQ(chain.readable[1].addr, kDataGpa + 0x100);
  EXPECT_EQ(chain.readable[1].len, 512u);
  EXPECT_EQ(chain.readable_bytes, 528u);
  ASSERT_EQ(chain.writable.size(), 1u);
  EXPECT_EQ(chain.writable[0].addr, kDataGpa + 0x400);
  EXPECT_EQ(chain.writable_bytes, 1u);
  EXPECT_EQ(q.next_avail(), 1);
}

TEST_F(VirtqueueTest, PopFollowsIndirectTable) {
  SplitVirtqueue q = make_queue();
  const uint64_t table = 0x30000;
  driver.set_desc(0, kDataGpa, 16, desc_flags::kNext, 1, table);
  driver.set_desc(1, kDataGpa + 0x200, 8, desc_flags::kWrite, 0, table);
  driver.set_desc(0, table, 32, desc_flags::kIndirect, 0);
  driver.publish(0);
  auto popped = q.pop();
  ASSERT_TRUE(popped.has_value() && popped->has_value()) << popped.error().message();
  EXPECT_EQ((*popped)->readable_bytes, 16u);
  EXPECT_EQ((*popped)->writable_bytes, 8u);
  EXPECT_EQ((*popped)->writable[0].addr, kDataGpa + 0x200);
}

TEST_F(VirtqueueTest, DescriptorLoopIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.set_desc(0, kDataGpa, 16, desc_flags::kNext, 1);
  driver.set_desc(1, kDataGpa, 16, desc_flags::kNext, 0);
  driver.publish(0);
  expect_pop_error(q, "loops");
}

TEST_F(VirtqueueTest, SelfLoopIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.set_desc(3, kDataGpa, 16, desc_flags::kNext, 3);
  driver.publish(3);
  expect_pop_error(q, "loops");
}

TEST_F(VirtqueueTest, IndirectLoopIsAnError) {
  SplitVirtqueue q = make_queue();
  const uint64_t table = 0x30000;
  driver.set_desc(0, kDataGpa, 16, desc_flags::kNext, 1, table);
  driver.set_desc(1, kDataGpa, 16, desc_flags::kNext, 0, table);
  driver.set_desc(0, table, 32, desc_flags::kIndirect, 0);
  driver.publish(0);
  expect_pop_error(q, "loops");
}

TEST_F(VirtqueueTest, NestedIndirectIsAnError) {
  SplitVirtqueue q = make_queue();
  const uint64_t table = 0x30000;
  driver.set_desc(0, table, 16, desc_flags::kIndirect, 0, table);
  driver.set_desc(0, table, 16, desc_flags::kIndirect, 0);
  driver.publish(0);
  expect_pop_error(q, "indirect descriptor not allowed");
}

TEST_F(VirtqueueTest, IndirectWithoutNegotiatedFeatureIsAnError) {
  SplitVirtqueue q = make_queue({.event_idx = false, .indirect_desc = false});
  driver.set_desc(0, 0x30000, 16, desc_flags::kIndirect, 0);
  driver.publish(0);
  expect_pop_error(q, "indirect descriptor not allowed");
}

TEST_F(VirtqueueTest, IndirectTableWithBadLengthIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.set_desc(0, 0x30000, 24, desc_flags::kIndirect, 0);
  driver.publish(0);
  expect_pop_error(q, "indirect table length 0x18 is invalid");
}

TEST_F(VirtqueueTest, BufferOutsideGuestMemoryIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.add_chain({{kMemSize - 8, 16, false}});
  expect_pop_error(q, "buffer 0xffff8+0x10 is outside guest memory");
}

TEST_F(VirtqueueTest, BufferWrappingAddressSpaceIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.add_chain({{~uint64_t{0} - 0xfff, 0x2000, false}});
  expect_pop_error(q, "outside guest memory");
}

TEST_F(VirtqueueTest, ReadableAfterWritableIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.add_chain({{kDataGpa, 1, true}, {kDataGpa + 16, 16, false}});
  expect_pop_error(q, "device-readable buffer after a device-writable one");
}

TEST_F(VirtqueueTest, NextIndexOutsideTableIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.set_desc(0, kDataGpa, 16, desc_flags::kNext, 16);
  driver.publish(0);
  expect_pop_error(q, "next descriptor 16 is outside a table of 16");
}

TEST_F(VirtqueueTest, HeadIndexOutsideQueueIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.publish(40);
  expect_pop_error(q, "chain head 40 is outside a queue of 16");
}

TEST_F(VirtqueueTest, AvailIndexTooFarAheadIsAnError) {
  SplitVirtqueue q = make_queue();
  driver.set_avail_idx(17);
  expect_pop_error(q, "avail idx 17 is 17 entries ahead of a queue of 16");
}

// Pretends to map 1 TiB (reads of unbacked bytes return zero) so chains can reach 4 GiB.
class HugeMemory final : public GuestMemoryView {
 public:
  explicit HugeMemory(BufferGuestMemory& low) : low_(low) {}
  Result<void> read(uint64_t gpa, std::span<std::byte> out) const override {
    if (low_.contains(gpa, out.size())) {
      return low_.read(gpa, out);
    }
    std::fill(out.begin(), out.end(), std::byte{0});
    return ok();
  }
  Result<void> write(uint64_t gpa, std::span<const std::byte> data) override {
    return low_.write(gpa, data);
  }
  bool contains(uint64_t gpa, uint64_t length) const override {
    return range_within<uint64_t>(gpa, length, uint64_t{1} << 40);
  }
  // Only the low memory is real (as for write()).
  Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                  std::span<iovec> out) override {
    return low_.host_iovecs(gpa, length, out);
  }

 private:
  BufferGuestMemory& low_;
};

TEST_F(VirtqueueTest, ChainLengthOverflowingThirtyTwoBitsIsAnError) {
  HugeMemory huge(memory);
  auto q = SplitVirtqueue::create(driver.layout(), 256, {}, huge);
  ASSERT_TRUE(q.has_value());
  driver.add_chain({{0x100000000, 0xffffffff, false}, {0x200000000, 2, false}});
  auto popped = q->pop();
  ASSERT_FALSE(popped.has_value());
  EXPECT_EQ(popped.error().message(), "descriptor chain length overflows 32 bits");
}

TEST_F(VirtqueueTest, AddUsedWritesElementThenIndex) {
  SplitVirtqueue q = make_queue();
  const uint16_t head = driver.add_chain({{kDataGpa, 1, true}});
  ASSERT_TRUE(q.pop().has_value());
  ASSERT_TRUE(q.add_used(head, 77).has_value());
  EXPECT_EQ(driver.used_idx(), 1);
  EXPECT_EQ(driver.used_elem(0), std::make_pair(uint32_t{head}, uint32_t{77}));
}

TEST_F(VirtqueueTest, EventIdxNotifiesOnlyWhenUsedEventIsCrossed) {
  SplitVirtqueue q = make_queue();
  driver.set_used_event(2);  // the driver wants an interrupt once used idx passes 2
  for (uint16_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(q.add_used(i, 0).has_value());
    auto notify = q.needs_notification();
    ASSERT_TRUE(notify.has_value());
    EXPECT_FALSE(*notify) << "used idx " << i + 1;
  }
  ASSERT_TRUE(q.add_used(2, 0).has_value());
  EXPECT_TRUE(*q.needs_notification());
  ASSERT_TRUE(q.add_used(3, 0).has_value());
  EXPECT_FALSE(*q.needs_notification());
}

TEST_F(VirtqueueTest, WithoutEventIdxTheNoInterruptFlagSuppresses) {
  SplitVirtqueue q = make_queue({.event_idx = false, .indirect_desc = false});
  driver.set_avail_flags(kAvailFlagNoInterrupt);
  ASSERT_TRUE(q.add_used(0, 0).has_value());
  EXPECT_FALSE(*q.needs_notification());
  driver.set_avail_flags(0);
  ASSERT_TRUE(q.add_used(1, 0).has_value());
  EXPECT_TRUE(*q.needs_notification());
  EXPECT_FALSE(*q.needs_notification()) << "nothing new was used";
}

TEST_F(VirtqueueTest, EnableNotificationPublishesAvailEventAndSeesPendingBuffers) {
  SplitVirtqueue q = make_queue();
  driver.add_chain({{kDataGpa, 1, true}});
  driver.add_chain({{kDataGpa, 1, true}});
  ASSERT_TRUE(q.pop().has_value());
  auto pending = q.enable_notification_and_check_pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE(*pending);
  EXPECT_EQ(driver.avail_event(), 1);
  ASSERT_TRUE(q.pop().has_value());
  EXPECT_FALSE(*q.enable_notification_and_check_pending());
  EXPECT_EQ(driver.avail_event(), 2);
}

TEST(VringNeedEventTest, MatchesSpecFormulaAcrossWraparound) {
  EXPECT_TRUE(vring_need_event(0, 1, 0));
  EXPECT_FALSE(vring_need_event(1, 1, 0));
  EXPECT_TRUE(vring_need_event(0xffff, 0, 0xfffe));
  EXPECT_FALSE(vring_need_event(5, 3, 1));
}

TEST(BufferCopyTest, ReadAndWriteSpanSegments) {
  BufferGuestMemory memory(0, 0x1000);
  const std::vector<GuestBuffer> buffers{{0x100, 3}, {0x200, 5}};
  const std::array<std::byte, 6> data{std::byte{1}, std::byte{2}, std::byte{3},
                                      std::byte{4}, std::byte{5}, std::byte{6}};
  ASSERT_TRUE(write_to_buffers(memory, buffers, 1, data).has_value());
  EXPECT_EQ(memory.bytes()[0x101], std::byte{1});
  EXPECT_EQ(memory.bytes()[0x102], std::byte{2});
  EXPECT_EQ(memory.bytes()[0x200], std::byte{3});
  EXPECT_EQ(memory.bytes()[0x203], std::byte{6});
  std::array<std::byte, 4> out{};
  ASSERT_TRUE(read_from_buffers(memory, buffers, 2, out).has_value());
  EXPECT_EQ(out[0], std::byte{2});
  EXPECT_EQ(out[3], std::byte{5});
  auto too_long = write_to_buffers(memory, buffers, 4, data);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().message(), "descriptor buffers are 0x2 bytes too short");
}

}  // namespace
}  // namespace cvm::devices::virtio
