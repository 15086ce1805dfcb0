// SPDX-License-Identifier: Apache-2.0
// The ABI model must fail wrong call sequences and malformed arguments, or the backend tests
// that pass through it would prove nothing. Each test breaks exactly one rule with raw calls.
#include "tests/unit/snp/snp_kvm_model.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "base/mapping.h"
#include "base/unique_fd.h"
#include "vmm/kvm/system.h"
#include "vmm/snp/sev_command.h"

namespace cvm::vmm::snp::testing {
namespace {

constexpr uint64_t kGpa = 0x100000;

class SnpKvmModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto system = kvm::System::open(model_);
    ASSERT_TRUE(system);
    system_.emplace(std::move(*system));
    auto vm = system_->create_vm(KVM_X86_SNP_VM);
    ASSERT_TRUE(vm);
    vm_.emplace(std::move(*vm));
    sev_ = UniqueFd(model_.open("/dev/sev", O_RDWR));
    auto gmem = vm_->create_guest_memfd(0x10000, 0);
    ASSERT_TRUE(gmem);
    gmem_.emplace(std::move(*gmem));
    kvm_userspace_memory_region2 slot{};
    slot.flags = KVM_MEM_GUEST_MEMFD;
    slot.guest_phys_addr = kGpa;
    slot.memory_size = 0x10000;
    slot.guest_memfd = static_cast<uint32_t>(gmem_->fd());
    ASSERT_TRUE(vm_->set_user_memory_region2(slot));
    auto page = Mapping::anonymous(0x2000, 0, "source");
    ASSERT_TRUE(page);
    source_ = std::move(*page);
  }

  SevCallOutcome command(uint32_t id, void* data) {
    return issue_sev_command(*vm_, sev_.get(), id, data);
  }
  SevCallOutcome init2() {
    kvm_sev_init init{};
    return command(KVM_SEV_INIT2, &init);
  }
  SevCallOutcome start(uint64_t policy = 0x30000) {
    kvm_sev_snp_launch_start s{};
    s.policy = policy;
    return command(KVM_SEV_SNP_LAUNCH_START, &s);
  }
  SevCallOutcome update(uint8_t type, uint64_t gpa, uint64_t len, uint64_t uaddr) {
    kvm_sev_snp_launch_update u{};
    u.gfn_start = gpa >> 12;
    u.len = len;
    u.type = type;
    u.uaddr = uaddr;
    return command(KVM_SEV_SNP_LAUNCH_UPDATE, &u);
  }
  SevCallOutcome finish() {
    kvm_sev_snp_launch_finish f{};
    return command(KVM_SEV_SNP_LAUNCH_FINISH, &f);
  }
  uint64_t source() const { return reinterpret_cast<uint64_t>(source_.data()); }
  void make_private() { ASSERT_TRUE(vm_->set_memory_attributes(kGpa, 0x10000, 8)); }
  std::string only_violation() {
    const auto v = model_.violations();
    return v.size() == 1 ? v[0] : fmt::format("{} violations", v.size());
  }

  SnpKvmModel model_;
  std::optional<kvm::System> system_;
  std::optional<kvm::Vm> vm_;
  std::optional<kvm::GuestMemfd> gmem_;
  UniqueFd sev_;
  Mapping source_;
};

TEST_F(SnpKvmModelTest, CorrectSequencePasses) {
  make_private();
  EXPECT_TRUE(init2().ok());
  EXPECT_TRUE(start().ok());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  EXPECT_TRUE(update(KVM_SEV_SNP_PAGE_TYPE_NORMAL, kGpa, 0x2000, source()).ok());
  EXPECT_TRUE(update(KVM_SEV_SNP_PAGE_TYPE_ZERO, kGpa + 0x2000, 0x1000, 0).ok());
  EXPECT_TRUE(finish().ok());
  EXPECT_TRUE(model_.violations().empty());
  EXPECT_EQ(model_.measured().size(), 4u);  // 2 NORMAL, 1 ZERO, 1 VMSA
}

TEST_F(SnpKvmModelTest, LaunchStartBeforeInit2Fails) {
  EXPECT_EQ(start().error_number, EINVAL);
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_START before INIT2");
}

TEST_F(SnpKvmModelTest, Init2AfterVcpuCreationFails) {
  ASSERT_TRUE(vm_->create_vcpu(0));
  EXPECT_FALSE(init2().ok());
  EXPECT_EQ(only_violation(), "KVM_SEV_INIT2 after a vCPU was created");
}

TEST_F(SnpKvmModelTest, UpdateAfterFinishFails) {
  make_private();
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  ASSERT_TRUE(vm_->create_vcpu(0));
  ASSERT_TRUE(finish().ok());
  EXPECT_FALSE(update(KVM_SEV_SNP_PAGE_TYPE_NORMAL, kGpa, 0x1000, source()).ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_UPDATE after LAUNCH_FINISH");
}

TEST_F(SnpKvmModelTest, FinishTwiceFails) {
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  ASSERT_TRUE(vm_->create_vcpu(0));
  ASSERT_TRUE(finish().ok());
  EXPECT_FALSE(finish().ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_FINISH issued twice");
}

TEST_F(SnpKvmModelTest, FinishWithoutVcpusFails) {
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  EXPECT_FALSE(finish().ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_FINISH without vCPUs");
}

TEST_F(SnpKvmModelTest, MisalignedUaddrFails) {
  make_private();
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  EXPECT_FALSE(update(KVM_SEV_SNP_PAGE_TYPE_NORMAL, kGpa, 0x1000, source() + 8).ok());
  EXPECT_NE(only_violation().find("not 4 KiB aligned"), std::string::npos);
}

TEST_F(SnpKvmModelTest, SharedPageFails) {
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  EXPECT_FALSE(update(KVM_SEV_SNP_PAGE_TYPE_NORMAL, kGpa, 0x1000, source()).ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_UPDATE gfn 0x100: not PRIVATE");
}

TEST_F(SnpKvmModelTest, PageOutsideGuestMemfdFails) {
  ASSERT_TRUE(vm_->set_memory_attributes(0x800000, 0x1000, 8));
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  EXPECT_FALSE(update(KVM_SEV_SNP_PAGE_TYPE_NORMAL, 0x800000, 0x1000, source()).ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_UPDATE gfn 0x800: not in a guest_memfd slot");
}

TEST_F(SnpKvmModelTest, TwoPageCpuidUpdateFails) {
  make_private();
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  EXPECT_FALSE(update(KVM_SEV_SNP_PAGE_TYPE_CPUID, kGpa, 0x2000, source()).ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_UPDATE gfn 0x100: type 6 must be one page, len 0x2000");
}

TEST_F(SnpKvmModelTest, VmsaPageTypeFails) {
  make_private();
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  EXPECT_FALSE(update(2, kGpa, 0x1000, source()).ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_UPDATE gfn 0x100: page type 2");
}

TEST_F(SnpKvmModelTest, PopulatingTwiceFails) {
  make_private();
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  ASSERT_TRUE(update(KVM_SEV_SNP_PAGE_TYPE_NORMAL, kGpa, 0x1000, source()).ok());
  EXPECT_EQ(update(KVM_SEV_SNP_PAGE_TYPE_ZERO, kGpa, 0x1000, 0).error_number, EEXIST);
}

TEST_F(SnpKvmModelTest, PolicyWithoutBit17Fails) {
  ASSERT_TRUE(init2().ok());
  EXPECT_FALSE(start(0x10000).ok());
  EXPECT_EQ(only_violation(), "SNP_LAUNCH_START: policy 0x10000 not accepted");
}

TEST_F(SnpKvmModelTest, UninitialisedErrorFieldFails) {
  kvm_sev_init init{};
  kvm_sev_cmd cmd{};
  cmd.id = KVM_SEV_INIT2;
  cmd.data = reinterpret_cast<uint64_t>(&init);
  cmd.error = 0x12345678;
  cmd.sev_fd = static_cast<uint32_t>(sev_.get());
  EXPECT_FALSE(vm_->memory_encrypt_op(&cmd));
  EXPECT_EQ(only_violation(), "kvm_sev_cmd id 22: error field not initialised (0x12345678)");
}

TEST_F(SnpKvmModelTest, RegisterWritesAfterFinishFail) {
  ASSERT_TRUE(init2().ok());
  ASSERT_TRUE(start().ok());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  ASSERT_TRUE(finish().ok());
  EXPECT_FALSE(vcpu->set_regs(kvm_regs{}));
  EXPECT_EQ(only_violation(),
            fmt::format("vCPU 0: ioctl {:#x} after LAUNCH_FINISH (state is protected)",
                        KVM_SET_REGS));
}

TEST_F(SnpKvmModelTest, GuestMemfdWithMmapFlagFails) {
  EXPECT_FALSE(vm_->create_guest_memfd(0x1000, GUEST_MEMFD_FLAG_MMAP));
  EXPECT_NE(only_violation().find("SNP private memory takes no flags"), std::string::npos);
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
