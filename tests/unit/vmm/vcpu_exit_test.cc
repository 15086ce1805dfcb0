// SPDX-License-Identifier: Apache-2.0
// Exit decoding and the generic exit policy over synthetic kvm_run pages.
#include "vmm/vcpu_exit.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "vmm/register_dump.h"

namespace cvm::vmm {
namespace {

kvm_run run_with(uint32_t reason) {
  kvm_run run{};
  run.exit_reason = reason;
  return run;
}

TEST(VcpuExitTest, IoExitFieldsAndDataBounds) {
  kvm_run run = run_with(KVM_EXIT_IO);
  run.io.direction = KVM_EXIT_IO_OUT;
  run.io.port = 0x3f8;
  run.io.size = 1;
  run.io.count = 3;
  run.io.data_offset = 4096;
  const VcpuExit exit = decode_exit(run);
  const auto& io = std::get<IoExit>(exit);
  EXPECT_FALSE(io.in);
  EXPECT_EQ(io.port, 0x3f8);
  EXPECT_EQ(io.count, 3u);
  std::vector<std::byte> area(3 * 4096);
  EXPECT_EQ(io_data(io, area).size(), 3u);
  EXPECT_EQ(io_data(io, area).data(), area.data() + 4096);
  EXPECT_EQ(exit_policy(exit).verdict, ExitVerdict::kDispatch);

  IoExit bad = io;
  bad.data_offset = 3 * 4096 - 2;  // 3 bytes would run past the area
  EXPECT_TRUE(io_data(bad, area).empty());
  bad = io;
  bad.count = 0xffffffff;
  bad.size = 8;
  EXPECT_TRUE(io_data(bad, area).empty());
}

TEST(VcpuExitTest, MmioWriteCarriesData) {
  kvm_run run = run_with(KVM_EXIT_MMIO);
  run.mmio.phys_addr = 0xd0000050;
  run.mmio.len = 4;
  run.mmio.is_write = 1;
  const uint32_t value = 0x12345678;
  std::memcpy(run.mmio.data, &value, 4);
  const auto mmio = std::get<MmioExit>(decode_exit(run));
  EXPECT_EQ(mmio.address, 0xd0000050u);
  EXPECT_EQ(mmio.length, 4u);
  EXPECT_TRUE(mmio.is_write);
  EXPECT_EQ(mmio.data[0], std::byte{0x78});
  EXPECT_EQ(mmio.data[3], std::byte{0x12});
}

TEST(VcpuExitTest, MmioLengthIsCappedAtEight) {
  kvm_run run = run_with(KVM_EXIT_MMIO);
  run.mmio.len = 4096;
  EXPECT_EQ(std::get<MmioExit>(decode_exit(run)).length, 8u);
}

TEST(VcpuExitTest, TripleFaultFailsTheVm) {
  const ExitPolicy policy = exit_policy(decode_exit(run_with(KVM_EXIT_SHUTDOWN)));
  EXPECT_EQ(policy.verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(policy.reason, "guest triple fault (KVM_EXIT_SHUTDOWN)");
}

TEST(VcpuExitTest, ResetAndShutdownEventsStopWithSuccess) {
  kvm_run run = run_with(KVM_EXIT_SYSTEM_EVENT);
  run.system_event.type = KVM_SYSTEM_EVENT_RESET;
  EXPECT_EQ(exit_policy(decode_exit(run)).verdict, ExitVerdict::kStopVm);
  EXPECT_EQ(exit_policy(decode_exit(run)).reason, "guest requested reset");
  run.system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
  EXPECT_EQ(exit_policy(decode_exit(run)).verdict, ExitVerdict::kStopVm);
  run.system_event.type = KVM_SYSTEM_EVENT_CRASH;
  EXPECT_EQ(exit_policy(decode_exit(run)).verdict, ExitVerdict::kFailVm);
  run.system_event.type = KVM_SYSTEM_EVENT_TDX_FATAL;
  run.system_event.ndata = 200;  // kernel-provided count is capped at 16
  const auto event = std::get<SystemEventExit>(decode_exit(run));
  EXPECT_EQ(event.data.size(), 16u);
  EXPECT_EQ(exit_policy(decode_exit(run)).reason, "guest system event: TDX fatal error");
}

TEST(VcpuExitTest, EmulationFailureReportsInstructionBytes) {
  kvm_run run = run_with(KVM_EXIT_INTERNAL_ERROR);
  run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  run.emulation_failure.ndata = 3;
  run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  run.emulation_failure.insn_size = 3;
  run.emulation_failure.insn_bytes[0] = 0xf3;
  run.emulation_failure.insn_bytes[1] = 0x0f;
  run.emulation_failure.insn_bytes[2] = 0xb8;
  const VcpuExit exit = decode_exit(run);
  const auto& error = std::get<InternalErrorExit>(exit);
  ASSERT_EQ(error.instruction.size(), 3u);
  const ExitPolicy policy = exit_policy(exit);
  EXPECT_EQ(policy.verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(policy.reason,
            "KVM internal error: suberror 1 (emulation failure), instruction bytes f3 0f b8, "
            "data 0x1 0xb80ff303 0x0");
}

TEST(VcpuExitTest, InternalErrorWithoutFlagHasNoInstruction) {
  kvm_run run = run_with(KVM_EXIT_INTERNAL_ERROR);
  run.internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
  run.internal.ndata = 1;
  run.internal.data[0] = 0x80000b0e;
  const auto error = std::get<InternalErrorExit>(decode_exit(run));
  EXPECT_TRUE(error.instruction.empty());
  EXPECT_EQ(describe_exit(error),
            "KVM internal error: suberror 3 (exit during event delivery), data 0x80000b0e");
}

TEST(VcpuExitTest, FailEntryHltIntrAndUnknown) {
  kvm_run run = run_with(KVM_EXIT_FAIL_ENTRY);
  run.fail_entry.hardware_entry_failure_reason = 0x21;
  run.fail_entry.cpu = 3;
  EXPECT_EQ(exit_policy(decode_exit(run)).reason,
            "VM entry failed: hardware reason 0x21 on host CPU 3");
  EXPECT_EQ(exit_policy(decode_exit(run_with(KVM_EXIT_HLT))).verdict, ExitVerdict::kVcpuHalted);
  EXPECT_EQ(exit_policy(decode_exit(run_with(KVM_EXIT_INTR))).verdict, ExitVerdict::kContinue);
  const ExitPolicy unknown = exit_policy(decode_exit(run_with(77)));
  EXPECT_EQ(unknown.verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(unknown.reason, "unhandled exit reason 77 (hardware reason 0x0)");
}

TEST(VcpuExitTest, IoapicEoiIsDispatched) {
  kvm_run run = run_with(KVM_EXIT_IOAPIC_EOI);
  run.eoi.vector = 0x31;
  const VcpuExit exit = decode_exit(run);
  EXPECT_EQ(std::get<IoapicEoiExit>(exit).vector, 0x31);
  EXPECT_EQ(exit_policy(exit).verdict, ExitVerdict::kDispatch);
}

TEST(VcpuExitTest, MemoryFaultIsReadFromTheUnionOverlay) {
  kvm_run run = run_with(KVM_EXIT_MEMORY_FAULT);
  const kvm::MemoryFaultExit raw{KVM_MEMORY_EXIT_FLAG_PRIVATE, 0x100000, 0x1000};
  std::memcpy(reinterpret_cast<std::byte*>(&run) + 32, &raw, sizeof(raw));
  const auto fault = std::get<MemoryFaultExitInfo>(decode_exit(run));
  EXPECT_EQ(fault.gpa, 0x100000u);
  EXPECT_EQ(fault.size, 0x1000u);
  EXPECT_EQ(describe_exit(fault), "memory fault at gpa 0x100000 size 0x1000 (private)");
}

TEST(VcpuExitTest, SnpCertificateRequestIsReadFromTheUnionOverlay) {
  kvm_run run = run_with(KVM_EXIT_SNP_REQ_CERTS);
  EXPECT_EQ(run.exit_reason, 43u);
  const kvm::SnpReqCertsExit raw{0x7f000, 4, 0};
  std::memcpy(reinterpret_cast<std::byte*>(&run) + 32, &raw, sizeof(raw));
  const auto request = std::get<SnpCertsRequestExit>(decode_exit(run));
  EXPECT_EQ(request.gpa, 0x7f000u);
  EXPECT_EQ(request.npages, 4u);
  // Unanswered (no SNP interceptor), it fails the VM with a description.
  const ExitPolicy policy = exit_policy(request);
  EXPECT_EQ(policy.verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(policy.reason, "unhandled SNP certificate request (buffer at gpa 0x7f000, 4 pages)");
  // The neighbours still decode as before.
  EXPECT_TRUE(std::holds_alternative<UnknownExit>(decode_exit(run_with(42))));
  EXPECT_TRUE(std::holds_alternative<MemoryFaultExitInfo>(decode_exit(run_with(39))));
}

TEST(VcpuExitTest, RegisterDumpShowsRipAndControlRegisters) {
  kvm_regs regs{};
  regs.rip = 0x1000000;
  kvm_sregs sregs{};
  sregs.cr0 = 0x80000011;
  const std::string dump = format_registers(regs, sregs);
  EXPECT_NE(dump.find("rip 0000000001000000"), std::string::npos) << dump;
  EXPECT_NE(dump.find("cr0 0x80000011"), std::string::npos) << dump;
}

}  // namespace
}  // namespace cvm::vmm
