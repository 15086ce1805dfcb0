// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/launch_digest.h"

#include <algorithm>
#include <vector>

#include "base/byte_reader.h"
#include "base/result.h"

namespace cvm::firmware::snp {
namespace {

// PAGE_INFO field offsets (SEV-SNP ABI spec §8.17.2).
constexpr std::size_t kDigestCurOffset = 0x00;
constexpr std::size_t kContentsOffset = 0x30;
constexpr std::size_t kLengthOffset = 0x60;
constexpr std::size_t kPageTypeOffset = 0x62;
constexpr std::size_t kGpaOffset = 0x68;
static_assert(kContentsOffset == kDigestCurOffset + sizeof(Sha384Digest));
static_assert(kLengthOffset == kContentsOffset + sizeof(Sha384Digest));
static_assert(kGpaOffset + sizeof(uint64_t) == kPageInfoSize);

bool contents_measured(SnpPageType type) {
  return type == SnpPageType::kNormal || type == SnpPageType::kVmsa;
}

// Calls `visit(page_offset, page_bytes)` for each 4 KiB page of `range`, with the blob's
// bytes zero-filled to a whole page. Only a partial tail page is copied.
template <typename Visit>
void for_each_page(const PlanRange& range, Visit&& visit) {
  const std::span<const std::byte> contents = range.contents();
  std::vector<std::byte> tail;
  for (uint64_t at = 0; at < range.size; at += kSnpPageSize) {
    if (at + kSnpPageSize <= contents.size()) {
      visit(at, contents.subspan(at, kSnpPageSize));
      continue;
    }
    tail.assign(kSnpPageSize, std::byte{0});
    if (at < contents.size()) {
      std::copy(contents.begin() + static_cast<long>(at), contents.end(), tail.begin());
    }
    visit(at, std::span<const std::byte>(tail));
  }
}

}  // namespace

SnpPageType snp_page_type(PageKind kind) noexcept {
  switch (kind) {
    case PageKind::kNormal:
      return SnpPageType::kNormal;
    case PageKind::kVmsa:
      return SnpPageType::kVmsa;
    case PageKind::kZero:
      return SnpPageType::kZero;
    case PageKind::kUnmeasured:
      return SnpPageType::kUnmeasured;
    case PageKind::kSecrets:
      return SnpPageType::kSecrets;
    case PageKind::kCpuid:
      return SnpPageType::kCpuid;
  }
  CVM_UNREACHABLE("unknown PageKind");
}

PageInfo encode_page_info(const Sha384Digest& current, const Sha384Digest& contents,
                          SnpPageType type, uint64_t gpa) noexcept {
  PageInfo info{};
  std::copy(current.begin(), current.end(), info.begin() + kDigestCurOffset);
  std::copy(contents.begin(), contents.end(), info.begin() + kContentsOffset);
  store_le<uint16_t>(std::span<std::byte>(info).subspan<kLengthOffset, 2>(), kPageInfoSize);
  info[kPageTypeOffset] = static_cast<std::byte>(type);
  // IMI_PAGE, VMPL3/2/1_PERMS and the reserved byte stay 0.
  store_le<uint64_t>(std::span<std::byte>(info).subspan<kGpaOffset, 8>(), gpa);
  return info;
}

void SnpLaunchDigest::update(SnpPageType type, uint64_t gpa, const Sha384Digest& contents) {
  const PageInfo info = encode_page_info(digest_, contents, type, gpa);
  digest_ = sha384(info);
}

void SnpLaunchDigest::update_page(SnpPageType type, uint64_t gpa,
                                  std::span<const std::byte> page) {
  if (!contents_measured(type)) {
    update(type, gpa, Sha384Digest{});
    return;
  }
  CVM_CHECK(page.size() == kSnpPageSize, "measured SNP pages are 4 KiB");
  update(type, gpa, sha384(page));
}

void SnpLaunchDigest::update_range(const PlanRange& range) {
  const SnpPageType type = snp_page_type(range.kind);
  if (!contents_measured(type)) {
    for (uint64_t at = 0; at < range.size; at += kSnpPageSize) {
      update(type, range.gpa + at, Sha384Digest{});
    }
    return;
  }
  for_each_page(range, [&](uint64_t at, std::span<const std::byte> page) {
    update_page(type, type == SnpPageType::kVmsa ? kVmsaGpa : range.gpa + at, page);
  });
}

Sha384Digest measure_snp(const LaunchPlan& plan) {
  SnpLaunchDigest gctx;
  for (const PlanRange& range : plan.ranges) {
    gctx.update_range(range);
  }
  return gctx.digest();
}

Sha384Digest measure_snp(const LaunchPlan& plan, const Sha384Digest& firmware_digest) {
  CVM_CHECK(plan.firmware_ranges <= plan.ranges.size(), "firmware_ranges within the plan");
  SnpLaunchDigest gctx(firmware_digest);
  for (std::size_t i = plan.firmware_ranges; i < plan.ranges.size(); ++i) {
    gctx.update_range(plan.ranges[i]);
  }
  return gctx.digest();
}

Sha384Digest measure_snp_firmware(const LaunchPlan& plan) {
  CVM_CHECK(plan.firmware_ranges <= plan.ranges.size(), "firmware_ranges within the plan");
  SnpLaunchDigest gctx;
  for (std::size_t i = 0; i < plan.firmware_ranges; ++i) {
    gctx.update_range(plan.ranges[i]);
  }
  return gctx.digest();
}

Sha256Digest measure_sev(const LaunchPlan& plan) {
  Hasher hasher(HashAlgorithm::kSha256);
  static constexpr std::array<std::byte, 4096> kZeros{};
  for (const PlanRange& range : plan.ranges) {
    if (range.kind != PageKind::kNormal && range.kind != PageKind::kVmsa) {
      continue;
    }
    const std::span<const std::byte> contents = range.contents();
    const std::size_t used = std::min<uint64_t>(contents.size(), range.size);
    hasher.update(contents.first(used));
    for (uint64_t left = range.size - used; left > 0;) {
      const std::size_t chunk = std::min<uint64_t>(left, kZeros.size());
      hasher.update(std::span<const std::byte>(kZeros).first(chunk));
      left -= chunk;
    }
  }
  Sha256Digest digest{};
  hasher.finish(digest);
  return digest;
}

}  // namespace cvm::firmware::snp
