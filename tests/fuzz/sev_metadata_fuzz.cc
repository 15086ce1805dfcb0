// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the OVMF SEV parsers (ASEV metadata, SEV-ES reset block, hashes area)
// and the SNP launch-plan builder on top of them: arbitrary bytes as a firmware image must
// yield a value or an Error, never a crash, an out-of-bounds read or an abort; and every
// plan that builds must lower into commands with the same launch digest.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "firmware/ovmf/sev_metadata.h"
#include "firmware/snp/launch_digest.h"
#include "firmware/snp/lower.h"
#include "firmware/snp/snp_launch_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::span<const std::byte> image(reinterpret_cast<const std::byte*>(data), size);
  auto info = cvm::firmware::ovmf::parse_sev_firmware(image);
  if (!info.has_value() || size == 0 || size % 4096 != 0 || size > (std::size_t{1} << 20)) {
    return 0;
  }
  // Plans for images that parse: exercise section kinds, kernel-hashes placement and VMSAs.
  cvm::firmware::snp::SnpLaunchInputs inputs;
  inputs.firmware = std::make_shared<const std::vector<std::byte>>(image.begin(), image.end());
  inputs.vcpus = 2;
  inputs.vmm = size % 8192 == 0 ? cvm::firmware::snp::VmmType::kEc2
                                : cvm::firmware::snp::VmmType::kQemu;
  if ((data[0] & 1) != 0) {
    inputs.kernel_hashes = cvm::firmware::snp::KernelHashes{};
  }
  for (const auto mode : {cvm::firmware::snp::SevMode::kSnp, cvm::firmware::snp::SevMode::kSevEs}) {
    inputs.mode = mode;
    auto plan = cvm::firmware::snp::build_snp_launch_plan(inputs);
    if (!plan.has_value()) {
      continue;
    }
    // Differential check: executing the lowered commands must measure what the plan fold
    // predicts (architecture-anchors §B.8).
    const auto predicted = cvm::firmware::snp::measure_snp(*plan);
    if (mode == cvm::firmware::snp::SevMode::kSnp) {
      auto commands = cvm::firmware::snp::lower_snp_plan(*plan);
      if (!commands.has_value() ||
          cvm::firmware::snp::measure_snp_commands(*commands) != predicted) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
