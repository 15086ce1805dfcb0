// SPDX-License-Identifier: Apache-2.0
// Cross-field and range validation of a VmConfig, shared by the CLI, the JSON file and the API
// socket. Pure: file existence is checked at run time by the loaders, not here.
//
// Errors name the offending field the way the user spelled it: a FieldNamer turns a
// ConfigField into "--memory size" (cli.h) or "memory.size" (json.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "vmm/config/vm_config.h"

namespace cvm::vmm::config {

// Limits. Each is documented in `cvmm run --help`.
inline constexpr unsigned kMaxBootVcpus = 255;  // CH's boot_vcpus is a u8, x2APIC not required
inline constexpr uint64_t kMinMemoryBytes = uint64_t{32} << 20;  // a Linux guest needs more anyway
inline constexpr uint64_t kMaxMemoryBytes = uint64_t{1} << 40;   // 1 TiB: micro-VM scope
inline constexpr uint64_t kPageBytes = 4096;
inline constexpr uint64_t kHugepageBytes = uint64_t{2} << 20;    // MAP_HUGETLB default size
inline constexpr std::size_t kDiskIdMaxBytes = 20;   // VIRTIO_BLK_ID_BYTES (virtio 1.2 §5.2.6)
inline constexpr uint64_t kMinVsockCid = 3;           // 0-2 are reserved (hypervisor, local, host)
inline constexpr uint64_t kMaxVsockCid = 0xFFFFFFFE;  // 32-bit CIDs; 0xFFFFFFFF is VMADDR_CID_ANY
inline constexpr std::size_t kMaxUnixSocketPathBytes = 107;  // sizeof(sun_path) - 1
inline constexpr std::size_t kHostDataBytes = 32;     // SNP HOST_DATA (SNP ABI, LAUNCH_FINISH)
inline constexpr std::size_t kMrConfigIdBytes = 48;   // TDX MRCONFIGID (SHA-384 sized)
inline constexpr std::size_t kSnpIdBlockBytes = 96;   // SNP ID block (SNP ABI §8.18 ID_BLOCK)
inline constexpr std::size_t kSnpIdAuthBytes = 4096;  // SNP ID authentication information
// SNP guest policy: bit 17 is reserved and must be one; bits 63:26 are reserved, zero
// (tee-kvm-reference §3.3).
inline constexpr uint64_t kSnpPolicyMustBeOne = uint64_t{1} << 17;
inline constexpr uint64_t kSnpPolicyReservedZero = ~((uint64_t{1} << 26) - 1);
// TD TSC frequency: TD_PARAMS.TSC_FREQUENCY counts units of 25 MHz (the core crystal clock
// of TDX platforms) and must lie in 100 MHz..10 GHz inclusive (Linux
// arch/x86/kvm/vmx/tdx_arch.h TDX_TSC_KHZ_TO_25MHZ, TDX_{MIN,MAX}_TSC_FREQUENCY_KHZ). KVM
// divides the VM's TSC kHz by 25000 without checking the remainder (tdx.c setup_tdparams),
// so an unaligned value would silently become a slower TSC; QEMU refuses both cases before
// KVM_SET_TSC_KHZ (target/i386/kvm/tdx.c tdx_pre_create_vcpu), and so does cvmm.
inline constexpr uint32_t kTdxTscGranularityKhz = 25'000;
inline constexpr uint32_t kTdxMinTscKhz = 100'000;
inline constexpr uint32_t kTdxMaxTscKhz = 10'000'000;

/// Every field a validation error can point at.
enum class ConfigField {
  kKernel,
  kInitramfs,
  kCmdline,
  kFirmware,
  kBootVcpus,
  kMemorySize,
  kGuestMemfd,
  kHugepages,
  kSerialMode,
  kSerialFile,
  kDiskPath,  // indexed
  kDiskId,    // indexed
  kVsockCid,
  kVsockSocket,
  kTdx,
  kSevSnp,
  kSnpPolicy,
  kHostData,
  kMrConfigId,
  kMrOwner,
  kMrOwnerConfig,
  kQuoteSocket,
  kSnpVcpuModel,
  kSnpVmsaFeatures,
  kSnpIdBlock,
  kSnpIdAuth,
  kSnpAuthorKey,
  kSnpCerts,
  kTscKhz,
};

/// Spells a field for an error message; `index` is the disk index for indexed fields.
using FieldNamer = std::string (*)(ConfigField field, std::size_t index);

/// Checks every rule; returns the first violation as kInvalidArgument
/// "<field>: <problem naming the bad value>".
[[nodiscard]] Result<void> validate_config(const VmConfig& config, FieldNamer namer);

}  // namespace cvm::vmm::config
