// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/kernel_hashes.h"

#include <algorithm>

#include "base/byte_reader.h"
#include "firmware/guid.h"

namespace cvm::firmware::snp {
namespace {

constexpr Guid kTableHeaderGuid = Guid::parse("9438d606-4f22-4cc9-b479-a793d411fd21");
constexpr Guid kCmdlineEntryGuid = Guid::parse("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
constexpr Guid kInitrdEntryGuid = Guid::parse("44baf731-3a2f-4bd7-9af1-41e29169781d");
constexpr Guid kKernelEntryGuid = Guid::parse("4de79437-abd2-427f-b835-d5b172d2045b");
constexpr std::size_t kPageSize = 4096;

// Writes GUID + u16 length at `at`; returns the offset just past the length field.
std::size_t put_header(KernelHashesTable& table, std::size_t at, const Guid& guid,
                       uint16_t length) {
  std::copy(guid.bytes().begin(), guid.bytes().end(), table.begin() + static_cast<long>(at));
  store_le<uint16_t>(std::span<std::byte>(table).subspan(at + 16).first<2>(), length);
  return at + 18;
}

std::size_t put_entry(KernelHashesTable& table, std::size_t at, const Guid& guid,
                      const Sha256Digest& digest) {
  const std::size_t hash_at = put_header(table, at, guid, kKernelHashesEntrySize);
  std::copy(digest.begin(), digest.end(), table.begin() + static_cast<long>(hash_at));
  return hash_at + digest.size();
}

}  // namespace

Sha256Digest hash_cmdline(std::string_view cmdline) {
  Hasher hasher(HashAlgorithm::kSha256);
  const std::byte nul{0};
  hasher.update(as_bytes(cmdline)).update(std::span<const std::byte>(&nul, 1));
  Sha256Digest digest{};
  hasher.finish(digest);
  return digest;
}

KernelHashes compute_kernel_hashes(std::span<const std::byte> kernel,
                                   std::span<const std::byte> initrd, std::string_view cmdline) {
  return KernelHashes{sha256(kernel), sha256(initrd), hash_cmdline(cmdline)};
}

KernelHashesTable build_kernel_hashes_table(const KernelHashes& hashes) {
  KernelHashesTable table{};
  std::size_t at = put_header(table, 0, kTableHeaderGuid, kKernelHashesTableSize);
  at = put_entry(table, at, kCmdlineEntryGuid, hashes.cmdline);
  at = put_entry(table, at, kInitrdEntryGuid, hashes.initrd);
  at = put_entry(table, at, kKernelEntryGuid, hashes.kernel);
  CVM_CHECK(at == kKernelHashesTableSize, "kernel hashes table layout");
  return table;  // bytes [168, 176) stay zero: the padding
}

Result<std::vector<std::byte>> build_kernel_hashes_page(const KernelHashesTable& table,
                                                        std::size_t offset_in_page) {
  if (!range_within<std::size_t>(offset_in_page, table.size(), kPageSize)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "kernel hashes table at page offset {:#x} does not fit in a 4 KiB page",
                      offset_in_page);
  }
  std::vector<std::byte> page(kPageSize);
  std::copy(table.begin(), table.end(), page.begin() + static_cast<long>(offset_in_page));
  return page;
}

}  // namespace cvm::firmware::snp
