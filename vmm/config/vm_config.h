// SPDX-License-Identifier: Apache-2.0
// The one VM configuration model. The CLI (`cvmm run ...`), the JSON file (`--config`) and
// the API socket all produce a VmConfig; vmm::run_vm() consumes it. Plain data: cli.h and
// json.h build it, validate.h checks cross-field rules and ranges, json.h prints it back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cvm::vmm {

/// Direct kernel boot (bzImage or ELF vmlinux with a PVH note).
struct PayloadConfig {
  std::string kernel;                    // path; required unless `firmware` boots alone
  std::optional<std::string> initramfs;  // path
  std::string cmdline;                   // kernel command line (without VMM-added parts)
  std::optional<std::string> firmware;   // OVMF/TDVF image (measured-boot firmware)

  bool operator==(const PayloadConfig&) const = default;
};

struct CpusConfig {
  unsigned boot_vcpus = 1;  // --cpus boot=N

  bool operator==(const CpusConfig&) const = default;
};

struct MemoryConfig {
  uint64_t size_bytes = 512ull << 20;  // --memory size=512M
  bool guest_memfd = false;            // back RAM by KVM_CREATE_GUEST_MEMFD (MMAP|INIT_SHARED)
  bool hugepages = false;              // MAP_HUGETLB (2 MiB pages)

  bool operator==(const MemoryConfig&) const = default;
};

enum class SerialMode { kTty, kFile, kOff };

struct SerialConfig {
  SerialMode mode = SerialMode::kTty;  // --serial tty|file=PATH|off
  std::string file;                    // for kFile

  bool operator==(const SerialConfig&) const = default;
};

/// virtio-blk disk (issue: virtio devices).
struct DiskConfig {
  std::string path;
  bool readonly = false;
  std::string id;  // serial returned by VIRTIO_BLK_T_GET_ID

  bool operator==(const DiskConfig&) const = default;
};

/// virtio-vsock with hybrid-vsock Unix socket (issue: virtio devices).
struct VsockConfig {
  uint64_t cid = 3;
  std::string socket;

  bool operator==(const VsockConfig&) const = default;
};

/// Which TEE, if any (issue: TEE backends).
enum class TeeKind { kNone, kTdx, kSevSnp };

struct PlatformConfig {
  TeeKind tee = TeeKind::kNone;
  std::optional<uint64_t> snp_policy;
  std::vector<uint8_t> host_data;    // SNP HOST_DATA (32 bytes)
  std::vector<uint8_t> mrconfigid;   // TDX MRCONFIGID (48 bytes)
  std::vector<uint8_t> mrowner;      // TDX MROWNER (48 bytes)
  std::vector<uint8_t> mrownerconfig;  // TDX MROWNERCONFIG (48 bytes)
  std::string quote_socket;          // TDX: Unix socket of the quote generation service (QGS)
  // SEV-SNP launch inputs beyond policy and HOST_DATA (vmm/snp; --platform snp_* keys and
  // JSON platform.snp_*). The vCPU model's CPUID signature goes into RDX of every VMSA and so
  // into the measurement (cvmm-measure snp --vcpu-type); empty means "EPYC-v4".
  std::string snp_vcpu_model;
  /// KVM_SEV_INIT2 vmsa_features (VMSA SEV_FEATURES without SNPActive, which KVM adds), e.g.
  /// 0x20 DebugSwap. Measured (cvmm-measure --guest-features = this | 1). Unset: 0.
  std::optional<uint64_t> snp_vmsa_features;
  std::vector<uint8_t> snp_id_block;  // LAUNCH_FINISH ID block (96 bytes; empty: none)
  std::vector<uint8_t> snp_id_auth;   // ID authentication information (4096 bytes)
  bool snp_author_key_enabled = false;  // the ID auth carries an author key (AUTH_KEY_EN)
  /// Host certificate table served to the guest's Extended Guest Requests (vmm/snp/
  /// snp_certs.h: the GHCB table as AMD's tools export it). Empty: KVM answers with no
  /// certificates. Needs a kernel with KVM_EXIT_SNP_REQ_CERTS (≈7.0).
  std::string snp_certs;
  /// Guest TSC frequency in kHz (--platform tsc_khz, JSON platform.tsc_khz). Unset: KVM's
  /// default, the host TSC frequency. TDX: goes into TD_PARAMS through the VM-scoped
  /// KVM_SET_TSC_KHZ before KVM_TDX_INIT_VM; plain KVM: VM- or vCPU-scoped KVM_SET_TSC_KHZ;
  /// SEV-SNP: refused (validate.cc says why).
  std::optional<uint32_t> tsc_khz;

  bool operator==(const PlatformConfig&) const = default;
};

struct VmConfig {
  PayloadConfig payload;
  CpusConfig cpus;
  MemoryConfig memory;
  SerialConfig serial;
  std::vector<DiskConfig> disks;
  std::optional<VsockConfig> vsock;
  PlatformConfig platform;

  bool operator==(const VmConfig&) const = default;
};

}  // namespace cvm::vmm
