// SPDX-License-Identifier: Apache-2.0
// How cvmm hands a Linux bzImage, initrd and command line to firmware over fw_cfg for direct
// kernel boot (OVMF QemuKernelLoaderFsDxe / X86QemuLoadImageLib read the "setup" items 0x17/0x18
// followed by the "kernel" items 0x08/0x11 and concatenate them into one "kernel" file). The
// split follows QEMU hw/i386/x86-common.c x86_load_linux: setup = (setup_sects, 0 meaning 4,
// plus the boot sector) * 512 bytes, kernel = the rest. Neither part is modified, so
// setup ‖ kernel is the file as given and the SEV kernel hash (firmware/snp/kernel_hashes.h,
// SHA-256 of setup ‖ kernel) is the hash of the file: measurement and what the guest receives
// agree by construction. Pure; included by vmm/ and tools/measure.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cvm::firmware {

/// Setup-header offsets used here (Linux Documentation/arch/x86/boot.rst).
inline constexpr std::size_t kBzSetupSectsOffset = 0x1f1;  // u8; 0 means 4
inline constexpr std::size_t kBzHeaderMagicOffset = 0x202;  // "HdrS"
inline constexpr std::size_t kBzVersionOffset = 0x206;      // u16 boot protocol version
inline constexpr std::size_t kBzLoadflagsOffset = 0x211;    // u8; bit 0 LOADED_HIGH
inline constexpr std::size_t kBzSectorSize = 512;

/// The two fw_cfg items of a bzImage: views into the image, in file order.
struct FwCfgKernelParts {
  std::span<const std::byte> setup;   // FW_CFG_SETUP_DATA (0x18)
  std::span<const std::byte> kernel;  // FW_CFG_KERNEL_DATA (0x11)
};

/// The one rule for a kernel handed to firmware (cvmm --firmware with --kernel, and what
/// cvmm-measure --vmm-type cvmm and cvmm-measure tdx accept): a bzImage that fw_cfg can carry
/// as setup + kernel. OVMF starts it as an EFI application when it has an EFI stub and through
/// its Linux boot-protocol loader otherwise (X86QemuLoadImageLib QemuLoadKernelImage); neither
/// takes an ELF vmlinux. Checks: a "HdrS" setup header, boot protocol >= 2.00 with LOADED_HIGH
/// (not a zImage), and a setup shorter than the file.
/// Errors: kMalformedImage "firmware direct boot needs a bzImage (the firmware loads the kernel
/// through fw_cfg): <reason>", the reason naming what is wrong (an ELF vmlinux, a file too short
/// for a setup header, no "HdrS", a zImage's protocol/loadflags, no kernel after the setup).
[[nodiscard]] Result<void> check_firmware_boot_kernel(std::span<const std::byte> image);

/// Splits `image` into setup and protected-mode kernel without changing a byte.
/// Errors: check_firmware_boot_kernel's, with context "kernel".
[[nodiscard]] Result<FwCfgKernelParts> split_bzimage_for_fw_cfg(std::span<const std::byte> image);

/// The FW_CFG_CMDLINE_DATA bytes: `cmdline` followed by its NUL (just "\0" when empty), the
/// same bytes the SEV cmdline hash covers (hash_cmdline).
std::vector<std::byte> fw_cfg_cmdline(std::string_view cmdline);

}  // namespace cvm::firmware
