// SPDX-License-Identifier: Apache-2.0
// The SEV kernel-hashes table that OVMF checks before booting a kernel it did not measure
// itself (measured direct boot; tee-kvm-reference §3.8; QEMU target/i386/sev.c
// build_kernel_loader_hashes). Layout, all little-endian, GUIDs in EFI mixed-endian order:
//   @0   header GUID 9438d606-4f22-4cc9-b479-a793d411fd21, @16 u16 length = 168
//   @18  cmdline entry: GUID 97d02dd8-bd20-4c94-aa78-e7714d36ab2a, u16 50, SHA-256[32]
//   @68  initrd entry:  GUID 44baf731-3a2f-4bd7-9af1-41e29169781d, u16 50, SHA-256[32]
//   @118 kernel entry:  GUID 4de79437-abd2-427f-b835-d5b172d2045b, u16 50, SHA-256[32]
//   @168 8 zero bytes of padding to 176, a multiple of 16.
// Pure; included by firmware/snp/ and tools/measure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "firmware/sha.h"

namespace cvm::firmware::snp {

inline constexpr std::size_t kKernelHashesTableSize = 168;
inline constexpr std::size_t kKernelHashesEntrySize = 50;
/// The table plus its zero padding; this is what is measured.
inline constexpr std::size_t kPaddedKernelHashesTableSize = 176;
static_assert(kKernelHashesTableSize == 16 + 2 + 3 * kKernelHashesEntrySize);
static_assert(kPaddedKernelHashesTableSize % 16 == 0 &&
              kPaddedKernelHashesTableSize - kKernelHashesTableSize < 16);

using KernelHashesTable = std::array<std::byte, kPaddedKernelHashesTableSize>;

struct KernelHashes {
  /// SHA-256 of the kernel file as given (QEMU hashes setup ‖ kernel of the unmodified
  /// bzImage, which is the whole file, because it does not patch the header under SEV).
  Sha256Digest kernel{};
  /// SHA-256 of the initrd file; of the empty string when there is none.
  Sha256Digest initrd{};
  /// SHA-256 of the command line including its terminating NUL ("\0" when empty).
  Sha256Digest cmdline{};
};

/// SHA-256 of `cmdline` followed by its terminating NUL (`cmdline` excludes the NUL).
Sha256Digest hash_cmdline(std::string_view cmdline);

/// Hashes the three inputs. `cmdline` excludes the NUL; it is appended here.
KernelHashes compute_kernel_hashes(std::span<const std::byte> kernel,
                                   std::span<const std::byte> initrd, std::string_view cmdline);

/// The padded 176-byte table for `hashes`.
KernelHashesTable build_kernel_hashes_table(const KernelHashes& hashes);

/// A 4 KiB page holding `table` at `offset_in_page` and zeros elsewhere (SNP places the
/// table at hashes-area base & 0xfff inside the SNP_KERNEL_HASHES page).
/// kInvalidArgument when the table does not fit in the page at that offset.
Result<std::vector<std::byte>> build_kernel_hashes_page(const KernelHashesTable& table,
                                                        std::size_t offset_in_page);

}  // namespace cvm::firmware::snp
