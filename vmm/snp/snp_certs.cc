// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_certs.h"

#include <algorithm>
#include <cerrno>
#include <set>

#include <fmt/format.h>

#include "base/byte_reader.h"
#include "base/checked.h"
#include "base/file.h"

namespace cvm::vmm::snp {
namespace {

CertTableEntry read_entry(std::span<const std::byte> blob, std::size_t index) {
  const std::span<const std::byte> raw = blob.subspan(index * kCertTableEntrySize,
                                                      kCertTableEntrySize);
  CertTableEntry entry;
  std::transform(raw.begin(), raw.begin() + 16, entry.guid.begin(),
                 [](std::byte b) { return static_cast<uint8_t>(b); });
  entry.offset = load_le<uint32_t>(raw.subspan<16, 4>());
  entry.length = load_le<uint32_t>(raw.subspan<20, 4>());
  return entry;
}

bool is_terminator(const CertTableEntry& entry) {
  return entry.guid == CertGuid{} && entry.offset == 0 && entry.length == 0;
}

}  // namespace

std::string cert_guid_name(const CertGuid& guid) {
  if (guid == kVcekGuid) return "VCEK";
  if (guid == kVlekGuid) return "VLEK";
  if (guid == kAskGuid) return "ASK";
  if (guid == kArkGuid) return "ARK";
  return fmt::format("{:02x}-{:02x}-{:02x}-{:02x}-{:02x}", fmt::join(guid.begin(), guid.begin() + 4, ""),
                     fmt::join(guid.begin() + 4, guid.begin() + 6, ""),
                     fmt::join(guid.begin() + 6, guid.begin() + 8, ""),
                     fmt::join(guid.begin() + 8, guid.begin() + 10, ""),
                     fmt::join(guid.begin() + 10, guid.end(), ""));
}

Result<std::vector<CertTableEntry>> parse_cert_table(std::span<const std::byte> blob) {
  if (blob.size() > kMaxCertTableBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "certificate table is {} bytes, more than the {} cvmm accepts", blob.size(),
                      kMaxCertTableBytes);
  }
  const std::size_t slots = blob.size() / kCertTableEntrySize;
  std::vector<CertTableEntry> entries;
  bool terminated = false;
  for (std::size_t i = 0; i < slots && !terminated; ++i) {
    const CertTableEntry entry = read_entry(blob, i);
    terminated = is_terminator(entry);
    if (!terminated) {
      entries.push_back(entry);
    }
  }
  if (!terminated) {
    return make_error(ErrorCode::kInvalidArgument,
                      "certificate table of {} bytes has no all-zero terminator entry "
                      "(GHCB \"SNP Extended Guest Request\")",
                      blob.size());
  }
  const std::size_t table_end = (entries.size() + 1) * kCertTableEntrySize;
  std::set<CertGuid> seen;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const CertTableEntry& e = entries[i];
    const std::string name = cert_guid_name(e.guid);
    if (e.guid == CertGuid{}) {
      return make_error(ErrorCode::kInvalidArgument,
                        "certificate table entry {}: zero GUID with offset {:#x} length {:#x}", i,
                        e.offset, e.length);
    }
    if (e.length == 0 || e.offset < table_end ||
        !range_within<uint64_t>(e.offset, e.length, blob.size())) {
      return make_error(ErrorCode::kInvalidArgument,
                        "certificate table entry {} ({}): offset {:#x} length {:#x} is not inside "
                        "the certificate data [{:#x}, {:#x})",
                        i, name, e.offset, e.length, table_end, blob.size());
    }
    if (!seen.insert(e.guid).second) {
      return make_error(ErrorCode::kInvalidArgument, "certificate table entry {}: {} appears twice",
                        i, name);
    }
  }
  return entries;
}

Result<SnpCertificates> load_snp_certificates(const std::string& path) {
  auto bytes = read_file(path, kMaxCertTableBytes);
  if (!bytes) {
    return std::move(bytes).error().context("SNP certificate table");
  }
  auto entries = parse_cert_table(*bytes);
  if (!entries) {
    return std::move(entries).error().context(path);
  }
  return SnpCertificates{std::move(*bytes), std::move(*entries)};
}

uint64_t cert_pages(std::size_t bytes) noexcept {
  return (static_cast<uint64_t>(bytes) + kCertPageSize - 1) / kCertPageSize;
}

CertRequestReply answer_cert_request(std::span<const std::byte> blob, uint64_t gpa,
                                     uint64_t npages, GuestMemoryView& memory) {
  const uint64_t needed = cert_pages(blob.size());
  // Compare in pages: npages * 4096 may wrap for a guest-chosen npages.
  if (npages < needed) {
    return CertRequestReply{ENOSPC, needed, {}};
  }
  auto written = memory.write(gpa, blob);
  if (!written) {
    return CertRequestReply{EIO, npages,
                            fmt::format("certificate buffer at gpa {:#x} ({} pages) is not "
                                        "accessible shared memory: {}",
                                        gpa, npages, written.error().message())};
  }
  return CertRequestReply{0, npages, {}};
}

}  // namespace cvm::vmm::snp
