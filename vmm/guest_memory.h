// SPDX-License-Identifier: Apache-2.0
// GuestMemory: the guest's RAM. Owns one host mapping (and, for guest_memfd backing, one
// guest_memfd) per RAM range and registers each range as a KVM memory slot. Implements the
// bounds-checked GuestMemoryView that devices use.
//
// Backings:
//   kAnonymous   private anonymous mmap (MAP_NORESERVE), slot via KVM_SET_USER_MEMORY_REGION
//   kHugepages   as above with MAP_HUGETLB (2 MiB pages from the host's hugetlbfs pool)
//   kGuestMemfd  KVM_CREATE_GUEST_MEMFD(MMAP | INIT_SHARED), mmap of that fd, slot via
//                KVM_SET_USER_MEMORY_REGION2 + KVM_MEM_GUEST_MEMFD (tee-kvm-reference §1.3-1.4)
//   kPrivate     confidential VMs (TDX, SEV-SNP): the shared side is anonymous memory (the
//                `mapping`), the private side a guest_memfd created without MMAP/INIT_SHARED
//                (the host cannot read it); slot via KVM_SET_USER_MEMORY_REGION2 +
//                KVM_MEM_GUEST_MEMFD, then KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) over the slot, as
//                QEMU does: guest RAM starts private and vmm/private_memory.h converts ranges.
//                read()/write()/host_span() reach only the shared side.
//
// Ownership order: the host mappings must outlive the memory slots that point at them, and
// vCPUs must stop before memory is torn down. vmm::Machine declares GuestMemory before the
// kvm::Vm and the vCPU threads, so the VM fd (and with it every slot) is closed first.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/guest_memory_view.h"
#include "base/result.h"
#include "vmm/kvm/guest_memfd.h"
#include "vmm/kvm/host_mapping.h"
#include "vmm/kvm/vm.h"

namespace cvm::vmm {

/// One contiguous range of guest RAM (guest-physical).
struct RamRange {
  uint64_t gpa = 0;
  uint64_t size = 0;
};

enum class RamBacking { kAnonymous, kHugepages, kGuestMemfd, kPrivate };

std::string_view to_string(RamBacking backing) noexcept;

/// Page size each backing needs RAM ranges aligned to.
uint64_t backing_alignment(RamBacking backing) noexcept;

/// Checks that `ranges` are non-empty, aligned for `backing`, sorted and non-overlapping.
/// Errors: kInvalidArgument naming the offending range. Pure.
[[nodiscard]] Result<void> validate_ram_ranges(std::span<const RamRange> ranges,
                                               RamBacking backing);

class GuestMemory final : public GuestMemoryView {
 public:
  /// One mapped and registered range. `slot` is its KVM memory slot number. For kPrivate,
  /// `mapping` is the shared side and `guest_memfd` (offset 0 = `gpa`) the private side.
  struct Region {
    uint64_t gpa = 0;
    uint64_t size = 0;
    uint32_t slot = 0;
    kvm::HostMapping mapping;
    std::optional<kvm::GuestMemfd> guest_memfd;
  };

  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  ~GuestMemory() override = default;

  /// Maps every range with `backing` and registers it with `vm` as slot 0, 1, ...
  /// Errors: kInvalidArgument for bad ranges; kNotSupportedByHost when the host has no free
  /// hugepages or no guest_memfd support; kIo/kKvm naming the failing call otherwise. On error
  /// everything mapped so far is unmapped again (slots die with the VM fd).
  [[nodiscard]] static Result<std::unique_ptr<GuestMemory>> create(
      const kvm::Vm& vm, std::span<const RamRange> ranges, RamBacking backing);

  /// Maps and registers one more range with this memory's backing as the next slot (e.g. the
  /// TDVF firmware region of a TD, which lies outside RAM but must be private memory).
  /// Errors: as create(), and kInvalidArgument if `range` overlaps an existing region.
  /// Call before vCPUs run (the region list is not synchronised).
  [[nodiscard]] Result<void> add_region(const kvm::Vm& vm, const RamRange& range);

  /// Adds regions so that every range in `ranges` is backed: the parts not yet inside a
  /// region, widened to 4 KiB pages and merged where adjacent or overlapping, become new
  /// regions (e.g. the firmware volume a launch plan writes below 4 GiB). Errors: add_region().
  [[nodiscard]] Result<void> cover(const kvm::Vm& vm, std::span<const RamRange> ranges);

  [[nodiscard]] Result<void> read(uint64_t gpa, std::span<std::byte> out) const override;
  [[nodiscard]] Result<void> write(uint64_t gpa, std::span<const std::byte> data) override;
  [[nodiscard]] bool contains(uint64_t gpa, uint64_t length) const override;
  /// One iovec per region the range touches: adjacent regions (separate memory slots) are
  /// one guest range, so read()/write()/contains() accept ranges spanning them too.
  [[nodiscard]] Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                                std::span<iovec> out) override;

  /// Host bytes backing [gpa, gpa + size), which must lie inside one region. For the VMM's own
  /// loaders (kernel, boot structures) before vCPUs run; devices use read()/write().
  /// Errors: kInvalidArgument "gpa range [a, b) is not inside one RAM region".
  [[nodiscard]] Result<std::span<std::byte>> host_span(uint64_t gpa, uint64_t size) const;

  std::span<const Region> regions() const noexcept { return regions_; }
  RamBacking backing() const noexcept { return backing_; }
  /// Total RAM bytes.
  uint64_t size() const noexcept;

 private:
  explicit GuestMemory(RamBacking backing) noexcept : backing_(backing) {}
  /// The region holding [gpa, gpa + size) entirely, or nullptr.
  const Region* find(uint64_t gpa, uint64_t size) const noexcept;
  /// True when regions back [gpa, gpa + length) end to end (no hole, no wrap); for length 0
  /// when gpa lies inside or at the end of a region (what find(gpa, 0) accepted).
  bool covered(uint64_t gpa, uint64_t length) const noexcept;
  /// When covered(gpa, length): calls visit(host bytes, offset into the range) for each
  /// region's piece, in guest-address order, until visit returns false, and returns true.
  /// Otherwise returns false without calling visit. A range inside one region (every ring
  /// word, nearly every buffer) costs one region lookup.
  template <typename Visit>
  bool for_each_piece(uint64_t gpa, uint64_t length, Visit&& visit) const;
  /// Maps `region` (gpa/size/slot set) with backing_ and registers its slot.
  [[nodiscard]] Result<void> map_region(const kvm::Vm& vm, Region& region) const;

  RamBacking backing_;
  std::vector<Region> regions_;
};

}  // namespace cvm::vmm
