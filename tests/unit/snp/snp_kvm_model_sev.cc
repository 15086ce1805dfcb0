// SPDX-License-Identifier: Apache-2.0
// SnpKvmModel: KVM_MEMORY_ENCRYPT_OP (SEV commands) and the observations.
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "firmware/snp/vmsa.h"
#include "tests/unit/snp/snp_kvm_model.h"
#include "vmm/snp/snp_vcpu_state.h"

namespace cvm::vmm::snp::testing {
namespace {

using firmware::snp::SnpPageType;
constexpr uint64_t kPage = 4096;
constexpr uint32_t kNoFirmwareCall = 0xffffffff;
constexpr uint32_t kInvalidParam = 0x16;
// What KVM accepts without KVM_X86_SNP_POLICY_BITS (the 6.13+ rules, §3.3).
constexpr uint64_t kOldPolicyMask = 0xffff | (1u << 16) | (1u << 17) | (1u << 19) | (1u << 20);

template <typename T>
T read_user(uint64_t address) {
  T value{};
  std::memcpy(&value, reinterpret_cast<const void*>(address), sizeof(T));
  return value;
}

template <typename T>
void write_user(uint64_t address, const T& value) {
  std::memcpy(reinterpret_cast<void*>(address), &value, sizeof(T));
}

template <typename T>
bool all_zero(const T& field) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&field);
  return std::all_of(bytes, bytes + sizeof(field), [](unsigned char b) { return b == 0; });
}

}  // namespace

long SnpKvmModel::sev_command(std::uintptr_t arg) {
  if (arg == 0) {
    return 0;  // the SEV probe (§3.1)
  }
  auto cmd = read_user<kvm_sev_cmd>(arg);
  uint32_t pad = 0;
  std::memcpy(&pad, reinterpret_cast<const std::byte*>(arg) + 4, sizeof(pad));
  if (pad != 0) {
    return violation(fmt::format("kvm_sev_cmd id {}: pad0 is {:#x}", cmd.id, pad));
  }
  if (cmd.error != kNoFirmwareCall && cmd.error != 0) {
    return violation(fmt::format("kvm_sev_cmd id {}: error field not initialised ({:#x})", cmd.id,
                                 cmd.error));
  }
  const auto sev = fds_.find(static_cast<int>(cmd.sev_fd));
  if (sev == fds_.end() || sev->second.role != Role::kSev) {
    return violation(fmt::format("kvm_sev_cmd id {}: sev_fd {} is not /dev/sev", cmd.id,
                                 cmd.sev_fd));
  }
  // SNP_ENABLE_REQ_CERTS is the one command whose data KVM never reads.
  if (cmd.data == 0 && cmd.id != KVM_SEV_SNP_ENABLE_REQ_CERTS) {
    return violation(fmt::format("kvm_sev_cmd id {}: no data", cmd.id));
  }
  long result = 0;
  switch (cmd.id) {
    case KVM_SEV_INIT2:
      result = sev_init2(cmd);
      break;
    case KVM_SEV_SNP_LAUNCH_START:
      result = sev_launch_start(cmd);
      break;
    case KVM_SEV_SNP_LAUNCH_UPDATE:
      result = sev_launch_update(cmd);
      break;
    case KVM_SEV_SNP_LAUNCH_FINISH:
      result = sev_launch_finish(cmd);
      break;
    case KVM_SEV_SNP_ENABLE_REQ_CERTS:
      result = sev_enable_req_certs(cmd);
      break;
    default:
      result = violation(fmt::format("SEV command {}: not an SNP command (EPERM on SNP VMs)",
                                     cmd.id));
  }
  if (result == 0) {
    sev_commands_.push_back(cmd.id);
  }
  write_user(arg, cmd);  // KVM copies the command back (error)
  return result;
}

// amd-memory-encryption.rst §21; sev.c snp_enable_certs: EINVAL once a vCPU exists or when the
// VM is not (yet) an SNP guest; unknown command (EINVAL) on kernels before ≈7.0.
long SnpKvmModel::sev_enable_req_certs(kvm_sev_cmd& cmd) {
  if (host_.req_certs.value_or(0) != 1) {
    return violation("SNP_ENABLE_REQ_CERTS on a kernel without KVM_X86_SEV_SNP_REQ_CERTS");
  }
  if (!init2_done_) {
    return violation("SNP_ENABLE_REQ_CERTS before INIT2 (not an SNP guest yet)");
  }
  if (!vcpus_.empty()) {
    return violation("SNP_ENABLE_REQ_CERTS after a vCPU was created");
  }
  certs_enabled_ = true;
  cmd.error = 0;
  return 0;
}

long SnpKvmModel::sev_init2(kvm_sev_cmd& cmd) {
  const auto init = read_user<kvm_sev_init>(cmd.data);
  if (init2_done_) {
    return violation("KVM_SEV_INIT2 issued twice");
  }
  if (!vcpus_.empty()) {
    return violation("KVM_SEV_INIT2 after a vCPU was created");
  }
  if (init.flags != 0 || init.pad1 != 0 || !all_zero(init.pad2) || init.ghcb_version > 2) {
    return violation(fmt::format("KVM_SEV_INIT2: flags {} ghcb_version {} or pads", init.flags,
                                 init.ghcb_version));
  }
  if (!host_.vmsa_features || (init.vmsa_features & ~*host_.vmsa_features) != 0) {
    return violation(fmt::format("KVM_SEV_INIT2: vmsa_features {:#x} not supported",
                                 init.vmsa_features));
  }
  vmsa_features_ = init.vmsa_features;
  init2_done_ = true;
  cmd.error = 0;
  return 0;
}

long SnpKvmModel::sev_launch_start(kvm_sev_cmd& cmd) {
  const auto start = read_user<kvm_sev_snp_launch_start>(cmd.data);
  if (!init2_done_ || started_) {
    return violation(started_ ? "SNP_LAUNCH_START issued twice" : "SNP_LAUNCH_START before INIT2");
  }
  if (start.flags != 0 || !all_zero(start.pad0) || !all_zero(start.pad1) ||
      !all_zero(start.gosvw)) {
    return violation("SNP_LAUNCH_START: flags, gosvw or pads not zero");
  }
  const uint64_t allowed = host_.policy_bits.value_or(kOldPolicyMask);
  if ((start.policy & (1u << 17)) == 0 || (start.policy & ~allowed) != 0) {
    return violation(fmt::format("SNP_LAUNCH_START: policy {:#x} not accepted", start.policy));
  }
  policy_ = start.policy;
  started_ = true;
  cmd.error = 0;
  return 0;
}

bool SnpKvmModel::gfn_in_gmem_slot(uint64_t gfn) const {
  return std::any_of(slots_.begin(), slots_.end(), [&](const Slot& s) {
    return gfn * kPage >= s.gpa && gfn * kPage < s.gpa + s.size;
  });
}

long SnpKvmModel::check_update_request(const kvm_sev_snp_launch_update& u) {
  if (!started_ || finished_) {
    return violation(finished_ ? "SNP_LAUNCH_UPDATE after LAUNCH_FINISH"
                               : "SNP_LAUNCH_UPDATE before LAUNCH_START");
  }
  if (u.flags != 0 || u.pad0 != 0 || u.pad1 != 0 || !all_zero(u.pad2)) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: flags or pads", u.gfn_start));
  }
  if (u.type == 0 || u.type == 2 || u.type > 6) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: page type {}", u.gfn_start, u.type));
  }
  if (u.len == 0 || u.len % kPage != 0) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: len {:#x}", u.gfn_start, u.len));
  }
  const bool single = u.type == KVM_SEV_SNP_PAGE_TYPE_SECRETS || u.type == KVM_SEV_SNP_PAGE_TYPE_CPUID;
  if (single && u.len != kPage) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: type {} must be one page, len {:#x}",
                                 u.gfn_start, u.type, u.len));
  }
  if (u.type != KVM_SEV_SNP_PAGE_TYPE_ZERO && (u.uaddr == 0 || u.uaddr % kPage != 0)) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: uaddr {:#x} not 4 KiB aligned",
                                 u.gfn_start, u.uaddr));
  }
  return 0;
}

long SnpKvmModel::populate_page(kvm_sev_snp_launch_update& u, kvm_sev_cmd& cmd) {
  const uint64_t gfn = u.gfn_start;
  if (!gfn_in_gmem_slot(gfn)) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: not in a guest_memfd slot", gfn));
  }
  if (private_gfns_.count(gfn) == 0) {
    return violation(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: not PRIVATE", gfn));
  }
  if (populated_gfns_.count(gfn) != 0) {
    violations_.push_back(fmt::format("SNP_LAUNCH_UPDATE gfn {:#x}: populated twice", gfn));
    return -EEXIST;
  }
  MeasuredPage page{static_cast<SnpPageType>(u.type), gfn * kPage, std::vector<std::byte>(kPage)};
  if (u.type != KVM_SEV_SNP_PAGE_TYPE_ZERO) {
    std::memcpy(page.contents.data(), reinterpret_cast<const void*>(u.uaddr), kPage);
  }
  if (u.type == KVM_SEV_SNP_PAGE_TYPE_CPUID && cpuid_check_ && cpuid_check_(page.contents)) {
    // The PSP's corrected page goes back to the caller; the page is not populated.
    std::memcpy(reinterpret_cast<void*>(u.uaddr), page.contents.data(), kPage);
    cmd.error = kInvalidParam;
    ++cpuid_failures_;
    return -EIO;
  }
  populated_gfns_.insert(gfn);
  measured_.push_back(std::move(page));
  u.gfn_start += 1;
  u.len -= kPage;
  if (u.type != KVM_SEV_SNP_PAGE_TYPE_ZERO) {
    u.uaddr += kPage;
  }
  return 0;
}

long SnpKvmModel::sev_launch_update(kvm_sev_cmd& cmd) {
  auto u = read_user<kvm_sev_snp_launch_update>(cmd.data);
  if (const long bad = check_update_request(u); bad != 0) {
    return bad;
  }
  ++update_calls_;
  if (eagain_every_ > 0 && update_calls_ % eagain_every_ == 0) {
    return -EAGAIN;
  }
  for (uint64_t done = 0; done < pages_per_update_ && u.len != 0; ++done) {
    if (const long failed = populate_page(u, cmd); failed != 0) {
      return failed;
    }
  }
  cmd.error = 0;
  write_user(cmd.data, u);  // progress: gfn_start, uaddr, len
  return 0;
}

long SnpKvmModel::sev_launch_finish(kvm_sev_cmd& cmd) {
  const auto f = read_user<kvm_sev_snp_launch_finish>(cmd.data);
  if (!started_ || finished_) {
    return violation(finished_ ? "SNP_LAUNCH_FINISH issued twice"
                               : "SNP_LAUNCH_FINISH before LAUNCH_START");
  }
  if (f.flags != 0 || !all_zero(f.pad0) || !all_zero(f.pad1) || f.vcek_disabled > 1) {
    return violation("SNP_LAUNCH_FINISH: flags or pads not zero");
  }
  if ((f.id_block_en != 0 && (f.id_block_uaddr == 0 || f.id_auth_uaddr == 0)) ||
      (f.auth_key_en != 0 && f.id_block_en == 0) || f.id_block_en > 1 || f.auth_key_en > 1) {
    return violation("SNP_LAUNCH_FINISH: inconsistent ID block fields");
  }
  if (vcpus_.empty()) {
    return violation("SNP_LAUNCH_FINISH without vCPUs");
  }
  // KVM syncs every vCPU's VMSA and measures it, in vCPU index order (§3.5).
  for (const auto& [id, vcpu] : vcpus_) {
    auto state = kvm_vmsa_state(vcpu.regs, vcpu.sregs, vcpu.fpu, vcpu.xcr0, vcpu.pat,
                                vmsa_features_ | firmware::snp::kSevFeatureSnpActive);
    if (!state) {
      return violation(fmt::format("vCPU {}: {}", id, state.error().message()));
    }
    measured_.push_back(MeasuredPage{SnpPageType::kVmsa, firmware::snp::kVmsaGpa,
                                     firmware::snp::encode_vmsa(*state)});
  }
  std::copy(std::begin(f.host_data), std::end(f.host_data), host_data_.begin());
  finished_ = true;
  cmd.error = 0;
  return 0;
}

std::vector<std::string> SnpKvmModel::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}
std::vector<MeasuredPage> SnpKvmModel::measured() const {
  std::lock_guard lock(mutex_);
  return measured_;
}
std::vector<uint32_t> SnpKvmModel::sev_commands() const {
  std::lock_guard lock(mutex_);
  return sev_commands_;
}
std::array<uint8_t, 32> SnpKvmModel::host_data() const {
  std::lock_guard lock(mutex_);
  return host_data_;
}
bool SnpKvmModel::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}
bool SnpKvmModel::certs_enabled() const {
  std::lock_guard lock(mutex_);
  return certs_enabled_;
}
uint64_t SnpKvmModel::launch_policy() const {
  std::lock_guard lock(mutex_);
  return policy_;
}
uint64_t SnpKvmModel::init2_vmsa_features() const {
  std::lock_guard lock(mutex_);
  return vmsa_features_;
}
bool SnpKvmModel::is_private(uint64_t gpa) const {
  std::lock_guard lock(mutex_);
  return private_gfns_.count(gpa / kPage) != 0;
}
std::size_t SnpKvmModel::punched_holes() const {
  std::lock_guard lock(mutex_);
  return punched_holes_;
}
std::size_t SnpKvmModel::cpuid_updates_failed() const {
  std::lock_guard lock(mutex_);
  return cpuid_failures_;
}

firmware::Sha384Digest SnpKvmModel::digest() const {
  std::lock_guard lock(mutex_);
  firmware::snp::SnpLaunchDigest gctx;
  for (const MeasuredPage& page : measured_) {
    gctx.update_page(page.type, page.gpa, page.contents);
  }
  return gctx.digest();
}

}  // namespace cvm::vmm::snp::testing
