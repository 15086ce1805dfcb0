// SPDX-License-Identifier: Apache-2.0
// TdxExitHandler driven by synthetic kvm_run pages (tee-kvm-reference §2.10, §2.12 "exit
// dispatch logic driven by a synthetic kvm_run page"): GetQuote, SetupEventNotifyInterrupt,
// GetTdVmCallInfo, ReportFatalError, MapGPA composition, and hostile arguments.
#include "vmm/tdx/tdx_exits.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "base/byte_reader.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"
#include "vmm/tdx/tdx_status.h"

namespace cvm::vmm::tdx {
namespace {

constexpr uint64_t kBuffer = 0x100000;

class FakeQuotes final : public QuoteService {
 public:
  explicit FakeQuotes(std::size_t quote_size) : quote_size_(quote_size) {}
  Result<std::vector<std::byte>> get_quote(std::span<const std::byte> report) override {
    reports.emplace_back(report.begin(), report.end());
    return std::vector<std::byte>(quote_size_, std::byte{0x51});
  }
  std::vector<std::vector<std::byte>> reports;

 private:
  std::size_t quote_size_;
};

struct Fixture {
  kvm::RecordingSys sys;
  std::optional<kvm::System> system;
  std::unique_ptr<GuestMemory> memory;
  std::optional<kvm::Vm> vm;
  std::optional<kvm::Vcpu> vcpu;
  FakeQuotes* quotes = nullptr;
  std::unique_ptr<TdxExitHandler> handler;

  explicit Fixture(std::optional<std::size_t> quote_size = std::nullopt) {
    sys.set_extension(KVM_CAP_VM_TYPES, 1 << KVM_X86_TDX_VM);
    sys.set_extension(KVM_CAP_GUEST_MEMFD, 1);
    sys.set_extension(KVM_CAP_USER_MEMORY2, 1);
    sys.set_extension(KVM_CAP_MEMORY_ATTRIBUTES, KVM_MEMORY_ATTRIBUTE_PRIVATE);
    system.emplace(std::move(kvm::System::open(sys)).value());
    vm.emplace(std::move(system->create_vm(KVM_X86_TDX_VM)).value());
    const RamRange ram[] = {{0, 16 << 20}};
    memory = std::move(GuestMemory::create(*vm, ram, RamBacking::kPrivate)).value();
    vcpu.emplace(std::move(vm->create_vcpu(0)).value());
    std::unique_ptr<QuoteService> service;
    if (quote_size) {
      auto fake = std::make_unique<FakeQuotes>(*quote_size);
      quotes = fake.get();
      service = std::move(fake);
    }
    handler = std::make_unique<TdxExitHandler>(std::move(service));
    TdxCapabilities caps;
    caps.kernel_tdvmcallinfo_1_r11 = 0x100;
    caps.user_tdvmcallinfo_1_r11 = 0x3;
    caps.kernel_tdvmcallinfo_1_r12 = 0x4;
    handler->set_capabilities(caps);
    handler->attach(*vm, *memory);
  }

  /// Runs one KVM_EXIT_TDX through the handler; returns the exit as the guest will see it.
  kvm::TdxExit tdvmcall(uint64_t nr, std::array<uint64_t, 5> data) {
    kvm_run& run = vcpu->run_data();
    run.exit_reason = KVM_EXIT_TDX;
    kvm::TdxExit call{0, nr, kTdvmcallSubfuncUnsupported, {}};
    std::copy(data.begin(), data.end(), call.data);
    std::memcpy(vcpu->run_area().data() + kvm::kKvmRunExitUnionOffset, &call, sizeof(call));
    auto policy = handler->intercept(*vcpu, decode_exit(run));
    EXPECT_TRUE(policy.has_value());
    EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
    std::memcpy(&call, vcpu->run_area().data() + kvm::kKvmRunExitUnionOffset, sizeof(call));
    return call;
  }

  void write_quote_buffer(uint64_t version, uint32_t in_len) {
    std::vector<std::byte> header(24 + in_len);
    store_le<uint64_t>(std::span(header).first<8>(), version);
    store_le<uint32_t>(std::span(header).subspan<16, 4>(), in_len);
    for (uint32_t i = 0; i < in_len; ++i) {
      header[24 + i] = static_cast<std::byte>(i);
    }
    ASSERT_TRUE(memory->write(kBuffer, header).has_value());
  }
  uint64_t buffer_u64(uint64_t offset) {
    std::array<std::byte, 8> bytes{};
    EXPECT_TRUE(memory->read(kBuffer + offset, bytes).has_value());
    return load_le<uint64_t>(std::span<const std::byte, 8>(bytes));
  }
};

TEST(TdxExitsTest, GetQuoteWithoutServiceReportsItUnavailable) {
  Fixture f;
  f.write_quote_buffer(1, 1024);
  const auto result = f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x2000});
  EXPECT_EQ(result.ret, kTdvmcallSuccess);
  EXPECT_EQ(f.buffer_u64(8), kGetQuoteStatusServiceUnavailable);
  EXPECT_EQ(f.buffer_u64(16) >> 32, 0u);  // out_len
}

TEST(TdxExitsTest, GetQuoteForwardsTheReportAndWritesTheQuote) {
  Fixture f(4000);
  EXPECT_EQ(f.tdvmcall(kTdvmcallSetupEventNotifyInterrupt, {0x40}).ret, kTdvmcallSuccess);
  f.write_quote_buffer(1, 1024);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x2000}).ret, kTdvmcallSuccess);
  ASSERT_EQ(f.quotes->reports.size(), 1u);
  ASSERT_EQ(f.quotes->reports[0].size(), 1024u);
  EXPECT_EQ(f.quotes->reports[0][1023], std::byte{0xff});
  EXPECT_EQ(f.buffer_u64(8), kGetQuoteStatusSuccess);
  EXPECT_EQ(f.buffer_u64(16) >> 32, 4000u);
  EXPECT_EQ(f.buffer_u64(24), 0x5151515151515151u);
  // The guest is notified with the vector it registered, at vCPU 0's APIC.
  const auto msis = f.sys.calls_named("KVM_SIGNAL_MSI");
  ASSERT_EQ(msis.size(), 1u);
  const auto msi = msis[0].arg_as<kvm_msi>();
  EXPECT_EQ(msi.address_lo, 0xfee00000u);
  EXPECT_EQ(msi.data, 0x40u);
}

TEST(TdxExitsTest, FramedGuestRequestGetsAFramedResponse) {
  Fixture f(100);
  const std::vector<std::byte> report(1024, std::byte{0x77});
  const auto request = encode_qgs_get_quote_request(report);
  std::vector<std::byte> buffer(24 + request.size());
  store_le<uint64_t>(std::span(buffer).first<8>(), 1);
  store_le<uint32_t>(std::span(buffer).subspan<16, 4>(), static_cast<uint32_t>(request.size()));
  std::copy(request.begin(), request.end(), buffer.begin() + 24);
  ASSERT_TRUE(f.memory->write(kBuffer, buffer).has_value());
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x2000}).ret, kTdvmcallSuccess);
  ASSERT_EQ(f.quotes->reports.size(), 1u);
  EXPECT_EQ(f.quotes->reports[0], report);
  EXPECT_EQ(f.buffer_u64(8), kGetQuoteStatusSuccess);
  const auto out_len = static_cast<uint32_t>(f.buffer_u64(16) >> 32);
  EXPECT_EQ(out_len, 4u + 24 + 100);
  std::vector<std::byte> answer(out_len);
  ASSERT_TRUE(f.memory->read(kBuffer + 24, answer).has_value());
  EXPECT_EQ(answer, encode_qgs_get_quote_response(std::vector<std::byte>(100, std::byte{0x51})));
}

TEST(TdxExitsTest, QuoteLargerThanTheBufferIsAnError) {
  Fixture f(0x2000);
  f.write_quote_buffer(1, 64);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x2000}).ret, kTdvmcallSuccess);
  EXPECT_EQ(f.buffer_u64(8), kGetQuoteStatusError);
  EXPECT_EQ(f.buffer_u64(16) >> 32, 0u);
}

TEST(TdxExitsTest, HostileGetQuoteArgumentsGetTdvmcallErrors) {
  Fixture f(16);
  f.write_quote_buffer(1, 64);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer + 8, 0x1000}).ret, kTdvmcallAlignError);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x1800}).ret, kTdvmcallAlignError);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0}).ret, kTdvmcallInvalidOperand);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x21000}).ret, kTdvmcallInvalidOperand);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {0xfff000, 0x2000}).ret, kTdvmcallInvalidOperand);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {~uint64_t{0xfff}, 0x1000}).ret, kTdvmcallInvalidOperand);
  f.write_quote_buffer(2, 64);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x1000}).ret, kTdvmcallInvalidOperand);
  f.write_quote_buffer(1, 0x1000 - 23);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetQuote, {kBuffer, 0x1000}).ret, kTdvmcallInvalidOperand);
  EXPECT_TRUE(f.quotes->reports.empty());
}

TEST(TdxExitsTest, SetupEventNotifyRejectsReservedVectors) {
  Fixture f;
  EXPECT_EQ(f.tdvmcall(kTdvmcallSetupEventNotifyInterrupt, {31}).ret, kTdvmcallInvalidOperand);
  EXPECT_EQ(f.tdvmcall(kTdvmcallSetupEventNotifyInterrupt, {256}).ret, kTdvmcallInvalidOperand);
  EXPECT_EQ(f.tdvmcall(kTdvmcallSetupEventNotifyInterrupt, {32}).ret, kTdvmcallSuccess);
}

TEST(TdxExitsTest, GetTdVmCallInfoReportsKernelAndOurLeaves) {
  Fixture f;
  const auto info = f.tdvmcall(kTdvmcallGetTdVmCallInfo, {1});
  EXPECT_EQ(info.ret, kTdvmcallSuccess);
  EXPECT_EQ(info.data[1], 0x103u);  // kernel 0x100 | GetQuote | SetupEventNotify
  EXPECT_EQ(info.data[2], 0x4u);
  EXPECT_EQ(f.tdvmcall(kTdvmcallGetTdVmCallInfo, {2}).ret, kTdvmcallInvalidOperand);
}

TEST(TdxExitsTest, UnknownLeafKeepsKvmsPreset) {
  Fixture f;
  EXPECT_EQ(f.tdvmcall(0x10009, {}).ret, kTdvmcallSubfuncUnsupported);
}

TEST(TdxExitsTest, FatalErrorStopsTheVmWithTheGuestsMessage) {
  Fixture f;
  std::vector<uint64_t> regs(16, 0);
  regs[1] = (1u << 14) | (1u << 15) | (1u << 3);  // RCX: message in R14, R15, RBX
  std::memcpy(&regs[14], "panic: o", 8);
  std::memcpy(&regs[15], "ops\x01\0zzz", 8);
  regs[12] = 0x8000000000010000;  // error code, bit 63: R13 holds a GPA
  regs[13] = 0xabc000;
  auto policy = f.handler->intercept(*f.vcpu, SystemEventExit{KVM_SYSTEM_EVENT_TDX_FATAL, regs});
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(policy->reason,
            "TD reported a fatal error: code 0x8000000000010000, gpa 0xabc000, message "
            "\"panic: oops?\"");
  // Other system events are not ours.
  EXPECT_FALSE(f.handler->intercept(*f.vcpu, SystemEventExit{KVM_SYSTEM_EVENT_SHUTDOWN, {}}));
}

TEST(TdxExitsTest, FatalErrorWithShortDataDoesNotReadPastIt) {
  const auto error = decode_fatal_error(std::vector<uint64_t>{0, 0xffff});
  EXPECT_EQ(error.error_code, 0u);
  EXPECT_EQ(error.message, "");
  EXPECT_FALSE(error.gpa.has_value());
}

TEST(TdxExitsTest, MapGpaGoesThroughTheConversionHandler) {
  Fixture f;
  kvm_run& run = f.vcpu->run_data();
  run.exit_reason = KVM_EXIT_HYPERCALL;
  run.hypercall.nr = KVM_HC_MAP_GPA_RANGE;
  run.hypercall.args[0] = 0x200000;
  run.hypercall.args[1] = 2;
  run.hypercall.args[2] = 0;
  auto policy = f.handler->intercept(*f.vcpu, decode_exit(run));
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(run.hypercall.ret, 0u);
  const auto attrs =
      f.sys.calls_named("KVM_SET_MEMORY_ATTRIBUTES").back().arg_as<kvm_memory_attributes>();
  EXPECT_EQ(attrs.address, 0x200000u);
  EXPECT_EQ(attrs.size, 0x2000u);
  EXPECT_EQ(attrs.attributes, 0u);
}

TEST(TdxExitsTest, OrdinaryExitsPassThrough) {
  Fixture f;
  EXPECT_FALSE(f.handler->intercept(*f.vcpu, HltExit{}).has_value());
  EXPECT_FALSE(f.handler->intercept(*f.vcpu, UnknownExit{KVM_EXIT_TDX + 1, 0}).has_value());
}

}  // namespace
}  // namespace cvm::vmm::tdx
