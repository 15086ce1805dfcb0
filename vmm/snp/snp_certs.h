// SPDX-License-Identifier: Apache-2.0
// The host's endorsement-key certificates for SEV-SNP guests (issue 5, "guest request exits
// for certificates"). A guest asks for them with an SNP Extended Guest Request (GHCB spec
// #56421 §4.1.8.2, "SNP Extended Guest Request"); on ≈7.0 kernels, after
// KVM_SEV_SNP_ENABLE_REQ_CERTS, KVM forwards the request as KVM_EXIT_SNP_REQ_CERTS
// (Documentation/virt/kvm/api.rst) and cvmm answers it here.
//
// File format: the GHCB certificate table exactly as the guest receives it, which is also what
// AMD's tooling exports for hypervisors (`snphost import`, QEMU's former `certs-path` option of
// the AMD SNP trees): a table of 24-byte entries
//     @0 GUID (16 bytes, RFC 4122 byte order)  @16 offset u32 LE  @20 length u32 LE
// ended by an all-zero entry, followed by the certificates; offsets are from the start of the
// table. cvmm validates the table once, when the VM is set up, and copies it to the guest byte
// for byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/guest_memory_view.h"
#include "base/result.h"

namespace cvm::vmm::snp {

inline constexpr std::size_t kCertTableEntrySize = 24;
/// Upper bound on the certificate file. VCEK/VLEK, ASK and ARK in DER are about 5 KiB together;
/// 64 KiB leaves room for PEM, a CRL or extra vendor entries, while keeping the copy per
/// request small.
inline constexpr std::size_t kMaxCertTableBytes = std::size_t{64} << 10;
inline constexpr uint64_t kCertPageSize = 4096;

using CertGuid = std::array<uint8_t, 16>;

// Not constexpr on purpose (as in firmware/guid.h): reaching it while evaluating
// parse_cert_guid() makes a malformed literal a compile error.
inline void invalid_cert_guid_literal() {}

/// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in RFC 4122 byte order (the order the GHCB table, the
/// Linux guest and AMD's tools use; not the EFI mixed-endian order of firmware/guid.h).
consteval CertGuid parse_cert_guid(std::string_view text) {
  CertGuid guid{};
  std::size_t byte = 0;
  int high = -1;
  for (char c : text) {
    if (c == '-') {
      continue;
    }
    const int nibble = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (nibble < 0 || byte >= guid.size()) {
      invalid_cert_guid_literal();
    }
    if (high < 0) {
      high = nibble;
    } else {
      guid[byte++] = static_cast<uint8_t>(high << 4 | nibble);
      high = -1;
    }
  }
  if (byte != guid.size()) {
    invalid_cert_guid_literal();
  }
  return guid;
}

// The GUIDs the GHCB spec defines for the table (§4.1.8.2; the same in Linux's and AMD's tools).
inline constexpr CertGuid kVcekGuid = parse_cert_guid("63da758d-e664-4564-adc5-f4b93be8accd");
inline constexpr CertGuid kVlekGuid = parse_cert_guid("a8074bc2-a25a-483e-aae6-39c045a0b8a1");
inline constexpr CertGuid kAskGuid = parse_cert_guid("4ab7b379-bbac-4fe4-a02f-05aef327c782");
inline constexpr CertGuid kArkGuid = parse_cert_guid("c0b406a4-a803-4952-9743-3fb6014cd0ae");

struct CertTableEntry {
  CertGuid guid{};
  uint32_t offset = 0;
  uint32_t length = 0;
};

/// "VCEK", "VLEK", "ASK", "ARK" or the GUID text.
std::string cert_guid_name(const CertGuid& guid);

/// Checks `blob` is a well-formed certificate table: at most kMaxCertTableBytes, a terminator
/// inside it, every certificate non-empty and inside the blob after the table, no GUID twice.
/// Returns the entries before the terminator. Pure. Errors: kInvalidArgument naming the entry.
[[nodiscard]] Result<std::vector<CertTableEntry>> parse_cert_table(
    std::span<const std::byte> blob);

/// A validated certificate table, as served to the guest.
struct SnpCertificates {
  std::vector<std::byte> blob;
  std::vector<CertTableEntry> entries;
};

/// Reads and validates the table at `path`. Errors name the file.
[[nodiscard]] Result<SnpCertificates> load_snp_certificates(const std::string& path);

/// The answer to one KVM_EXIT_SNP_REQ_CERTS: the `ret` and `npages` to store in kvm_run.
struct CertRequestReply {
  uint64_t ret = 0;
  uint64_t npages = 0;
  std::string note;  // why it failed, for the log; empty on success and ENOSPC
};

/// Pages needed for `bytes` of certificate data.
uint64_t cert_pages(std::size_t bytes) noexcept;

/// Serves a guest's request for `blob` into its buffer of `npages` pages at `gpa` (guest-
/// controlled). Too small a buffer: ENOSPC with npages = the pages needed. Otherwise the blob is
/// written at `gpa` (the buffer is shared memory, reached through `memory`): 0, or EIO when the
/// range is not accessible guest memory. Never fails the VM.
CertRequestReply answer_cert_request(std::span<const std::byte> blob, uint64_t gpa,
                                     uint64_t npages, GuestMemoryView& memory);

}  // namespace cvm::vmm::snp
