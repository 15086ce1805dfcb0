// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/rtmr.h"

#include "base/byte_reader.h"
#include "base/hex.h"
#include "firmware/tdx/pe_authenticode.h"

#include <algorithm>

namespace cvm::firmware::tdx {
namespace {

// TCG PC Client PFP spec event types.
constexpr uint32_t kEvEventTag = 0x6;
constexpr uint32_t kEvEfiBootServicesApplication = 0x80000003;
constexpr uint32_t kEvEfiPlatformFirmwareBlob2 = 0x8000000A;
constexpr uint32_t kEvEfiHandoffTables2 = 0x8000000B;

constexpr TdvfBuild kKnownBuilds[] = {
    {.name = "Debian 12 ovmf 2022.11-6+deb12u2 OVMF.fd (edk2-stable202211 OvmfPkgX64, no RTMR "
             "measurement)",
     .sha256_hex = "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773",
     .extends_rtmrs = false},
};

/// The HOB list as MeasureHobList hashes it: from the PHIT up to (excluding) the End HOB.
std::span<const std::byte> hob_list_without_end(const TdxLaunch& launch) {
  if (!launch.td_hob || launch.td_hob->size() < kPhitHobSize) {
    return {};
  }
  const std::span<const std::byte> hob(*launch.td_hob);
  const uint64_t end_of_list = load_le<uint64_t>(hob.subspan<48, 8>());
  const uint64_t length = end_of_list - launch.plan.td_hob_gpa - kEndHobSize;
  return hob.first(static_cast<std::size_t>(std::min<uint64_t>(length, hob.size())));
}

Result<std::vector<RtmrEvent>> input_digests(std::span<const std::byte> image,
                                             const TdxLaunch& launch,
                                             const DirectBootInputs& boot) {
  std::vector<RtmrEvent> out;
  if (launch.td_hob) {
    out.push_back({0, kEvEfiHandoffTables2, "TD HOB (without the End HOB)",
                   sha384(hob_list_without_end(launch))});
  }
  for (const TdvfSection& s : launch.metadata.sections) {
    if (s.type == TdvfSectionType::kCfv) {
      // Bounds were validated by parse_tdvf_metadata.
      out.push_back({0, kEvEfiPlatformFirmwareBlob2, "CFV raw bytes",
                     sha384(image.subspan(s.data_offset, s.raw_data_size))});
    }
  }
  if (boot.kernel) {
    auto digest = pe_authenticode_sha384(*boot.kernel);
    if (!digest) {
      return std::move(digest).error().context("kernel (an EFI-stub bzImage is required)");
    }
    out.push_back({1, kEvEfiBootServicesApplication,
                   "kernel PE Authenticode (of the file as given; a VMM that patches the setup "
                   "header, as QEMU does, changes it)",
                   *digest});
  }
  const bool has_initrd = boot.initrd.has_value();
  if (boot.cmdline.has_value() || has_initrd) {
    const std::vector<std::byte> options = qemu_load_options(boot.cmdline.value_or(""), has_initrd);
    if (!options.empty()) {
      out.push_back({2, kEvEventTag, "Linux EFI stub LOADED_IMAGE::LoadOptions (UTF-16LE + NUL)",
                     sha384(options)});
    }
  }
  if (has_initrd) {
    out.push_back({2, kEvEventTag, "Linux EFI stub initrd", sha384(*boot.initrd)});
  }
  return out;
}

}  // namespace

Sha384Digest rtmr_extend(const Sha384Digest& current, const Sha384Digest& digest) {
  Sha384Digest out{};
  Hasher(HashAlgorithm::kSha384).update(current).update(digest).finish(out);
  return out;
}

RtmrValues replay_rtmrs(std::span<const RtmrEvent> events) {
  RtmrValues values{};
  for (const RtmrEvent& event : events) {
    CVM_CHECK(event.rtmr < kRtmrCount, "RTMR index out of range");
    values[event.rtmr] = rtmr_extend(values[event.rtmr], event.digest);
  }
  return values;
}

std::vector<std::byte> qemu_load_options(std::string_view cmdline, bool initrd_present) {
  std::string text(cmdline);
  if (initrd_present) {
    text += " initrd=initrd";
  }
  if (text.empty()) {
    return {};
  }
  std::vector<std::byte> out;
  out.reserve(2 * text.size() + 2);
  for (const char c : text) {
    // UnicodeSPrintAsciiFormat widens each byte to a CHAR16 (no UTF-8 decoding).
    out.push_back(static_cast<std::byte>(static_cast<unsigned char>(c)));
    out.push_back(std::byte{0});
  }
  out.push_back(std::byte{0});
  out.push_back(std::byte{0});
  return out;
}

Sha384Digest cmdline_event_digest(std::string_view cmdline) {
  std::vector<std::byte> utf16;
  for (const char c : cmdline) {
    utf16.push_back(static_cast<std::byte>(static_cast<unsigned char>(c)));
    utf16.push_back(std::byte{0});
  }
  utf16.push_back(std::byte{0});
  utf16.push_back(std::byte{0});
  return sha384(utf16);
}

Result<TdvfBuild> identify_tdvf_build(std::span<const std::byte> image) {
  const std::string hash = to_hex(sha256(image));
  for (const TdvfBuild& build : kKnownBuilds) {
    if (build.sha256_hex == hash) {
      return build;
    }
  }
  return make_error(ErrorCode::kNotFound,
                    "firmware with sha256 {} is not a TDVF build whose RTMR measurements cvmm "
                    "knows; refusing to predict RTMRs",
                    hash);
}

Result<RtmrModel> model_rtmrs(std::span<const std::byte> image, const TdxLaunch& launch,
                              const DirectBootInputs& boot) {
  CVM_ASSIGN_OR_RETURN(TdvfBuild build, identify_tdvf_build(image));
  RtmrModel model{.build = build, .events = {}, .values = {}, .input_digests = {}};
  CVM_ASSIGN_OR_RETURN(model.input_digests, input_digests(image, launch, boot));
  // Every known build so far extends nothing (see rtmr.h); a measuring build would fill
  // model.events here from its own event sequence.
  CVM_CHECK(!build.extends_rtmrs, "no RTMR event sequence is modelled for measuring builds");
  model.values = replay_rtmrs(model.events);
  return model;
}

}  // namespace cvm::firmware::tdx
