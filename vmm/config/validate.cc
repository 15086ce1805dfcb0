// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/validate.h"

#include <string_view>

#include "vmm/config/value_parsers.h"

namespace cvm::vmm::config {
namespace {

/// Builds "<field>: <problem>" errors with the caller's spelling of field names.
class Checker {
 public:
  explicit Checker(FieldNamer namer) : namer_(namer) {}

  std::string name(ConfigField field, std::size_t index = 0) const { return namer_(field, index); }

  template <typename... Args>
  Error fail(ConfigField field, std::size_t index, fmt::format_string<Args...> format,
             Args&&... args) const {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {}", name(field, index),
                             fmt::format(format, std::forward<Args>(args)...)));
  }

  /// Paths and strings reach open(2) and the guest as C strings, where an embedded NUL would
  /// silently truncate them; and the config must print as JSON, which needs UTF-8.
  Result<void> plain_text(ConfigField field, std::size_t index, std::string_view text) const {
    if (text.find('\0') != std::string_view::npos) {
      return fail(field, index, "contains a NUL byte");
    }
    if (!is_valid_utf8(text)) {
      return fail(field, index, "is not valid UTF-8");
    }
    return ok();
  }

  Result<void> path(ConfigField field, std::size_t index, std::string_view text) const {
    if (text.empty()) {
      return fail(field, index, "empty path");
    }
    return plain_text(field, index, text);
  }

 private:
  FieldNamer namer_;
};

Result<void> check_payload(const PayloadConfig& payload, const Checker& check) {
  if (payload.kernel.empty() && !payload.firmware) {
    return check.fail(ConfigField::kKernel, 0, "required unless {} is given",
                      check.name(ConfigField::kFirmware));
  }
  if (!payload.kernel.empty()) {
    CVM_TRY(check.plain_text(ConfigField::kKernel, 0, payload.kernel));
  }
  if (payload.initramfs) {
    CVM_TRY(check.path(ConfigField::kInitramfs, 0, *payload.initramfs));
    if (payload.kernel.empty()) {
      return check.fail(ConfigField::kInitramfs, 0, "needs {}", check.name(ConfigField::kKernel));
    }
  }
  if (payload.firmware) {
    CVM_TRY(check.path(ConfigField::kFirmware, 0, *payload.firmware));
  }
  if (!payload.cmdline.empty() && payload.kernel.empty()) {
    return check.fail(ConfigField::kCmdline, 0, "needs {}", check.name(ConfigField::kKernel));
  }
  return check.plain_text(ConfigField::kCmdline, 0, payload.cmdline);
}

Result<void> check_cpus_and_memory(const VmConfig& config, const Checker& check) {
  const unsigned vcpus = config.cpus.boot_vcpus;
  if (vcpus < 1 || vcpus > kMaxBootVcpus) {
    return check.fail(ConfigField::kBootVcpus, 0, "{} is out of range (1 to {})", vcpus,
                      kMaxBootVcpus);
  }
  const MemoryConfig& memory = config.memory;
  const uint64_t size = memory.size_bytes;
  if (size < kMinMemoryBytes) {
    return check.fail(ConfigField::kMemorySize, 0, "{} is below the minimum of {}",
                      format_size(size), format_size(kMinMemoryBytes));
  }
  if (size > kMaxMemoryBytes) {
    return check.fail(ConfigField::kMemorySize, 0, "{} exceeds the maximum of {}",
                      format_size(size), format_size(kMaxMemoryBytes));
  }
  if (size % kPageBytes != 0) {
    return check.fail(ConfigField::kMemorySize, 0, "{} is not a multiple of {}", format_size(size),
                      format_size(kPageBytes));
  }
  if (memory.hugepages && size % kHugepageBytes != 0) {
    return check.fail(ConfigField::kMemorySize, 0, "{} is not a multiple of {} (needed by {})",
                      format_size(size), format_size(kHugepageBytes),
                      check.name(ConfigField::kHugepages));
  }
  // guest_memfd pages come from KVM's own allocator, not from a MAP_HUGETLB mapping.
  if (memory.hugepages && memory.guest_memfd) {
    return check.fail(ConfigField::kHugepages, 0, "cannot be combined with {}",
                      check.name(ConfigField::kGuestMemfd));
  }
  return ok();
}

Result<void> check_serial(const SerialConfig& serial, const Checker& check) {
  if (serial.mode == SerialMode::kFile) {
    return check.path(ConfigField::kSerialFile, 0, serial.file);
  }
  if (!serial.file.empty()) {
    return check.fail(ConfigField::kSerialFile, 0, "is only valid in file mode");
  }
  return ok();
}

Result<void> check_disks(const std::vector<DiskConfig>& disks, const Checker& check) {
  for (std::size_t i = 0; i < disks.size(); ++i) {
    const DiskConfig& disk = disks[i];
    CVM_TRY(check.path(ConfigField::kDiskPath, i, disk.path));
    CVM_TRY(check.plain_text(ConfigField::kDiskId, i, disk.id));
    if (disk.id.size() > kDiskIdMaxBytes) {
      return check.fail(ConfigField::kDiskId, i, "{} is longer than {} bytes", quote(disk.id),
                        kDiskIdMaxBytes);
    }
    for (std::size_t j = 0; j < i && !disk.id.empty(); ++j) {
      if (disks[j].id == disk.id) {
        return check.fail(ConfigField::kDiskId, i, "{} is already used by {}", quote(disk.id),
                          check.name(ConfigField::kDiskId, j));
      }
    }
  }
  return ok();
}

Result<void> check_vsock(const VsockConfig& vsock, const Checker& check) {
  if (vsock.cid < kMinVsockCid || vsock.cid > kMaxVsockCid) {
    return check.fail(ConfigField::kVsockCid, 0, "{} is out of range ({} to {})", vsock.cid,
                      kMinVsockCid, kMaxVsockCid);
  }
  CVM_TRY(check.path(ConfigField::kVsockSocket, 0, vsock.socket));
  if (vsock.socket.size() > kMaxUnixSocketPathBytes) {
    return check.fail(ConfigField::kVsockSocket, 0,
                      "path is {} bytes, longer than the {} a unix socket address holds",
                      vsock.socket.size(), kMaxUnixSocketPathBytes);
  }
  return ok();
}

Result<void> check_snp_policy(uint64_t policy, const Checker& check) {
  if ((policy & kSnpPolicyMustBeOne) == 0) {
    return check.fail(ConfigField::kSnpPolicy, 0, "{:#x} has bit 17 clear (reserved, must be 1)",
                      policy);
  }
  if ((policy & kSnpPolicyReservedZero) != 0) {
    return check.fail(ConfigField::kSnpPolicy, 0, "{:#x} sets reserved bits 63:26", policy);
  }
  return ok();
}

// The SEV-SNP launch inputs beyond policy and HOST_DATA (vmm/snp): all need sev_snp; the ID
// block and its authentication structure come together, and the author key lives in the latter.
Result<void> check_snp_launch_fields(const PlatformConfig& platform, const Checker& check) {
  const bool snp = platform.tee == TeeKind::kSevSnp;
  const std::string snp_name = check.name(ConfigField::kSevSnp);
  const std::pair<ConfigField, bool> fields[] = {
      {ConfigField::kSnpVcpuModel, !platform.snp_vcpu_model.empty()},
      {ConfigField::kSnpVmsaFeatures, platform.snp_vmsa_features.has_value()},
      {ConfigField::kSnpIdBlock, !platform.snp_id_block.empty()},
      {ConfigField::kSnpIdAuth, !platform.snp_id_auth.empty()},
      {ConfigField::kSnpAuthorKey, platform.snp_author_key_enabled},
      {ConfigField::kSnpCerts, !platform.snp_certs.empty()}};
  for (const auto& [field, set] : fields) {
    if (set && !snp) {
      return check.fail(field, 0, "needs {}", snp_name);
    }
  }
  CVM_TRY(check.plain_text(ConfigField::kSnpVcpuModel, 0, platform.snp_vcpu_model));
  if (!platform.snp_certs.empty()) {
    CVM_TRY(check.path(ConfigField::kSnpCerts, 0, platform.snp_certs));
  }
  if (!platform.snp_id_block.empty() && platform.snp_id_block.size() != kSnpIdBlockBytes) {
    return check.fail(ConfigField::kSnpIdBlock, 0, "is {} bytes, expected {}",
                      platform.snp_id_block.size(), kSnpIdBlockBytes);
  }
  if (!platform.snp_id_auth.empty() && platform.snp_id_auth.size() != kSnpIdAuthBytes) {
    return check.fail(ConfigField::kSnpIdAuth, 0, "is {} bytes, expected {}",
                      platform.snp_id_auth.size(), kSnpIdAuthBytes);
  }
  if (platform.snp_id_block.empty() != platform.snp_id_auth.empty()) {
    return check.fail(platform.snp_id_block.empty() ? ConfigField::kSnpIdAuth
                                                    : ConfigField::kSnpIdBlock,
                      0, "needs {}",
                      check.name(platform.snp_id_block.empty() ? ConfigField::kSnpIdBlock
                                                               : ConfigField::kSnpIdAuth));
  }
  if (platform.snp_author_key_enabled && platform.snp_id_auth.empty()) {
    return check.fail(ConfigField::kSnpAuthorKey, 0, "needs {}",
                      check.name(ConfigField::kSnpIdAuth));
  }
  return ok();
}

// The guest TSC frequency (vm_config.h PlatformConfig::tsc_khz). KVM itself takes 0 as "the
// host's frequency"; cvmm spells that by leaving the key out.
Result<void> check_tsc_khz(const PlatformConfig& platform, const Checker& check) {
  if (!platform.tsc_khz) {
    return ok();
  }
  const uint32_t khz = *platform.tsc_khz;
  if (khz == 0) {
    return check.fail(ConfigField::kTscKhz, 0,
                      "0 is not a frequency (leave the key out to keep the host's)");
  }
  switch (platform.tee) {
    case TeeKind::kNone:
      return ok();  // KVM checks it against the host's TSC scaling limit
    case TeeKind::kSevSnp:
      // KVM hands an SNP guest's VM TSC to the PSP only for Secure TSC guests (SNP_LAUNCH_START
      // desired_tsc_khz, Linux's SVM_SEV_FEAT_SECURE_TSC series of 2025), which cvmm does not
      // launch; vmm/snp's TeeRequirements has vm_tsc_khz false.
      return check.fail(ConfigField::kTscKhz, 0, "is not supported with {}",
                        check.name(ConfigField::kSevSnp));
    case TeeKind::kTdx:
      break;
  }
  if (khz < kTdxMinTscKhz || khz > kTdxMaxTscKhz) {
    return check.fail(ConfigField::kTscKhz, 0,
                      "{} kHz is outside the TDX module's range ({} to {} kHz)", khz,
                      kTdxMinTscKhz, kTdxMaxTscKhz);
  }
  if (khz % kTdxTscGranularityKhz != 0) {
    return check.fail(ConfigField::kTscKhz, 0,
                      "{} kHz is not a multiple of {} kHz (TDX sets the TSC in 25 MHz units)",
                      khz, kTdxTscGranularityKhz);
  }
  return ok();
}

Result<void> check_platform(const VmConfig& config, const Checker& check) {
  const PlatformConfig& platform = config.platform;
  const bool snp = platform.tee == TeeKind::kSevSnp;
  const bool tdx = platform.tee == TeeKind::kTdx;
  const std::string snp_name = check.name(ConfigField::kSevSnp);
  const std::string tdx_name = check.name(ConfigField::kTdx);
  if (platform.snp_policy) {
    if (!snp) {
      return check.fail(ConfigField::kSnpPolicy, 0, "needs {}", snp_name);
    }
    CVM_TRY(check_snp_policy(*platform.snp_policy, check));
  }
  if (!platform.host_data.empty()) {
    if (!snp) {
      return check.fail(ConfigField::kHostData, 0, "needs {}", snp_name);
    }
    if (platform.host_data.size() != kHostDataBytes) {
      return check.fail(ConfigField::kHostData, 0, "is {} bytes, expected {}",
                        platform.host_data.size(), kHostDataBytes);
    }
  }
  if (!platform.mrconfigid.empty()) {
    if (!tdx) {
      return check.fail(ConfigField::kMrConfigId, 0, "needs {}", tdx_name);
    }
    if (platform.mrconfigid.size() != kMrConfigIdBytes) {
      return check.fail(ConfigField::kMrConfigId, 0, "is {} bytes, expected {}",
                        platform.mrconfigid.size(), kMrConfigIdBytes);
    }
  }
  const std::pair<ConfigField, const std::vector<uint8_t>*> owner_fields[] = {
      {ConfigField::kMrOwner, &platform.mrowner},
      {ConfigField::kMrOwnerConfig, &platform.mrownerconfig}};
  for (const auto& [field, bytes] : owner_fields) {
    if (bytes->empty()) {
      continue;
    }
    if (!tdx) {
      return check.fail(field, 0, "needs {}", tdx_name);
    }
    if (bytes->size() != kMrConfigIdBytes) {
      return check.fail(field, 0, "is {} bytes, expected {}", bytes->size(), kMrConfigIdBytes);
    }
  }
  if (!platform.quote_socket.empty() && !tdx) {
    return check.fail(ConfigField::kQuoteSocket, 0, "needs {}", tdx_name);
  }
  if (!platform.quote_socket.empty()) {
    CVM_TRY(check.path(ConfigField::kQuoteSocket, 0, platform.quote_socket));
  }
  CVM_TRY(check_snp_launch_fields(platform, check));
  CVM_TRY(check_tsc_khz(platform, check));
  // A TD starts at the reset vector in 32-bit mode; only TDVF/td-shim can boot it.
  if (tdx && !config.payload.firmware) {
    return check.fail(ConfigField::kTdx, 0, "needs {} (TDVF or td-shim)",
                      check.name(ConfigField::kFirmware));
  }
  return ok();
}

}  // namespace

Result<void> validate_config(const VmConfig& config, FieldNamer namer) {
  const Checker check(namer);
  CVM_TRY(check_payload(config.payload, check));
  CVM_TRY(check_cpus_and_memory(config, check));
  CVM_TRY(check_serial(config.serial, check));
  CVM_TRY(check_disks(config.disks, check));
  if (config.vsock) {
    CVM_TRY(check_vsock(*config.vsock, check));
  }
  return check_platform(config, check);
}

}  // namespace cvm::vmm::config
