// SPDX-License-Identifier: Apache-2.0
#include "vmm/private_memory.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>

#include <cerrno>
#include <variant>
#include <vector>

#include "base/checked.h"
#include "vmm/kvm/uapi.h"

namespace cvm::vmm {
namespace {

// KVM_MAP_GPA_RANGE attribute bits (include/uapi/linux/kvm_para.h, §1.7).
constexpr uint64_t kMapGpaPageSizeMask = 0xf;  // 0 = 4K, 1 = 2M, 2 = 1G
constexpr uint64_t kMapGpaMaxPageSize = 2;
constexpr uint64_t kMapGpaEncrypted = KVM_MAP_GPA_RANGE_ENCRYPTED;  // bit 4
constexpr uint64_t kMapGpaKnownBits = kMapGpaPageSizeMask | kMapGpaEncrypted;

/// The part of a conversion that falls into one region.
struct Piece {
  const GuestMemory::Region* region = nullptr;
  uint64_t offset = 0;  // from region->gpa (also the guest_memfd offset)
  uint64_t size = 0;
};

std::string range_text(uint64_t gpa, uint64_t size) {
  return fmt::format("[{:#x}, {:#x})", gpa, gpa + size);
}

/// Splits [gpa, gpa + size) into per-region pieces; every byte must be in a kPrivate region.
Result<std::vector<Piece>> split_into_regions(const GuestMemory& memory, uint64_t gpa,
                                              uint64_t size) {
  if (memory.backing() != RamBacking::kPrivate) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory conversion of {}: guest RAM is {}, not private-capable",
                      range_text(gpa, size), to_string(memory.backing()));
  }
  if (size == 0 || gpa % kConversionPageSize != 0 || size % kConversionPageSize != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory conversion at {:#x} of {:#x} bytes: not a non-empty range of "
                      "whole 4 KiB pages",
                      gpa, size);
  }
  const auto end = checked_add(gpa, size);
  if (!end) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory conversion at {:#x} of {:#x} bytes wraps", gpa, size);
  }
  std::vector<Piece> pieces;
  uint64_t cursor = gpa;
  while (cursor < *end) {
    const GuestMemory::Region* found = nullptr;
    for (const GuestMemory::Region& region : memory.regions()) {
      if (cursor >= region.gpa && cursor - region.gpa < region.size) {
        found = &region;
        break;
      }
    }
    if (found == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        "memory conversion of {}: {:#x} is not private-capable guest memory",
                        range_text(gpa, size), cursor);
    }
    const uint64_t offset = cursor - found->gpa;
    const uint64_t piece = std::min(*end - cursor, found->size - offset);
    pieces.push_back({found, offset, piece});
    cursor += piece;
  }
  return pieces;
}

/// Frees the side of `piece` that the conversion made stale.
Result<void> discard_stale_side(kvm::Sys& sys, const Piece& piece, bool to_private) {
  const GuestMemory::Region& region = *piece.region;
  if (to_private) {
    // Bounds: offset + size lies inside the region, whose shared mapping is region.size long.
    const int result = sys.madvise(region.mapping.data() + piece.offset, piece.size, MADV_DONTNEED);
    if (result < 0) {
      return errno_error(ErrorCode::kIo,
                         fmt::format("madvise(MADV_DONTNEED) on shared side of {}",
                                     range_text(region.gpa + piece.offset, piece.size)),
                         -result);
    }
    return ok();
  }
  CVM_CHECK(region.guest_memfd.has_value(), "kPrivate region without guest_memfd");
  const int result =
      sys.fallocate(region.guest_memfd->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(piece.offset), static_cast<off_t>(piece.size));
  if (result < 0) {
    return errno_error(ErrorCode::kIo,
                       fmt::format("fallocate(PUNCH_HOLE) on guest_memfd of {}",
                                   range_text(region.gpa + piece.offset, piece.size)),
                       -result);
  }
  return ok();
}

}  // namespace

Result<void> enable_map_gpa_range_exit(const kvm::Vm& vm) {
  constexpr uint64_t kMapGpaBit = uint64_t{1} << KVM_HC_MAP_GPA_RANGE;
  CVM_ASSIGN_OR_RETURN(const long hypercalls, vm.check_extension(KVM_CAP_EXIT_HYPERCALL));
  if (hypercalls < 0 || (static_cast<uint64_t>(hypercalls) & kMapGpaBit) == 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "KVM_CAP_EXIT_HYPERCALL does not offer KVM_HC_MAP_GPA_RANGE (mask {:#x}); "
                      "guest memory conversions could not reach cvmm",
                      hypercalls);
  }
  return vm.enable_cap(KVM_CAP_EXIT_HYPERCALL, {kMapGpaBit});
}

Result<void> convert_guest_memory(const kvm::Vm& vm, GuestMemory& memory, uint64_t gpa,
                                  uint64_t size, bool to_private) {
  CVM_ASSIGN_OR_RETURN(const std::vector<Piece> pieces, split_into_regions(memory, gpa, size));
  CVM_TRY(vm.set_memory_attributes(gpa, size, to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0));
  for (const Piece& piece : pieces) {
    CVM_TRY(discard_stale_side(vm.sys(), piece, to_private));
  }
  return ok();
}

Result<MapGpaRequest> parse_map_gpa_range(uint64_t gpa, uint64_t npages, uint64_t attributes) {
  if ((attributes & ~kMapGpaKnownBits) != 0 ||
      (attributes & kMapGpaPageSizeMask) > kMapGpaMaxPageSize) {
    return make_error(ErrorCode::kGuest, "MapGPA: unknown attributes {:#x}", attributes);
  }
  const auto size = checked_mul<uint64_t>(npages, kConversionPageSize);
  if (npages == 0 || !size || !checked_add(gpa, *size)) {
    return make_error(ErrorCode::kGuest, "MapGPA: {:#x} pages at {:#x} is empty or wraps", npages,
                      gpa);
  }
  if (gpa % kConversionPageSize != 0) {
    return make_error(ErrorCode::kGuest, "MapGPA: gpa {:#x} is not 4 KiB aligned", gpa);
  }
  return MapGpaRequest{gpa, *size, (attributes & kMapGpaEncrypted) != 0};
}

std::optional<ExitPolicy> MemoryConversionHandler::handle(kvm::Vcpu& vcpu, const VcpuExit& exit) {
  if (const auto* fault = std::get_if<MemoryFaultExitInfo>(&exit)) {
    return handle_memory_fault(*fault);
  }
  const auto* call = std::get_if<HypercallExit>(&exit);
  if (call == nullptr || call->nr != KVM_HC_MAP_GPA_RANGE) {
    return std::nullopt;
  }
  vcpu.run_data().hypercall.ret = map_gpa_range(*call);
  return ExitPolicy{ExitVerdict::kContinue, {}};
}

ExitPolicy MemoryConversionHandler::handle_memory_fault(const MemoryFaultExitInfo& fault) {
  const bool to_private = (fault.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) != 0;
  if (vm_ == nullptr || memory_ == nullptr) {
    return {ExitVerdict::kFailVm, "memory fault before guest memory was set up"};
  }
  auto result = convert_guest_memory(*vm_, *memory_, fault.gpa, fault.size, to_private);
  if (!result) {
    return {ExitVerdict::kFailVm,
            fmt::format("guest memory fault ({} access) at {} cannot be resolved: {}",
                        to_private ? "private" : "shared", range_text(fault.gpa, fault.size),
                        result.error().message())};
  }
  return {ExitVerdict::kContinue, {}};
}

uint64_t MemoryConversionHandler::map_gpa_range(const HypercallExit& call) {
  auto request = parse_map_gpa_range(call.args[0], call.args[1], call.args[2]);
  if (!request) {
    return EINVAL;
  }
  if (vm_ == nullptr || memory_ == nullptr) {
    return EINVAL;
  }
  auto result =
      convert_guest_memory(*vm_, *memory_, request->gpa, request->size, request->to_private);
  if (!result) {
    const int err = result.error().sys_errno();
    return result.error().code() == ErrorCode::kInvalidArgument || err <= 0
               ? EINVAL
               : static_cast<uint64_t>(err);
  }
  return 0;
}

}  // namespace cvm::vmm
