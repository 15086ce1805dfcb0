// SPDX-License-Identifier: Apache-2.0
// Serving the host's certificate table to SNP guests (snp_certs.h): the table validator, the
// answer to KVM_EXIT_SNP_REQ_CERTS, the model's rules for KVM_SEV_SNP_ENABLE_REQ_CERTS and the
// backend end to end through SnpKvmModel. What this cannot show: that a ≈7.0 kernel and a real
// guest behave like the model (needs SNP hardware).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "base/unique_fd.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/snp/snp_kvm_model.h"
#include "tests/unit/snp/snp_launch_harness.h"
#include "vmm/kvm/system.h"
#include "vmm/snp/sev_command.h"
#include "vmm/snp/snp_certs.h"
#include "vmm/snp/snp_host.h"

namespace cvm::vmm::snp::testing {
namespace {

struct Cert {
  CertGuid guid;
  std::size_t size;
  uint8_t fill;
};

void put_entry(std::vector<std::byte>& blob, std::size_t index, const CertGuid& guid,
               uint32_t offset, uint32_t length) {
  std::byte* entry = blob.data() + index * kCertTableEntrySize;
  std::memcpy(entry, guid.data(), guid.size());
  store_le<uint32_t>(std::span<std::byte, 4>(entry + 16, 4), offset);
  store_le<uint32_t>(std::span<std::byte, 4>(entry + 20, 4), length);
}

// A table of `certs` plus terminator, each certificate `size` bytes of `fill`.
std::vector<std::byte> make_table(const std::vector<Cert>& certs) {
  std::size_t offset = (certs.size() + 1) * kCertTableEntrySize;
  std::size_t total = offset;
  for (const Cert& c : certs) total += c.size;
  std::vector<std::byte> blob(total);
  for (std::size_t i = 0; i < certs.size(); ++i) {
    put_entry(blob, i, certs[i].guid, static_cast<uint32_t>(offset),
              static_cast<uint32_t>(certs[i].size));
    std::memset(blob.data() + offset, certs[i].fill, certs[i].size);
    offset += certs[i].size;
  }
  return blob;
}

std::vector<std::byte> standard_table() {
  return make_table({{kVcekGuid, 1360, 0xc1}, {kAskGuid, 1650, 0xa5}, {kArkGuid, 1620, 0xa7}});
}

std::string message_of(const Result<std::vector<CertTableEntry>>& r) {
  return r ? "<ok>" : r.error().message();
}

TEST(SnpCertTableTest, GuidBytesArePinned) {
  // RFC 4122 order: the text's first byte comes first (not EFI's mixed-endian order).
  EXPECT_EQ(kVcekGuid[0], 0x63);
  EXPECT_EQ(kVcekGuid[3], 0x8d);
  EXPECT_EQ(kVcekGuid[4], 0xe6);
  EXPECT_EQ(kVcekGuid[15], 0xcd);
  EXPECT_EQ(kArkGuid[0], 0xc0);
  EXPECT_EQ(kAskGuid[0], 0x4a);
  EXPECT_EQ(kVlekGuid[0], 0xa8);
  EXPECT_EQ(cert_guid_name(kVlekGuid), "VLEK");
  CertGuid other{};
  other[0] = 0x12;
  other[15] = 0x34;
  EXPECT_EQ(cert_guid_name(other), "12000000-0000-0000-0000-000000000034");
}

TEST(SnpCertTableTest, WellFormedTableIsAccepted) {
  const auto blob = standard_table();
  ASSERT_EQ(blob.size(), 4u * 24 + 1360 + 1650 + 1620);
  auto entries = parse_cert_table(blob);
  ASSERT_TRUE(entries) << entries.error().message();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ(cert_guid_name((*entries)[0].guid), "VCEK");
  EXPECT_EQ((*entries)[0].offset, 96u);
  EXPECT_EQ((*entries)[0].length, 1360u);
  EXPECT_EQ(cert_guid_name((*entries)[2].guid), "ARK");
  EXPECT_EQ((*entries)[2].offset, 96u + 1360 + 1650);
  // A terminator alone is an empty (but well-formed) table.
  EXPECT_EQ(message_of(parse_cert_table(std::vector<std::byte>(24))), "<ok>");
}

TEST(SnpCertTableTest, MalformedTablesAreRefused) {
  const auto good = standard_table();
  // Truncated inside the table: no terminator left.
  EXPECT_EQ(message_of(parse_cert_table(std::span(good).first(60))),
            "certificate table of 60 bytes has no all-zero terminator entry (GHCB \"SNP Extended "
            "Guest Request\")");
  EXPECT_EQ(message_of(parse_cert_table({})),
            "certificate table of 0 bytes has no all-zero terminator entry (GHCB \"SNP Extended "
            "Guest Request\")");
  // Truncated inside the certificates: the last entry now points past the end.
  EXPECT_EQ(message_of(parse_cert_table(std::span(good).first(good.size() - 1))),
            "certificate table entry 2 (ARK): offset 0xc22 length 0x654 is not inside the "
            "certificate data [0x60, 0x1275)");
  auto outside = good;
  put_entry(outside, 1, kAskGuid, 0x10, 100);  // points into the table itself
  EXPECT_EQ(message_of(parse_cert_table(outside)),
            "certificate table entry 1 (ASK): offset 0x10 length 0x64 is not inside the "
            "certificate data [0x60, 0x1276)");
  auto empty_cert = good;
  put_entry(empty_cert, 0, kVcekGuid, 96, 0);
  EXPECT_NE(message_of(parse_cert_table(empty_cert)).find("entry 0 (VCEK): offset 0x60 length 0x0"),
            std::string::npos);
  auto twice = good;
  put_entry(twice, 2, kVcekGuid, 96, 10);
  EXPECT_EQ(message_of(parse_cert_table(twice)),
            "certificate table entry 2: VCEK appears twice");
  // No terminator: the all-zero entry replaced by a fourth certificate entry, and no zeros
  // anywhere an entry could start.
  std::vector<std::byte> unterminated(48, std::byte{0xff});
  EXPECT_NE(message_of(parse_cert_table(unterminated)).find("has no all-zero terminator"),
            std::string::npos);
  EXPECT_EQ(message_of(parse_cert_table(std::vector<std::byte>(kMaxCertTableBytes + 1))),
            "certificate table is 65537 bytes, more than the 65536 cvmm accepts");
}

class TempFile {
 public:
  explicit TempFile(std::span<const std::byte> bytes) {
    char name[] = "/tmp/cvmm-snp-certs-XXXXXX";
    const int fd = mkstemp(name);
    path_ = name;
    if (fd >= 0) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      written_ = n == static_cast<ssize_t>(bytes.size());
      ::close(fd);
    }
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  bool ok() const { return written_; }

 private:
  std::string path_;
  bool written_ = false;
};

TEST(SnpCertTableTest, FileErrorsNameTheFile) {
  const auto good = standard_table();
  TempFile file(good);
  ASSERT_TRUE(file.ok());
  auto loaded = load_snp_certificates(file.path());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->blob, good);
  EXPECT_EQ(loaded->entries.size(), 3u);

  TempFile bad{std::span(good).first(60)};
  auto malformed = load_snp_certificates(bad.path());
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().message().find(bad.path() + ": certificate table of 60 bytes"), 0u)
      << malformed.error().message();

  auto missing = load_snp_certificates("/nonexistent/cvmm/certs.bin");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("/nonexistent/cvmm/certs.bin"), std::string::npos)
      << missing.error().message();

  const std::vector<std::byte> huge(kMaxCertTableBytes + 4096);
  TempFile big(huge);
  auto too_big = load_snp_certificates(big.path());
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message().find(big.path()), std::string::npos)
      << too_big.error().message();
}

// Guest memory of `size` bytes at `base`; nothing else is accessible.
class FlatMemory final : public GuestMemoryView {
 public:
  FlatMemory(uint64_t base, std::size_t size) : base_(base), bytes_(size) {}
  Result<void> read(uint64_t gpa, std::span<std::byte> out) const override {
    if (!contains(gpa, out.size())) return make_error(ErrorCode::kGuest, "outside");
    std::memcpy(out.data(), bytes_.data() + (gpa - base_), out.size());
    return ok();
  }
  Result<void> write(uint64_t gpa, std::span<const std::byte> data) override {
    if (!contains(gpa, data.size())) {
      return make_error(ErrorCode::kGuest, "gpa range [{:#x}, +{:#x}) is outside guest memory",
                        gpa, data.size());
    }
    std::memcpy(bytes_.data() + (gpa - base_), data.data(), data.size());
    return ok();
  }
  bool contains(uint64_t gpa, uint64_t length) const override {
    return gpa >= base_ && length <= bytes_.size() && gpa - base_ <= bytes_.size() - length;
  }
  Result<std::size_t> host_iovecs(uint64_t, uint64_t, std::span<iovec>) override {
    return make_error(ErrorCode::kInternal, "unused");
  }
  std::span<const std::byte> bytes() const { return bytes_; }

 private:
  uint64_t base_;
  std::vector<std::byte> bytes_;
};

TEST(SnpCertRequestTest, SmallBufferGetsEnospcWithThePagesNeeded) {
  const auto blob = standard_table();  // 4726 bytes: 2 pages
  FlatMemory memory(0x100000, 0x10000);
  const CertRequestReply reply = answer_cert_request(blob, 0x100000, 1, memory);
  EXPECT_EQ(reply.ret, static_cast<uint64_t>(ENOSPC));
  EXPECT_EQ(reply.npages, 2u);
  EXPECT_EQ(cert_pages(4096), 1u);
  EXPECT_EQ(cert_pages(4097), 2u);
  EXPECT_EQ(answer_cert_request(blob, 0x100000, 0, memory).npages, 2u);
  // Nothing was written.
  EXPECT_TRUE(std::all_of(memory.bytes().begin(), memory.bytes().end(),
                          [](std::byte b) { return b == std::byte{0}; }));
}

TEST(SnpCertRequestTest, BlobIsWrittenByteForByteAtGpa) {
  const auto blob = standard_table();
  FlatMemory memory(0x100000, 0x10000);
  const CertRequestReply reply = answer_cert_request(blob, 0x102000, 4, memory);
  EXPECT_EQ(reply.ret, 0u);
  EXPECT_EQ(reply.npages, 4u);
  const auto at = memory.bytes().subspan(0x2000, blob.size());
  EXPECT_TRUE(std::equal(at.begin(), at.end(), blob.begin()));
  EXPECT_EQ(memory.bytes()[0x1fff], std::byte{0});
  EXPECT_EQ(memory.bytes()[0x2000 + blob.size()], std::byte{0});
}

TEST(SnpCertRequestTest, InaccessibleBufferGetsEio) {
  const auto blob = standard_table();
  FlatMemory memory(0x100000, 0x2000);
  const CertRequestReply outside = answer_cert_request(blob, 0x40000000, 2, memory);
  EXPECT_EQ(outside.ret, static_cast<uint64_t>(EIO));
  EXPECT_NE(outside.note.find("gpa 0x40000000 (2 pages) is not accessible"), std::string::npos)
      << outside.note;
  // Straddling the end of memory, and a guest npages whose byte size would wrap.
  EXPECT_EQ(answer_cert_request(blob, 0x101000, 2, memory).ret, static_cast<uint64_t>(EIO));
  EXPECT_EQ(answer_cert_request(blob, UINT64_MAX & ~0xfffull, UINT64_MAX, memory).ret,
            static_cast<uint64_t>(EIO));
}

// ---- The model's rules for KVM_SEV_SNP_ENABLE_REQ_CERTS and the attribute ----------------

struct ModelVm {
  explicit ModelVm(SnpHostModel host) : model(host) {
    system.emplace(std::move(kvm::System::open(model)).value());
    vm.emplace(std::move(system->create_vm(KVM_X86_SNP_VM)).value());
    sev = UniqueFd(model.open("/dev/sev", O_RDWR));
  }
  SevCallOutcome command(uint32_t id, void* data) {
    return issue_sev_command(*vm, sev.get(), id, data);
  }
  SevCallOutcome init2() {
    kvm_sev_init init{};
    return command(KVM_SEV_INIT2, &init);
  }
  SevCallOutcome enable_certs() { return command(KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr); }

  SnpKvmModel model;
  std::optional<kvm::System> system;
  std::optional<kvm::Vm> vm;
  UniqueFd sev;
};

SnpHostModel certs_host() {
  SnpHostModel host;
  host.req_certs = 1;
  return host;
}

TEST(SnpCertModelTest, EnableAfterInit2BeforeVcpusPasses) {
  ModelVm m(certs_host());
  ASSERT_TRUE(m.init2().ok());
  EXPECT_TRUE(m.enable_certs().ok());
  EXPECT_TRUE(m.model.certs_enabled());
  EXPECT_TRUE(m.model.violations().empty()) << m.model.violations().front();
  EXPECT_EQ(m.model.sev_commands(), (std::vector<uint32_t>{22, 103}));
}

TEST(SnpCertModelTest, EnableBeforeInit2Fails) {
  ModelVm m(certs_host());
  EXPECT_EQ(m.enable_certs().error_number, EINVAL);
  EXPECT_FALSE(m.model.certs_enabled());
  ASSERT_EQ(m.model.violations().size(), 1u);
}

TEST(SnpCertModelTest, EnableAfterVcpuCreationFails) {
  ModelVm m(certs_host());
  ASSERT_TRUE(m.init2().ok());
  ASSERT_TRUE(m.vm->create_vcpu(0));
  EXPECT_EQ(m.enable_certs().error_number, EINVAL);
  ASSERT_EQ(m.model.violations().size(), 1u);
  EXPECT_EQ(m.model.violations()[0], "SNP_ENABLE_REQ_CERTS after a vCPU was created");
}

TEST(SnpCertModelTest, EnableOnOldKernelFails) {
  ModelVm m(SnpHostModel{});
  ASSERT_TRUE(m.init2().ok());
  EXPECT_EQ(m.enable_certs().error_number, EINVAL);
  ASSERT_EQ(m.model.violations().size(), 1u);
}

TEST(SnpCertModelTest, AttributeProbe) {
  ModelVm with(certs_host());
  auto value = read_sev_attribute(*with.system, KVM_X86_SEV_SNP_REQ_CERTS);
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, std::optional<uint64_t>(1));
  EXPECT_TRUE(check_cert_forwarding(*with.system));
  ModelVm without(SnpHostModel{});
  auto none = read_sev_attribute(*without.system, KVM_X86_SEV_SNP_REQ_CERTS);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto refused = check_cert_forwarding(*without.system);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(refused.error().message(),
            "this kernel cannot forward SNP certificate requests (needs KVM_X86_SEV_SNP_REQ_CERTS, "
            "Linux ≈7.0): the attribute is unknown to KVM");
}

// ---- The backend end to end ---------------------------------------------------------------

LaunchConfig certs_config(const std::string& path) {
  LaunchConfig config;
  config.firmware = make_blob(firmware::testing::build_synthetic_ovmf());
  config.platform.snp_certs = path;
  return config;
}

kvm::SnpReqCertsExit run_answer(const kvm::Vcpu& vcpu) {
  kvm::SnpReqCertsExit answer{};
  std::memcpy(&answer, reinterpret_cast<const std::byte*>(&vcpu.run_data()) + 32, sizeof(answer));
  return answer;
}

TEST(SnpCertBackendTest, LaunchEnablesCertificateRequestsBeforeVcpus) {
  const auto blob = standard_table();
  TempFile file(blob);
  ASSERT_TRUE(file.ok());
  LaunchHarness h(certs_host());
  auto result = h.run(certs_config(file.path()));
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(h.model.violations().empty()) << h.model.violations().front();
  EXPECT_TRUE(h.model.certs_enabled());
  const auto commands = h.model.sev_commands();
  ASSERT_GE(commands.size(), 4u);
  EXPECT_EQ(commands[0], 22u);   // INIT2
  EXPECT_EQ(commands[1], 100u);  // LAUNCH_START
  EXPECT_EQ(commands[2], 103u);  // ENABLE_REQ_CERTS, before KVM_CREATE_VCPU (model rule)
  EXPECT_EQ(commands[3], 101u);
  EXPECT_EQ(commands.back(), 102u);
  EXPECT_EQ(std::count(commands.begin(), commands.end(), 103u), 1);
  ASSERT_TRUE(h.host);
  EXPECT_NE(std::find(h.host->findings.begin(), h.host->findings.end(),
                      "SNP certificate requests (KVM_X86_SEV_SNP_REQ_CERTS): forwarded to "
                      "userspace"),
            h.host->findings.end());
}

TEST(SnpCertBackendTest, WithoutCertificatesNothingChanges) {
  LaunchHarness h(certs_host());
  LaunchConfig config = certs_config("");
  ASSERT_TRUE(h.run(config));
  EXPECT_FALSE(h.model.certs_enabled());
  const auto commands = h.model.sev_commands();
  EXPECT_EQ(std::count(commands.begin(), commands.end(), 103u), 0);
  // An (unexpected) request is answered with EIO, not a VM failure.
  kvm::Vcpu& vcpu = h.vcpus[0];
  auto policy = h.backend->exit_interceptor()->intercept(vcpu, SnpCertsRequestExit{0x200000, 4});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(run_answer(vcpu).ret, static_cast<uint64_t>(EIO));
}

TEST(SnpCertBackendTest, ExitsAreAnsweredInKvmRun) {
  const auto blob = standard_table();
  TempFile file(blob);
  LaunchHarness h(certs_host());
  ASSERT_TRUE(h.run(certs_config(file.path())));
  ExitInterceptor* interceptor = h.backend->exit_interceptor();
  kvm::Vcpu& vcpu = h.vcpus[0];
  constexpr uint64_t kGpa = 0x300000;

  // Too small: ENOSPC and the exact page count.
  auto policy = interceptor->intercept(vcpu, SnpCertsRequestExit{kGpa, 1});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(run_answer(vcpu).ret, static_cast<uint64_t>(ENOSPC));
  EXPECT_EQ(run_answer(vcpu).npages, 2u);

  // Big enough: the blob at gpa, byte for byte, ret 0, npages as the guest gave it.
  policy = interceptor->intercept(vcpu, SnpCertsRequestExit{kGpa, 4});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(run_answer(vcpu).ret, 0u);
  EXPECT_EQ(run_answer(vcpu).npages, 4u);
  std::vector<std::byte> in_guest(blob.size());
  ASSERT_TRUE(h.memory->read(kGpa, in_guest));
  EXPECT_EQ(in_guest, blob);

  // Outside guest RAM (16 MiB): EIO, the VM goes on.
  policy = interceptor->intercept(vcpu, SnpCertsRequestExit{0x40000000, 4});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(run_answer(vcpu).ret, static_cast<uint64_t>(EIO));
  EXPECT_TRUE(h.model.violations().empty()) << h.model.violations().front();
}

TEST(SnpCertBackendTest, HostWithoutSupportFailsBeforeMemory) {
  const auto blob = standard_table();
  TempFile file(blob);
  LaunchHarness h;  // no KVM_X86_SEV_SNP_REQ_CERTS
  auto result = h.run(certs_config(file.path()));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(result.error().message(),
            "check_host: this kernel cannot forward SNP certificate requests (needs "
            "KVM_X86_SEV_SNP_REQ_CERTS, Linux ≈7.0): the attribute is unknown to KVM");
  EXPECT_FALSE(h.vm.has_value());
  EXPECT_EQ(h.memory, nullptr);
  EXPECT_TRUE(h.model.sev_commands().empty());
}

TEST(SnpCertBackendTest, BadCertificateFileFailsInInitVmBeforeMemory) {
  LaunchHarness h(certs_host());
  auto result = h.run(certs_config("/nonexistent/cvmm/certs.bin"));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("init_vm"), std::string::npos);
  EXPECT_NE(result.error().message().find("/nonexistent/cvmm/certs.bin"), std::string::npos)
      << result.error().message();
  EXPECT_EQ(h.memory, nullptr);
  EXPECT_TRUE(h.model.sev_commands().empty());  // not even KVM_SEV_INIT2
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
