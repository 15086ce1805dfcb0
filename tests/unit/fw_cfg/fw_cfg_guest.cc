// SPDX-License-Identifier: Apache-2.0
#include "tests/unit/fw_cfg/fw_cfg_guest.h"

#include <set>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "devices/fw_cfg/table_loader.h"

namespace cvm::devices::fw_cfg::testing {
namespace {

void store_be32(std::span<std::byte> out, uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    out[i] = static_cast<std::byte>((value >> (8 * (3 - i))) & 0xff);
  }
}

uint8_t sum8(std::span<const std::byte> bytes) {
  uint8_t sum = 0;
  for (std::byte b : bytes) {
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  }
  return sum;
}

Error protocol_error(std::string_view what) {
  return make_error(ErrorCode::kGuest, "ovmf table-loader: {}", what);
}

struct Blob {
  uint64_t base = 0;
  uint64_t size = 0;
};

}  // namespace

void RegionGuestMemory::add_region(uint64_t base, std::size_t size) {
  regions_.push_back(std::make_unique<BufferGuestMemory>(base, size));
}

const BufferGuestMemory* RegionGuestMemory::region_for(uint64_t gpa, uint64_t length) const {
  for (const auto& region : regions_) {
    if (region->contains(gpa, length)) {
      return region.get();
    }
  }
  return nullptr;
}

Result<void> RegionGuestMemory::read(uint64_t gpa, std::span<std::byte> out) const {
  const BufferGuestMemory* region = region_for(gpa, out.size());
  return region ? region->read(gpa, out) : Result<void>(guest_range_error(gpa, out.size()));
}

Result<void> RegionGuestMemory::write(uint64_t gpa, std::span<const std::byte> data) {
  auto* region = const_cast<BufferGuestMemory*>(region_for(gpa, data.size()));
  return region ? region->write(gpa, data) : Result<void>(guest_range_error(gpa, data.size()));
}

bool RegionGuestMemory::contains(uint64_t gpa, uint64_t length) const {
  return region_for(gpa, length) != nullptr;
}

Result<std::size_t> RegionGuestMemory::host_iovecs(uint64_t gpa, uint64_t length,
                                                   std::span<iovec> out) {
  auto* region = const_cast<BufferGuestMemory*>(region_for(gpa, length));
  return region ? region->host_iovecs(gpa, length, out)
                : Result<std::size_t>(guest_range_error(gpa, length));
}

void FwCfgGuest::select(uint16_t key) {
  std::array<std::byte, 2> bytes{};
  store_le<uint16_t>(bytes, key);
  device_.write(kFwCfgSelectorPort - kFwCfgPortBase, bytes);
}

std::vector<std::byte> FwCfgGuest::read_port(std::size_t length) {
  std::vector<std::byte> out(length);
  for (std::byte& b : out) {
    device_.read(kFwCfgDataPort - kFwCfgPortBase, std::span(&b, 1));
  }
  return out;
}

uint32_t FwCfgGuest::dma(uint64_t access_gpa, uint32_t control, uint32_t length,
                         uint64_t address) {
  std::array<std::byte, kDmaAccessSize> access{};
  store_be32(std::span(access).subspan(0, 4), control);
  store_be32(std::span(access).subspan(4, 4), length);
  store_be32(std::span(access).subspan(8, 4), static_cast<uint32_t>(address >> 32));
  store_be32(std::span(access).subspan(12, 4), static_cast<uint32_t>(address));
  (void)memory_.write(access_gpa, access);
  // As OVMF: high half at 0x514, then the low half at 0x518 starts the transfer.
  std::array<std::byte, 4> half{};
  store_be32(half, static_cast<uint32_t>(access_gpa >> 32));
  device_.write(kFwCfgDmaPort - kFwCfgPortBase, half);
  store_be32(half, static_cast<uint32_t>(access_gpa));
  device_.write(kFwCfgDmaPort - kFwCfgPortBase + 4, half);
  std::array<std::byte, 4> control_out{};
  (void)memory_.read(access_gpa, control_out);
  return load_be<uint32_t>(std::span<const std::byte, 4>(control_out));
}

std::map<std::string, std::pair<uint16_t, uint32_t>> FwCfgGuest::directory() {
  select(kKeyFileDir);
  const auto count_bytes = read_port(4);
  const uint32_t count = load_be<uint32_t>(std::span<const std::byte, 4>(count_bytes.data(), 4));
  std::map<std::string, std::pair<uint16_t, uint32_t>> files;
  for (uint32_t i = 0; i < count && i < kMaxFiles; ++i) {
    const auto entry = read_port(kFileDirEntrySize);
    const std::span<const std::byte> e(entry);
    std::string name;
    for (std::size_t j = 8; j < kFileDirEntrySize && e[j] != std::byte{0}; ++j) {
      name.push_back(static_cast<char>(e[j]));
    }
    files[name] = {load_be<uint16_t>(e.subspan<4, 2>()), load_be<uint32_t>(e.subspan<0, 4>())};
  }
  return files;
}

std::optional<std::vector<std::byte>> FwCfgGuest::read_file(const std::string& name) {
  const auto files = directory();
  auto it = files.find(name);
  if (it == files.end()) {
    return std::nullopt;
  }
  select(it->second.first);
  return read_port(it->second.second);
}

namespace {

using Blobs = std::map<std::string, Blob>;

/// ProcessCmdAllocate: reads the file over DMA to the next page at `low` or `high`.
Result<void> allocate(FwCfgGuest& guest, const LoaderAllocate& a,
                      const std::map<std::string, std::pair<uint16_t, uint32_t>>& files,
                      bool restricted, uint64_t& low, uint64_t& high, uint64_t dma_access_gpa,
                      Blobs& blobs) {
  auto file = files.find(a.file);
  if (a.align > 4096 || file == files.end() || blobs.count(a.file) != 0) {
    return protocol_error("bad ALLOCATE of " + a.file);
  }
  uint64_t& next = restricted ? low : high;
  const Blob blob{next, file->second.second};
  next += (blob.size + 0xfff) & ~uint64_t{0xfff};
  // Read over DMA straight into the allocation, as QemuFwCfgReadBytes does in DXE.
  const uint32_t control = guest.dma(
      dma_access_gpa, (uint32_t{file->second.first} << 16) | kDmaCtlSelect | kDmaCtlRead,
      file->second.second, blob.base);
  if (control != 0) {
    return protocol_error("DMA read of " + a.file + " failed");
  }
  blobs[a.file] = blob;
  return ok();
}

/// ProcessCmdAddPointer with its checks.
Result<void> add_pointer(GuestMemoryView& memory, const LoaderAddPointer& p, const Blobs& blobs) {
  auto dest = blobs.find(p.dest_file);
  auto src = blobs.find(p.src_file);
  if (dest == blobs.end() || src == blobs.end() ||
      (p.size != 1 && p.size != 2 && p.size != 4 && p.size != 8) ||
      dest->second.size < p.size || dest->second.size - p.size < p.offset) {
    return protocol_error("bad ADD_POINTER into " + p.dest_file);
  }
  std::array<std::byte, 8> field{};
  CVM_TRY(memory.read(dest->second.base + p.offset, std::span(field).first(p.size)));
  uint64_t value = load_le<uint64_t>(field);
  if (value >= src->second.size) {
    return protocol_error("pointer value outside " + p.src_file);
  }
  value += src->second.base;
  if (p.size < 8 && (value >> (8 * p.size)) != 0) {
    return protocol_error("relocated pointer does not fit in " + p.dest_file);
  }
  store_le<uint64_t>(field, value);
  return memory.write(dest->second.base + p.offset, std::span(field).first(p.size));
}

/// ProcessCmdAddChecksum: the byte becomes CalculateCheckSum8 of the range (overwritten).
Result<void> add_checksum(GuestMemoryView& memory, const LoaderAddChecksum& k,
                          const Blobs& blobs) {
  auto blob = blobs.find(k.file);
  if (blob == blobs.end() || blob->second.size <= k.result_offset ||
      blob->second.size < k.length || blob->second.size - k.length < k.start) {
    return protocol_error("bad ADD_CHECKSUM in " + k.file);
  }
  std::vector<std::byte> range(k.length);
  CVM_TRY(memory.read(blob->second.base + k.start, range));
  const std::byte checksum{static_cast<uint8_t>(0x100 - sum8(range))};
  return memory.write(blob->second.base + k.result_offset, std::span(&checksum, 1));
}

/// Process2ndPassCmdAddPointer: every pointee that looks like an ACPI table (length fits,
/// checksum 0) is installed once, except RSDT/XSDT. Returns the installed signatures.
Result<std::vector<std::string>> second_pass(GuestMemoryView& memory,
                                             const std::vector<LoaderCommand>& commands,
                                             const Blobs& blobs) {
  std::vector<std::string> installed;
  std::set<uint64_t> seen;
  for (const auto& command : commands) {
    const auto* p = std::get_if<LoaderAddPointer>(&command);
    if (p == nullptr) {
      continue;
    }
    const Blob dest = blobs.at(p->dest_file);
    const Blob src = blobs.at(p->src_file);
    std::array<std::byte, 8> field{};
    CVM_TRY(memory.read(dest.base + p->offset, std::span(field).first(p->size)));
    const uint64_t target = load_le<uint64_t>(field);
    const uint64_t remaining = src.base + src.size - target;
    std::array<std::byte, 36> header{};
    if (!seen.insert(target).second || remaining < header.size()) {
      continue;
    }
    CVM_TRY(memory.read(target, header));
    const uint32_t length = load_le<uint32_t>(std::span(header).subspan<4, 4>());
    if (length < header.size() || length > remaining) {
      continue;
    }
    std::vector<std::byte> table(length);
    CVM_TRY(memory.read(target, table));
    const std::string signature(reinterpret_cast<const char*>(table.data()), 4);
    if (sum8(table) == 0 && signature != "RSDT" && signature != "XSDT") {
      installed.push_back(signature);
    }
  }
  return installed;
}

}  // namespace

Result<OvmfAcpiResult> run_ovmf_table_loader(FwCfgGuest& guest, GuestMemoryView& memory,
                                             uint64_t low, uint64_t high,
                                             uint64_t dma_access_gpa) {
  const auto files = guest.directory();
  const auto script_bytes = guest.read_file("etc/table-loader");
  if (!script_bytes) {
    return make_error(ErrorCode::kNotFound, "no etc/table-loader");
  }
  CVM_ASSIGN_OR_RETURN(const auto commands, parse_table_loader(*script_bytes));
  std::set<std::string> restricted;  // CollectAllocationsRestrictedTo32Bit
  for (const auto& command : commands) {
    if (const auto* p = std::get_if<LoaderAddPointer>(&command); p && p->size < 8) {
      restricted.insert(p->src_file);
    }
  }
  Blobs blobs;
  for (const auto& command : commands) {
    if (const auto* a = std::get_if<LoaderAllocate>(&command)) {
      CVM_TRY(allocate(guest, *a, files, restricted.count(a->file) != 0, low, high,
                       dma_access_gpa, blobs));
    } else if (const auto* p = std::get_if<LoaderAddPointer>(&command)) {
      CVM_TRY(add_pointer(memory, *p, blobs));
    } else if (const auto* k = std::get_if<LoaderAddChecksum>(&command)) {
      CVM_TRY(add_checksum(memory, *k, blobs));
    }
  }
  OvmfAcpiResult result;
  for (const auto& [name, blob] : blobs) {
    result.blob_addresses[name] = blob.base;
  }
  CVM_ASSIGN_OR_RETURN(result.installed, second_pass(memory, commands, blobs));
  return result;
}

}  // namespace cvm::devices::fw_cfg::testing
