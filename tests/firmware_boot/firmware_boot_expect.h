// SPDX-License-Identifier: Apache-2.0
// What the reset-vector test firmware (reset_vector_fw.S) must print on an i440FX/PIIX
// platform with 128 MiB of RAM and one vCPU, shared by the QEMU and the cvmm test so both
// platforms are held to the same values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cvm::test::firmware_boot {

/// The image built by CMake (64 KiB, reset vector in its last 16 bytes).
inline constexpr const char* kResetVectorFirmware = CVMM_RESET_FW;

/// The "CVMMFW ..." lines in order. Values: QEMU 7.2 `-M pc -m 128` (i440FX 8086:1237 rev 2,
/// PIIX3 8086:7000 multi-function, PIIX4 PM 8086:7113 rev 3, CMOS bytes of pc_cmos_init()).
std::vector<std::string> expected_report();

/// The "CVMMFW " lines of a serial log, CRs dropped.
std::vector<std::string> firmware_lines(std::string_view serial);

}  // namespace cvm::test::firmware_boot
