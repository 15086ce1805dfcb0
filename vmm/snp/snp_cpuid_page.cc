// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_cpuid_page.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/byte_reader.h"

namespace cvm::vmm::snp {
namespace {

// Entry field offsets (§3.9).
constexpr std::size_t kEaxIn = 0;
constexpr std::size_t kEcxIn = 4;
constexpr std::size_t kXcr0In = 8;
constexpr std::size_t kXssIn = 16;
constexpr std::size_t kEax = 24;
constexpr std::size_t kEbx = 28;
constexpr std::size_t kEcx = 32;
constexpr std::size_t kEdx = 36;

constexpr uint32_t kLeaf1TscDeadline = 1u << 24;          // CPUID.1:ECX[24]
constexpr uint32_t kLeaf7TscAdjust = 1u << 1;             // CPUID.7.0:EBX[1]
constexpr uint32_t kLeaf7SpecCtrlFamily = 0xfc000000u;    // CPUID.7.0:EDX[31:26]
constexpr uint32_t kLeaf80000008VirtSsbd = 1u << 25;      // CPUID.80000008:EBX[25]
constexpr uint32_t kXsaveLegacyAreaSize = 0x240;          // 512-byte legacy area + 64 header

template <std::unsigned_integral T>
void put(std::span<std::byte> page, std::size_t at, T value) {
  store_le<T>(page.subspan(at).first<sizeof(T)>(), value);
}

template <std::unsigned_integral T>
T get(std::span<const std::byte> page, std::size_t at) {
  return load_le<T>(page.subspan(at).first<sizeof(T)>());
}

void mask_features(SnpCpuidFunction& f) {
  if (f.eax_in == 1) {
    f.ecx &= ~kLeaf1TscDeadline;
  } else if (f.eax_in == 7 && f.ecx_in == 0) {
    f.ebx &= ~kLeaf7TscAdjust;
    f.edx &= ~kLeaf7SpecCtrlFamily;
  } else if (f.eax_in == 0x80000008) {
    f.ebx &= ~kLeaf80000008VirtSsbd;
  } else if (f.eax_in == 0xd && (f.ecx_in == 0 || f.ecx_in == 1)) {
    f.xcr0_in = 1;
    f.ebx = kXsaveLegacyAreaSize;
  }
}

void diff_field(std::vector<std::string>& out, const SnpCpuidFunction& f, const char* name,
                uint64_t offered, uint64_t corrected) {
  if (offered != corrected) {
    out.push_back(fmt::format("leaf {:#x}.{:x}: {} {:#x} -> {:#x}", f.eax_in, f.ecx_in, name,
                              offered, corrected));
  }
}

}  // namespace

Result<std::vector<SnpCpuidFunction>> snp_cpuid_functions(std::span<const x86::CpuidEntry> cpuid) {
  if (cpuid.size() > kSnpCpuidMaxEntries) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "the vCPU has {} CPUID entries; the SNP CPUID page holds at most {}",
                      cpuid.size(), kSnpCpuidMaxEntries);
  }
  std::vector<SnpCpuidFunction> functions;
  functions.reserve(cpuid.size());
  for (const x86::CpuidEntry& entry : cpuid) {
    SnpCpuidFunction f;
    f.eax_in = entry.function;
    f.ecx_in = (entry.flags & x86::kCpuidFlagSignificantIndex) != 0 ? entry.index : 0;
    f.eax = entry.eax;
    f.ebx = entry.ebx;
    f.ecx = entry.ecx;
    f.edx = entry.edx;
    mask_features(f);
    functions.push_back(f);
  }
  return functions;
}

std::vector<std::byte> encode_snp_cpuid_page(std::span<const SnpCpuidFunction> functions) {
  std::vector<std::byte> page(kSnpCpuidPageSize);
  const std::size_t count = std::min(functions.size(), kSnpCpuidMaxEntries);
  put<uint32_t>(page, 0, static_cast<uint32_t>(count));
  for (std::size_t i = 0; i < count; ++i) {
    const SnpCpuidFunction& f = functions[i];
    const auto entry = std::span<std::byte>(page).subspan(kSnpCpuidHeaderSize +
                                                          i * kSnpCpuidEntrySize);
    put<uint32_t>(entry, kEaxIn, f.eax_in);
    put<uint32_t>(entry, kEcxIn, f.ecx_in);
    put<uint64_t>(entry, kXcr0In, f.xcr0_in);
    put<uint64_t>(entry, kXssIn, f.xss_in);
    put<uint32_t>(entry, kEax, f.eax);
    put<uint32_t>(entry, kEbx, f.ebx);
    put<uint32_t>(entry, kEcx, f.ecx);
    put<uint32_t>(entry, kEdx, f.edx);
  }
  return page;
}

Result<std::vector<SnpCpuidFunction>> decode_snp_cpuid_page(std::span<const std::byte> page) {
  if (page.size() != kSnpCpuidPageSize) {
    return make_error(ErrorCode::kInvalidArgument, "SNP CPUID page: {} bytes, expected {}",
                      page.size(), kSnpCpuidPageSize);
  }
  const uint32_t count = get<uint32_t>(page, 0);
  if (count > kSnpCpuidMaxEntries) {
    return make_error(ErrorCode::kInvalidArgument, "SNP CPUID page: count {} exceeds {}", count,
                      kSnpCpuidMaxEntries);
  }
  std::vector<SnpCpuidFunction> functions(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto entry = page.subspan(kSnpCpuidHeaderSize + i * kSnpCpuidEntrySize);
    functions[i] = SnpCpuidFunction{get<uint32_t>(entry, kEaxIn),  get<uint32_t>(entry, kEcxIn),
                                    get<uint64_t>(entry, kXcr0In), get<uint64_t>(entry, kXssIn),
                                    get<uint32_t>(entry, kEax),    get<uint32_t>(entry, kEbx),
                                    get<uint32_t>(entry, kEcx),    get<uint32_t>(entry, kEdx)};
  }
  return functions;
}

std::vector<std::string> diff_snp_cpuid_pages(std::span<const SnpCpuidFunction> offered,
                                              std::span<const SnpCpuidFunction> corrected) {
  std::vector<std::string> out;
  if (offered.size() != corrected.size()) {
    out.push_back(fmt::format("entry count {} -> {}", offered.size(), corrected.size()));
  }
  const std::size_t common = std::min(offered.size(), corrected.size());
  for (std::size_t i = 0; i < common; ++i) {
    const SnpCpuidFunction& a = offered[i];
    const SnpCpuidFunction& b = corrected[i];
    if (a.eax_in != b.eax_in || a.ecx_in != b.ecx_in) {
      out.push_back(fmt::format("entry {}: leaf {:#x}.{:x} -> {:#x}.{:x}", i, a.eax_in, a.ecx_in,
                                b.eax_in, b.ecx_in));
      continue;
    }
    diff_field(out, a, "xcr0_in", a.xcr0_in, b.xcr0_in);
    diff_field(out, a, "xss_in", a.xss_in, b.xss_in);
    diff_field(out, a, "eax", a.eax, b.eax);
    diff_field(out, a, "ebx", a.ebx, b.ebx);
    diff_field(out, a, "ecx", a.ecx, b.ecx);
    diff_field(out, a, "edx", a.edx, b.edx);
  }
  return out;
}

}  // namespace cvm::vmm::snp
