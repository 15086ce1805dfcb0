// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/td_hob.h"

#include "base/byte_reader.h"
#include "base/checked.h"

#include <algorithm>

namespace cvm::firmware::tdx {
namespace {

struct Range {
  uint64_t start;
  uint64_t size;
  uint64_t end() const { return start + size; }
};

/// RAM before splitting: below the hole, and above 4 GiB for the remainder.
std::vector<Range> base_ram(uint64_t memory_size) {
  std::vector<Range> ram;
  const uint64_t low = std::min(memory_size, kTdxLowRamLimit);
  ram.push_back({0, low});
  if (memory_size > low) {
    ram.push_back({kTdxHighRamBase, memory_size - low});
  }
  return ram;
}

/// Sequential little-endian writer over a fixed buffer; callers check capacity first.
class HobWriter final {
 public:
  explicit HobWriter(std::vector<std::byte>& out) : out_(out) {}
  std::size_t position() const { return pos_; }
  void u16(uint16_t v) { put<uint16_t>(v); }
  void u32(uint32_t v) { put<uint32_t>(v); }
  void u64(uint64_t v) { put<uint64_t>(v); }
  void zeros(std::size_t n) { pos_ += n; }  // the buffer starts zeroed
  void header(uint16_t type, std::size_t length) {
    u16(type);
    u16(static_cast<uint16_t>(length));
    u32(0);  // Reserved
  }

 private:
  template <std::unsigned_integral T>
  void put(T v) {
    store_le<T>(std::span<std::byte>(out_).subspan(pos_).template first<sizeof(T)>(), v);
    pos_ += sizeof(T);
  }
  std::vector<std::byte>& out_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<std::vector<TdRamRange>> td_ram_ranges(uint64_t memory_size, const TdvfMetadata& metadata) {
  if (memory_size == 0 || memory_size % kTdxPageSize != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "TD memory size {:#x} must be a non-zero multiple of 4 KiB", memory_size);
  }
  if (!checked_add<uint64_t>(memory_size, kTdxHighRamBase)) {
    return make_error(ErrorCode::kInvalidArgument, "TD memory size {:#x} is too large",
                      memory_size);
  }
  std::vector<Range> accepted;
  for (const TdvfSection& s : metadata.sections) {
    if (s.type == TdvfSectionType::kTdHob || s.type == TdvfSectionType::kTempMem) {
      accepted.push_back({s.memory_address, s.memory_data_size});
    }
  }
  std::sort(accepted.begin(), accepted.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });

  const std::vector<Range> ram = base_ram(memory_size);
  for (const Range& a : accepted) {
    const bool inside = std::any_of(ram.begin(), ram.end(), [&](const Range& r) {
      return a.start >= r.start && a.end() <= r.end();
    });
    if (!inside) {
      return make_error(ErrorCode::kInvalidArgument,
                        "TDVF memory section at {:#x}+{:#x} is outside the TD's RAM ({:#x} bytes); "
                        "give the TD more memory",
                        a.start, a.size, memory_size);
    }
  }
  std::vector<TdRamRange> out;
  for (const Range& r : ram) {
    uint64_t cursor = r.start;
    for (const Range& a : accepted) {
      if (a.start < r.start || a.end() > r.end()) {
        continue;
      }
      if (a.start > cursor) {
        out.push_back({cursor, a.start - cursor, false});
      }
      out.push_back({a.start, a.size, true});
      cursor = a.end();
    }
    if (cursor < r.end()) {
      out.push_back({cursor, r.end() - cursor, false});
    }
  }
  return out;
}

Result<std::vector<std::byte>> build_td_hob(uint64_t hob_gpa, uint64_t section_size,
                                            std::span<const TdRamRange> ram) {
  const uint64_t needed = kPhitHobSize + kResourceHobSize * ram.size() + kEndHobSize;
  if (needed > section_size) {
    return make_error(ErrorCode::kInvalidArgument,
                      "TD HOB needs {:#x} bytes for {} RAM ranges but the TD_HOB section holds "
                      "{:#x}",
                      needed, ram.size(), section_size);
  }
  std::vector<std::byte> hob(needed);
  HobWriter w(hob);
  // PHIT. Every HOB size here is a multiple of 8, so each HOB starts 8-byte aligned.
  w.header(kHobTypeHandoff, kPhitHobSize);
  w.u32(kPhitVersion);
  w.u32(0);                 // BootMode: BOOT_WITH_FULL_CONFIGURATION
  w.zeros(32);              // EfiMemoryTop/Bottom, EfiFreeMemoryTop/Bottom: ignored by TDVF
  w.u64(hob_gpa + needed);  // EfiEndOfHobList: just past the End HOB
  for (const TdRamRange& range : ram) {
    w.header(kHobTypeResourceDescriptor, kResourceHobSize);
    w.zeros(16);  // Owner GUID
    w.u32(range.accepted ? kResourceSystemMemory : kResourceMemoryUnaccepted);
    w.u32(kResourceAttributeTdvf);
    w.u64(range.start);
    w.u64(range.size);
  }
  w.header(kHobTypeEndOfHobList, kEndHobSize);
  CVM_CHECK(w.position() == needed, "TD HOB size bookkeeping");
  return hob;
}

}  // namespace cvm::firmware::tdx
