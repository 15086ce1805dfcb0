// SPDX-License-Identifier: Apache-2.0
#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/checked.h"
#include "base/guest_copy.h"
#include "vmm/kvm/uapi.h"

namespace cvm::vmm {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kHugePage = 2 << 20;

Result<kvm::HostMapping> map_anonymous(const kvm::Vm& vm, const RamRange& range, bool huge) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (huge ? MAP_HUGETLB : 0);
  auto mapping = kvm::HostMapping::map(vm.sys(), range.size, PROT_READ | PROT_WRITE, flags, -1, 0,
                                       fmt::format("guest RAM at {:#x}", range.gpa));
  if (!mapping && huge && mapping.error().sys_errno() == ENOMEM) {
    return Error(ErrorCode::kNotSupportedByHost,
                 fmt::format("no free 2 MiB hugepages for {} MiB of guest RAM at {:#x}: reserve "
                             "them in /proc/sys/vm/nr_hugepages",
                             range.size >> 20, range.gpa),
                 ENOMEM);
  }
  return mapping;
}

Result<void> register_slot_v1(const kvm::Vm& vm, const GuestMemory::Region& region) {
  kvm_userspace_memory_region slot{};
  slot.slot = region.slot;
  slot.guest_phys_addr = region.gpa;
  slot.memory_size = region.size;
  slot.userspace_addr = reinterpret_cast<uint64_t>(region.mapping.data());
  return vm.set_user_memory_region(slot);
}

Result<void> check_guest_memfd_support(const kvm::Vm& vm) {
  CVM_ASSIGN_OR_RETURN(const long gmem, vm.check_extension(KVM_CAP_GUEST_MEMFD));
  CVM_ASSIGN_OR_RETURN(const long region2, vm.check_extension(KVM_CAP_USER_MEMORY2));
  if (gmem <= 0 || region2 <= 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "guest_memfd-backed RAM needs KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2 "
                      "(Linux 6.8+); this host reports {} and {}",
                      gmem, region2);
  }
  return ok();
}

/// guest_memfd(MMAP | INIT_SHARED) + mmap + KVM_SET_USER_MEMORY_REGION2 for one region.
Result<void> map_guest_memfd(const kvm::Vm& vm, GuestMemory::Region& region) {
  constexpr uint64_t kFlags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
  auto gmem = vm.create_guest_memfd(region.size, kFlags);
  if (!gmem) {
    Error error = std::move(gmem).error();
    if (error.sys_errno() == EINVAL) {
      error.context("host-mappable guest_memfd needs GUEST_MEMFD_FLAG_MMAP|INIT_SHARED (Linux "
                    "6.18+)");
    }
    return error;
  }
  CVM_ASSIGN_OR_RETURN(region.mapping,
                       kvm::HostMapping::map(vm.sys(), region.size, PROT_READ | PROT_WRITE,
                                             MAP_SHARED, gmem->fd(), 0,
                                             fmt::format("guest_memfd RAM at {:#x}", region.gpa)));
  kvm_userspace_memory_region2 slot{};
  slot.slot = region.slot;
  slot.flags = KVM_MEM_GUEST_MEMFD;
  slot.guest_phys_addr = region.gpa;
  slot.memory_size = region.size;
  slot.userspace_addr = reinterpret_cast<uint64_t>(region.mapping.data());
  slot.guest_memfd_offset = 0;
  slot.guest_memfd = static_cast<uint32_t>(gmem->fd());
  region.guest_memfd = std::move(gmem).value();
  return vm.set_user_memory_region2(slot);
}

Result<void> check_private_memory_support(const kvm::Vm& vm) {
  CVM_TRY(check_guest_memfd_support(vm));
  CVM_ASSIGN_OR_RETURN(const long attributes, vm.check_extension(KVM_CAP_MEMORY_ATTRIBUTES));
  if (attributes < 0 || (static_cast<uint64_t>(attributes) & KVM_MEMORY_ATTRIBUTE_PRIVATE) == 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "private guest RAM needs KVM_MEMORY_ATTRIBUTE_PRIVATE in "
                      "KVM_CAP_MEMORY_ATTRIBUTES for VM type {}; this host reports {:#x}",
                      vm.type(), attributes);
  }
  return ok();
}

/// Shared side: anonymous memory; private side: guest_memfd without MMAP/INIT_SHARED (§1.3);
/// slot via KVM_SET_USER_MEMORY_REGION2 (§1.4); then the whole slot becomes private (§1.5).
Result<void> map_private(const kvm::Vm& vm, GuestMemory::Region& region) {
  CVM_ASSIGN_OR_RETURN(region.mapping, map_anonymous(vm, {region.gpa, region.size}, false));
  CVM_ASSIGN_OR_RETURN(region.guest_memfd, vm.create_guest_memfd(region.size, 0));
  kvm_userspace_memory_region2 slot{};
  slot.slot = region.slot;
  slot.flags = KVM_MEM_GUEST_MEMFD;
  slot.guest_phys_addr = region.gpa;
  slot.memory_size = region.size;
  slot.userspace_addr = reinterpret_cast<uint64_t>(region.mapping.data());
  slot.guest_memfd_offset = 0;
  slot.guest_memfd = static_cast<uint32_t>(region.guest_memfd->fd());
  CVM_TRY(vm.set_user_memory_region2(slot));
  return vm.set_memory_attributes(region.gpa, region.size, KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

}  // namespace

std::string_view to_string(RamBacking backing) noexcept {
  switch (backing) {
    case RamBacking::kAnonymous:
      return "anonymous";
    case RamBacking::kHugepages:
      return "hugepages";
    case RamBacking::kGuestMemfd:
      return "guest_memfd";
    case RamBacking::kPrivate:
      return "private";
  }
  return "unknown";
}

uint64_t backing_alignment(RamBacking backing) noexcept {
  return backing == RamBacking::kHugepages ? kHugePage : kPage;
}

Result<void> validate_ram_ranges(std::span<const RamRange> ranges, RamBacking backing) {
  if (ranges.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "guest RAM: no ranges");
  }
  const uint64_t align = backing_alignment(backing);
  uint64_t previous_end = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const RamRange& r = ranges[i];
    const auto end = checked_add(r.gpa, r.size);
    if (r.size == 0 || !end) {
      return make_error(ErrorCode::kInvalidArgument,
                        "guest RAM range {} at {:#x}: size {:#x} is zero or wraps", i, r.gpa,
                        r.size);
    }
    if (r.gpa % align != 0 || r.size % align != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "guest RAM range [{:#x}, {:#x}) is not {} KiB aligned, as {} backing "
                        "needs",
                        r.gpa, *end, align >> 10, to_string(backing));
    }
    if (i > 0 && r.gpa < previous_end) {
      return make_error(ErrorCode::kInvalidArgument,
                        "guest RAM range [{:#x}, {:#x}) overlaps or precedes the previous one",
                        r.gpa, *end);
    }
    previous_end = *end;
  }
  return ok();
}

Result<std::unique_ptr<GuestMemory>> GuestMemory::create(const kvm::Vm& vm,
                                                         std::span<const RamRange> ranges,
                                                         RamBacking backing) {
  CVM_TRY(validate_ram_ranges(ranges, backing));
  if (backing == RamBacking::kGuestMemfd) {
    CVM_TRY(check_guest_memfd_support(vm));
  } else if (backing == RamBacking::kPrivate) {
    CVM_TRY(check_private_memory_support(vm));
  }
  std::unique_ptr<GuestMemory> memory(new GuestMemory(backing));
  memory->regions_.reserve(ranges.size());
  for (const RamRange& range : ranges) {
    Region& region = memory->regions_.emplace_back();
    region.gpa = range.gpa;
    region.size = range.size;
    region.slot = static_cast<uint32_t>(memory->regions_.size() - 1);
    CVM_TRY(memory->map_region(vm, region));
  }
  return memory;
}

Result<void> GuestMemory::map_region(const kvm::Vm& vm, Region& region) const {
  switch (backing_) {
    case RamBacking::kGuestMemfd:
      return map_guest_memfd(vm, region);
    case RamBacking::kPrivate:
      return map_private(vm, region);
    case RamBacking::kAnonymous:
    case RamBacking::kHugepages:
      break;
  }
  CVM_ASSIGN_OR_RETURN(region.mapping, map_anonymous(vm, {region.gpa, region.size},
                                                     backing_ == RamBacking::kHugepages));
  return register_slot_v1(vm, region);
}

Result<void> GuestMemory::add_region(const kvm::Vm& vm, const RamRange& range) {
  const RamRange single[] = {range};
  CVM_TRY(validate_ram_ranges(single, backing_));
  for (const Region& existing : regions_) {
    if (range.gpa < existing.gpa + existing.size && existing.gpa < range.gpa + range.size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "guest memory range [{:#x}, {:#x}) overlaps slot {} at [{:#x}, {:#x})",
                        range.gpa, range.gpa + range.size, existing.slot, existing.gpa,
                        existing.gpa + existing.size);
    }
  }
  Region region;
  region.gpa = range.gpa;
  region.size = range.size;
  region.slot = regions_.empty() ? 0 : regions_.back().slot + 1;
  CVM_TRY(map_region(vm, region));
  regions_.push_back(std::move(region));
  return ok();
}

const GuestMemory::Region* GuestMemory::find(uint64_t gpa, uint64_t size) const noexcept {
  for (const Region& region : regions_) {
    if (gpa >= region.gpa && range_within<uint64_t>(gpa - region.gpa, size, region.size)) {
      return &region;
    }
  }
  return nullptr;
}

bool GuestMemory::covered(uint64_t gpa, uint64_t length) const noexcept {
  if (length == 0) {
    return find(gpa, 0) != nullptr;
  }
  if (!checked_add<uint64_t>(gpa, length - 1)) {
    return false;  // wraps around 2^64
  }
  uint64_t done = 0;
  while (done < length) {
    // Bounds: gpa + done <= gpa + length - 1, checked above.
    const Region* region = find(gpa + done, 1);
    if (region == nullptr) {
      return false;
    }
    const uint64_t offset = gpa + done - region->gpa;
    done += std::min(region->size - offset, length - done);
  }
  return true;
}

template <typename Visit>
bool GuestMemory::for_each_piece(uint64_t gpa, uint64_t length, Visit&& visit) const {
  if (const Region* region = find(gpa, length)) {
    if (length != 0) {
      // Bounds: find() checked [gpa, gpa + length) against the region's mapping.
      visit(region->mapping.span().subspan(gpa - region->gpa, length), uint64_t{0});
    }
    return true;
  }
  if (!covered(gpa, length)) {
    return false;
  }
  uint64_t done = 0;
  while (done < length) {
    // Bounds: covered(gpa, length) held, so every byte of the range lies in some region.
    const Region* region = find(gpa + done, 1);
    const uint64_t offset = gpa + done - region->gpa;
    const uint64_t piece = std::min(region->size - offset, length - done);
    if (!visit(region->mapping.span().subspan(offset, piece), done)) {
      return true;
    }
    done += piece;
  }
  return true;
}

Result<void> GuestMemory::read(uint64_t gpa, std::span<std::byte> out) const {
  // The guest may be writing these bytes: aligned words are read in one load
  // (base/guest_copy.h; regions are page aligned, so no aligned word is split).
  const bool copied = for_each_piece(gpa, out.size(), [&](std::span<std::byte> host, uint64_t at) {
    copy_from_guest(out.data() + at, host.data(), host.size());
    return true;
  });
  if (!copied) {
    return guest_range_error(gpa, out.size());
  }
  return ok();
}

Result<void> GuestMemory::write(uint64_t gpa, std::span<const std::byte> data) {
  const bool copied = for_each_piece(gpa, data.size(), [&](std::span<std::byte> host, uint64_t at) {
    copy_to_guest(host.data(), data.data() + at, host.size());
    return true;
  });
  if (!copied) {
    return guest_range_error(gpa, data.size());
  }
  return ok();
}

Result<std::size_t> GuestMemory::host_iovecs(uint64_t gpa, uint64_t length,
                                             std::span<iovec> out) {
  std::size_t used = 0;
  const bool resolved = for_each_piece(gpa, length, [&](std::span<std::byte> host, uint64_t) {
    if (used == out.size()) {
      return false;  // `out` is full: the caller gets a prefix of the range
    }
    out[used++] = iovec{.iov_base = host.data(), .iov_len = host.size()};
    return true;
  });
  if (!resolved) {
    return guest_range_error(gpa, length);
  }
  return used;
}

Result<std::span<std::byte>> GuestMemory::host_span(uint64_t gpa, uint64_t size) const {
  const Region* region = find(gpa, size);
  if (region == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      "gpa range [{:#x}, {:#x}) is not inside one RAM region", gpa, gpa + size);
  }
  return region->mapping.span().subspan(gpa - region->gpa, size);
}

bool GuestMemory::contains(uint64_t gpa, uint64_t length) const {
  return covered(gpa, length);
}

uint64_t GuestMemory::size() const noexcept {
  uint64_t total = 0;
  for (const Region& region : regions_) {
    total += region.size;
  }
  return total;
}

Result<void> GuestMemory::cover(const kvm::Vm& vm, std::span<const RamRange> ranges) {
  constexpr uint64_t kPage = 4096;
  std::vector<RamRange> missing;
  for (const RamRange& range : ranges) {
    if (range.size == 0 || contains(range.gpa, range.size)) {
      continue;
    }
    const auto end = checked_add<uint64_t>(range.gpa, range.size);
    const auto page_end = end ? checked_align_up<uint64_t>(*end, kPage) : std::nullopt;
    if (!page_end) {
      return make_error(ErrorCode::kInvalidArgument, "range at {:#x} of {:#x} bytes wraps",
                        range.gpa, range.size);
    }
    const uint64_t start = range.gpa & ~(kPage - 1);
    missing.push_back({start, *page_end - start});
  }
  std::sort(missing.begin(), missing.end(),
            [](const RamRange& a, const RamRange& b) { return a.gpa < b.gpa; });
  std::vector<RamRange> merged;
  for (const RamRange& range : missing) {
    if (!merged.empty() && range.gpa <= merged.back().gpa + merged.back().size) {
      const uint64_t end = std::max(merged.back().gpa + merged.back().size, range.gpa + range.size);
      merged.back().size = end - merged.back().gpa;
    } else {
      merged.push_back(range);
    }
  }
  for (const RamRange& range : merged) {
    CVM_TRY(add_region(vm, range));
  }
  return ok();
}

}  // namespace cvm::vmm
