// SPDX-License-Identifier: Apache-2.0
// RTMR model for a cvmm TDX direct-boot launch.
//
// RTMR[i] starts at 48 zero bytes; each TDG.MR.RTMR.EXTEND sets RTMR[i] = SHA-384(RTMR[i] ||
// digest) (TDX module ABI). Which events the guest extends depends entirely on the firmware
// build, so the model is keyed by the firmware image's SHA-256 and refuses images it does not
// know (kNotFound) instead of guessing.
//
// Known builds and what they extend:
//   Debian 12 ovmf 2022.11-6+deb12u2 /usr/share/ovmf/OVMF.fd (edk2-stable202211 OvmfPkgX64):
//   no RTMR event at all. In edk2-stable202211 the only RTMR-extending code is HashLibTdx, linked
//   only into OvmfPkg/IntelTdx/IntelTdxX64.dsc (TdTcg2Dxe, PeilessStartupLib's MeasureHobList /
//   MeasureFvImage); "Support Tdx measurement in OvmfPkgX64" (edk2 4d37059d8e) came in 2023-02.
//   The image's DXE volume contains Tcg2Dxe/TcgDxe (vTPM) but no TdTcg2Dxe, so there is no
//   EFI_CC_MEASUREMENT_PROTOCOL and the Linux EFI stub cannot measure either: RTMR[0..3] = 0.
//
// Input-defined digests (what a CC-measuring TDVF + Linux EFI stub would extend; reported for
// reference, extended only for builds known to do so - none yet):
//   TD HOB    RTMR[0] EV_EFI_HANDOFF_TABLES2: SHA-384 of the HOB list *without* the End HOB
//             (edk2-stable202211 PeilessStartupLib/IntelTdx.c MeasureHobList)
//   CFV       RTMR[0] EV_EFI_PLATFORM_FIRMWARE_BLOB2: SHA-384 of the CFV raw bytes (MeasureFvImage)
//   kernel    RTMR[1] EV_EFI_BOOT_SERVICES_APPLICATION: PE/COFF Authenticode SHA-384
//             (pe_authenticode.h) of the kernel image LoadImage sees. Under QEMU that is the
//             bzImage with QEMU's setup-header patches (fw_cfg kernel = patched setup + rest),
//             so the digest of the file as given matches only a VMM that passes it unmodified
//   cmdline   RTMR[2] (PCR 9) Linux stub "LOADED_IMAGE::LoadOptions": SHA-384 of the UTF-16LE
//             LoadOptions *including* the NUL. edk2-stable202211 X86QemuLoadImageLib builds them
//             as the fw_cfg command line, each byte widened to CHAR16, with " initrd=initrd"
//             appended when an initrd is present
//   initrd    RTMR[2] (PCR 9) Linux stub "Linux initrd": SHA-384 of the initrd bytes
// Not modelled (needed before any measuring build can be added): EV_SEPARATORs, the UEFI
// (secure-boot and boot) variable events, ACPI table / fw_cfg events, EV_EFI_ACTION events
// ("Calling EFI Application from Boot Option", "Exit Boot Services ..."), and how cvmm hands the
// kernel to the firmware (fw_cfg header patching).
#pragma once

#include "base/result.h"
#include "firmware/sha.h"
#include "firmware/tdx/mrtd.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cvm::firmware::tdx {

inline constexpr std::size_t kRtmrCount = 4;
using RtmrValues = std::array<Sha384Digest, kRtmrCount>;

/// TDG.MR.RTMR.EXTEND: SHA-384(current || digest).
Sha384Digest rtmr_extend(const Sha384Digest& current, const Sha384Digest& digest);

struct RtmrEvent {
  /// 0..3.
  uint32_t rtmr = 0;
  /// TCG event type as logged in the CC event log (e.g. EV_EVENT_TAG = 6).
  uint32_t event_type = 0;
  std::string description;
  Sha384Digest digest{};
};

/// Replays `events` from all-zero registers.
RtmrValues replay_rtmrs(std::span<const RtmrEvent> events);

/// Direct-boot inputs handed to the firmware (what QEMU passes through fw_cfg).
struct DirectBootInputs {
  std::optional<std::span<const std::byte>> kernel;
  std::optional<std::span<const std::byte>> initrd;
  std::optional<std::string> cmdline;
};

/// The UTF-16LE LoadOptions edk2-stable202211 X86QemuLoadImageLib builds, NUL included; empty
/// when there is neither a command line nor an initrd (LoadOptions = NULL).
std::vector<std::byte> qemu_load_options(std::string_view cmdline, bool initrd_present);

/// SHA-384 of `cmdline` as UTF-16LE (bytes widened) with the UTF-16 NUL terminator.
Sha384Digest cmdline_event_digest(std::string_view cmdline);

/// A firmware build whose RTMR behaviour is known.
struct TdvfBuild {
  std::string_view name;
  std::string_view sha256_hex;
  /// False: the build extends no RTMR.
  bool extends_rtmrs = false;
};

/// The known build with this image's SHA-256; kNotFound naming the hash otherwise.
Result<TdvfBuild> identify_tdvf_build(std::span<const std::byte> image);

struct RtmrModel {
  TdvfBuild build;
  /// Events the firmware extends, in order.
  std::vector<RtmrEvent> events;
  RtmrValues values{};
  /// Input-defined digests a CC-measuring firmware would extend (see the file comment); not
  /// part of `events` unless the build extends them.
  std::vector<RtmrEvent> input_digests;
};

/// The RTMR model for `launch` booted from `image` with `boot`. kNotFound for unknown builds;
/// kMalformedImage if the kernel is not a PE/COFF (EFI stub) image.
Result<RtmrModel> model_rtmrs(std::span<const std::byte> image, const TdxLaunch& launch,
                              const DirectBootInputs& boot);

}  // namespace cvm::firmware::tdx
