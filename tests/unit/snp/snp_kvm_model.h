// SPDX-License-Identifier: Apache-2.0
// SnpKvmModel: a kvm::Sys that plays /dev/kvm, /dev/sev and an SEV-SNP VM of a Linux 6.11+
// host, checking every call against the documented rules (tee-kvm-reference §1.3-§1.5,
// §3.1-§3.6) instead of executing it:
//   - struct sizes come from the request numbers; reserved/pad/flags fields must be zero;
//     kvm_sev_cmd.error must be initialised (SEV_RET_NO_FW_CALL or 0) and sev_fd must be an
//     open /dev/sev;
//   - order: KVM_SEV_INIT2 once, before any vCPU; SNP_LAUNCH_START once, after INIT2;
//     SNP_ENABLE_REQ_CERTS (≈7.0) only on a host whose KVM_X86_SEV_SNP_REQ_CERTS reads 1, after
//     INIT2 and before any vCPU exists (kvm_sev_cmd.data is not read and may be 0);
//     LAUNCH_UPDATE only between START and FINISH; vCPUs created before FINISH; FINISH once;
//     no register writes after FINISH (the VMSA is encrypted);
//   - LAUNCH_UPDATE: valid page type (1, 3, 4, 5, 6), SECRETS and CPUID exactly one page,
//     page-aligned non-zero len, 4 KiB-aligned uaddr (except ZERO), every page inside a
//     guest_memfd slot, PRIVATE, and never populated before (EEXIST);
//   - policy: bit 17 set, only bits KVM accepts; vmsa_features a subset of the supported set;
//   - guest_memfd for SNP without flags, slots with KVM_MEM_GUEST_MEMFD inside their gmem file.
// A broken rule is recorded in violations() and the call fails with EINVAL, as KVM would
// refuse it. What the model does like KVM: LAUNCH_UPDATE copies each page from uaddr at the
// time of the call and records (type, GPA, bytes) in issue order; progress is written back
// (gfn_start, uaddr, len) a few pages per call with scripted EAGAINs; a scripted CPUID
// correction writes the "corrected" page back to uaddr and fails with INVALID_PARAM; FINISH
// appends one VMSA per vCPU, in index order, built from the registers the vCPU was given with
// the KVM VMSA model of vmm/snp/snp_vcpu_state.h.
// What it cannot show: that real KVM and PSP firmware behave like this (needs SNP hardware).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "firmware/snp/launch_digest.h"
#include "vmm/kvm/sys.h"
#include "vmm/kvm/uapi.h"

namespace cvm::vmm::snp::testing {

/// One page the firmware measured, in order.
struct MeasuredPage {
  firmware::snp::SnpPageType type = firmware::snp::SnpPageType::kNormal;
  uint64_t gpa = 0;
  std::vector<std::byte> contents;  // 4096 bytes as copied from uaddr (zeros for ZERO)
};

struct SnpHostModel {
  uint64_t vm_types = (1u << KVM_X86_DEFAULT_VM) | (1u << KVM_X86_SNP_VM);
  bool sev_device = true;
  std::optional<uint64_t> vmsa_features = 0x20;  // DebugSwap
  std::optional<uint64_t> policy_bits;           // nullopt: kernel before ≈6.19
  long guest_memfd = 1;
  long memory_attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
  long exit_hypercall = 1L << KVM_HC_MAP_GPA_RANGE;
  /// KVM_X86_SEV_SNP_REQ_CERTS: nullopt (ENXIO) before ≈7.0; 1 when certificate requests can
  /// be forwarded.
  std::optional<uint64_t> req_certs;
};

class SnpKvmModel final : public kvm::Sys {
 public:
  explicit SnpKvmModel(SnpHostModel host = {}) : host_(host) {}
  SnpKvmModel(const SnpKvmModel&) = delete;
  SnpKvmModel& operator=(const SnpKvmModel&) = delete;
  ~SnpKvmModel() override = default;

  long ioctl(int fd, unsigned long request, std::uintptr_t arg) override;
  int open(const char* path, int flags) override;
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset, int* error) override;
  void munmap(void* addr, std::size_t length) noexcept override;
  int fallocate(int fd, int mode, off_t offset, off_t length) override;
  int madvise(void* addr, std::size_t length, int advice) override;

  // Scripted behaviour.
  /// At most this many pages per LAUNCH_UPDATE call (partial progress).
  void set_pages_per_update(uint64_t pages) { pages_per_update_ = pages; }
  /// Every n-th LAUNCH_UPDATE call fails with EAGAIN without progress (0: never).
  void set_eagain_every(int n) { eagain_every_ = n; }
  /// Called with the CPUID page of a CPUID LAUNCH_UPDATE; returning true means "the PSP
  /// corrected it": the (modified) page is copied back to uaddr and the call fails with
  /// SEV_RET_INVALID_PARAM.
  void set_cpuid_check(std::function<bool(std::span<std::byte> page)> check) {
    cpuid_check_ = std::move(check);
  }

  // Observations.
  std::vector<std::string> violations() const;
  std::vector<MeasuredPage> measured() const;
  /// The SEV command ids in issue order (22, 100, 101, ...), one per successful call.
  std::vector<uint32_t> sev_commands() const;
  std::array<uint8_t, 32> host_data() const;
  bool finished() const;
  /// Whether KVM_SEV_SNP_ENABLE_REQ_CERTS succeeded.
  bool certs_enabled() const;
  uint64_t launch_policy() const;
  uint64_t init2_vmsa_features() const;
  std::size_t cpuid_updates_failed() const;
  /// Whether `gpa`'s page currently has the PRIVATE attribute.
  bool is_private(uint64_t gpa) const;
  /// fallocate(PUNCH_HOLE) calls on guest_memfds (conversions to shared).
  std::size_t punched_holes() const;

  /// The LD the model's measured pages fold to (firmware/snp/launch_digest.h).
  firmware::Sha384Digest digest() const;

 private:
  enum class Role { kKvm, kSev, kVm, kVcpu, kGmem };
  struct FdInfo {
    Role role;
    uint32_t index = 0;  // vCPU id or gmem number
  };
  struct Slot {
    uint64_t gpa = 0;
    uint64_t size = 0;
    int gmem_fd = -1;
  };
  struct VcpuState {
    kvm_regs regs{};
    kvm_sregs sregs{};
    kvm_fpu fpu{};
    uint64_t xcr0 = 1;
    uint64_t pat = 0x0007040600070406;
    std::vector<kvm_cpuid_entry2> cpuid;
  };

  long violation(std::string what);  // records, returns -EINVAL
  int new_fd(FdInfo info);
  long kvm_ioctl(unsigned long request, std::uintptr_t arg);
  long vm_ioctl(unsigned long request, std::uintptr_t arg);
  long vcpu_ioctl(uint32_t id, unsigned long request, std::uintptr_t arg);
  long device_attr(std::uintptr_t arg);
  long check_extension(long capability) const;
  long create_guest_memfd(std::uintptr_t arg);
  long set_memory_region2(std::uintptr_t arg);
  long set_memory_attributes(std::uintptr_t arg);
  long create_vcpu(std::uintptr_t id);
  long sev_command(std::uintptr_t arg);
  long sev_init2(kvm_sev_cmd& cmd);
  long sev_launch_start(kvm_sev_cmd& cmd);
  long sev_launch_update(kvm_sev_cmd& cmd);
  long sev_launch_finish(kvm_sev_cmd& cmd);
  long sev_enable_req_certs(kvm_sev_cmd& cmd);
  long check_update_request(const kvm_sev_snp_launch_update& u);
  long populate_page(kvm_sev_snp_launch_update& u, kvm_sev_cmd& cmd);
  bool gfn_in_gmem_slot(uint64_t gfn) const;
  long vcpu_set_state(uint32_t id, unsigned long request, std::uintptr_t arg);

  SnpHostModel host_;
  mutable std::mutex mutex_;
  std::map<int, FdInfo> fds_;
  std::map<int, uint64_t> gmem_sizes_;
  std::vector<Slot> slots_;
  std::set<uint64_t> private_gfns_;
  std::set<uint64_t> populated_gfns_;
  std::map<uint32_t, VcpuState> vcpus_;
  std::vector<std::string> violations_;
  std::vector<MeasuredPage> measured_;
  std::vector<uint32_t> sev_commands_;
  bool vm_created_ = false;
  bool init2_done_ = false;
  bool started_ = false;
  bool finished_ = false;
  bool certs_enabled_ = false;
  uint64_t policy_ = 0;
  uint64_t vmsa_features_ = 0;
  std::array<uint8_t, 32> host_data_{};
  uint64_t pages_per_update_ = 1u << 20;
  int eagain_every_ = 0;
  int update_calls_ = 0;
  std::size_t cpuid_failures_ = 0;
  std::function<bool(std::span<std::byte>)> cpuid_check_;
  std::map<void*, std::size_t> mappings_;
  int gmem_count_ = 0;
  std::size_t punched_holes_ = 0;
};

}  // namespace cvm::vmm::snp::testing
