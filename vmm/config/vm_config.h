// SPDX-License-Identifier: Apache-2.0
// The one VM configuration model. The CLI (`cvmm run ...`), the JSON file (`--config`) and
// the API socket all produce a VmConfig; vmm::run_vm() consumes it. Plain data, validated by
// validate_config() in vm_config.cc (added by the config owner).
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
};

struct CpusConfig {
  unsigned boot_vcpus = 1;  // --cpus boot=N
};

struct MemoryConfig {
  uint64_t size_bytes = 512ull << 20;  // --memory size=512M
  bool guest_memfd = false;            // back RAM by KVM_CREATE_GUEST_MEMFD (MMAP|INIT_SHARED)
  bool hugepages = false;              // MAP_HUGETLB (2 MiB pages)
};

enum class SerialMode { kTty, kFile, kOff };

struct SerialConfig {
  SerialMode mode = SerialMode::kTty;  // --serial tty|file=PATH|off
  std::string file;                    // for kFile
};

/// virtio-blk disk (issue: virtio devices).
struct DiskConfig {
  std::string path;
  bool readonly = false;
  std::string id;  // serial returned by VIRTIO_BLK_T_GET_ID
};

/// virtio-vsock with hybrid-vsock Unix socket (issue: virtio devices).
struct VsockConfig {
  uint64_t cid = 3;
  std::string socket;
};

/// Which TEE, if any (issue: TEE backends).
enum class TeeKind { kNone, kTdx, kSevSnp };

struct PlatformConfig {
  TeeKind tee = TeeKind::kNone;
  std::optional<uint64_t> snp_policy;
  std::vector<uint8_t> host_data;    // SNP HOST_DATA (32 bytes)
  std::vector<uint8_t> mrconfigid;   // TDX MRCONFIGID (48 bytes)
};

struct VmConfig {
  PayloadConfig payload;
  CpusConfig cpus;
  MemoryConfig memory;
  SerialConfig serial;
  std::vector<DiskConfig> disks;
  std::optional<VsockConfig> vsock;
  PlatformConfig platform;
};

}  // namespace cvm::vmm
