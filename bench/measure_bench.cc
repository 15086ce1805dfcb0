// SPDX-License-Identifier: Apache-2.0
// measure_bench: wall time and peak RSS of an SEV-SNP measurement of a 4 MiB firmware with
// measured direct boot of a 16 MiB kernel and a 64 MiB initramfs (synthetic, deterministic
// bytes), computed in-process the way cvmm-measure does: hash kernel/initrd, build the plan,
// fold it. `measure_bench --write-inputs DIR` instead writes the three files so that
// bench/measure_bench.sh can time the cvmm-measure binary on them.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/byte_reader.h"
#include "base/hex.h"
#include "firmware/ovmf/footer_table.h"
#include "firmware/snp/kernel_hashes.h"
#include "firmware/snp/launch_digest.h"
#include "firmware/snp/snp_launch_plan.h"

namespace {

using namespace cvm;                 // NOLINT(google-build-using-namespace): benchmark driver
using namespace cvm::firmware::snp;  // NOLINT(google-build-using-namespace)

constexpr std::size_t kFirmwareSize = 4 << 20;
constexpr std::size_t kKernelSize = 16 << 20;
constexpr std::size_t kInitrdSize = 64 << 20;

void put32(std::vector<std::byte>& b, std::size_t at, uint32_t v) {
  store_le<uint32_t>(std::span<std::byte>(b).subspan(at).first<4>(), v);
}
void put16(std::vector<std::byte>& b, std::size_t at, uint16_t v) {
  store_le<uint16_t>(std::span<std::byte>(b).subspan(at).first<2>(), v);
}
void put_guid(std::vector<std::byte>& b, std::size_t at, const firmware::Guid& g) {
  std::copy(g.bytes().begin(), g.bytes().end(), b.begin() + static_cast<long>(at));
}

std::vector<std::byte> pattern(std::size_t size, unsigned mul) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::byte>((i * mul + (i >> 12)) & 0xff);
  }
  return bytes;
}

// An AmdSev-like OVMF: footer table (ASEV offset, AP reset block, hashes area) and an ASEV
// table with SEC_MEM, SECRETS, CPUID and KERNEL_HASHES sections.
std::vector<std::byte> synthetic_firmware() {
  std::vector<std::byte> image = pattern(kFirmwareSize, 7);
  const std::size_t footer = image.size() - 0x30;
  put_guid(image, footer, firmware::ovmf::kFooterTableGuid);
  std::size_t cursor = footer - 2;
  auto entry = [&](const firmware::Guid& guid, std::vector<uint32_t> words) {
    cursor -= 18 + 4 * words.size();
    for (std::size_t i = 0; i < words.size(); ++i) {
      put32(image, cursor + 4 * i, words[i]);
    }
    put16(image, cursor + 4 * words.size(), static_cast<uint16_t>(18 + 4 * words.size()));
    put_guid(image, cursor + 4 * words.size() + 2, guid);
  };
  entry(firmware::ovmf::kSevMetadataOffsetGuid, {0x1000});
  entry(firmware::ovmf::kSevEsResetBlockGuid, {0x0080b004});
  entry(firmware::ovmf::kSevHashTableGuid, {0x0080f000, 0x400});
  put16(image, footer - 2, static_cast<uint16_t>(footer + 16 - cursor));
  const std::size_t h = image.size() - 0x1000;
  const uint32_t sections[][3] = {{0x800000, 0x9000, 1}, {0x809000, 0x1000, 2},
                                  {0x80a000, 0x1000, 3}, {0x80b000, 0x4000, 1},
                                  {0x80f000, 0x1000, 0x10}};
  std::copy_n(reinterpret_cast<const std::byte*>("ASEV"), 4, image.begin() + static_cast<long>(h));
  put32(image, h + 4, 16 + 12 * 5);
  put32(image, h + 8, 1);
  put32(image, h + 12, 5);
  for (std::size_t i = 0; i < 5; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      put32(image, h + 16 + 12 * i + 4 * j, sections[i][j]);
    }
  }
  return image;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

bool write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-inputs") {
    const std::string dir = argv[2];
    const bool ok = write_file(dir + "/firmware.fd", synthetic_firmware()) &&
                    write_file(dir + "/vmlinuz", pattern(kKernelSize, 13)) &&
                    write_file(dir + "/initrd.img", pattern(kInitrdSize, 31));
    return ok ? 0 : 1;
  }
  const long rss_start = peak_rss_kib();
  const auto firmware = std::make_shared<const std::vector<std::byte>>(synthetic_firmware());
  const std::vector<std::byte> kernel = pattern(kKernelSize, 13);
  const std::vector<std::byte> initrd = pattern(kInitrdSize, 31);
  const long rss_inputs = peak_rss_kib();

  const auto t0 = std::chrono::steady_clock::now();
  SnpLaunchInputs in;
  in.firmware = firmware;
  in.vcpus = 4;
  in.vmm = VmmType::kCvmm;
  in.cpu_signature = 0x00a00f11;
  in.kernel_hashes = compute_kernel_hashes(kernel, initrd, "console=ttyS0");
  const auto t1 = std::chrono::steady_clock::now();
  auto plan = build_snp_launch_plan(in);
  if (!plan) {
    std::fprintf(stderr, "measure_bench: %s\n", plan.error().message().c_str());
    return 1;
  }
  const auto t2 = std::chrono::steady_clock::now();
  const auto digest = measure_snp(*plan);
  const auto t3 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("measurement      %s\n", to_hex(digest).c_str());
  std::printf("hash kernel+initrd (80 MiB)  %8.1f ms\n", ms(t0, t1));
  std::printf("build plan                   %8.1f ms\n", ms(t1, t2));
  std::printf("fold plan (4 MiB firmware)   %8.1f ms\n", ms(t2, t3));
  std::printf("total                        %8.1f ms\n", ms(t0, t3));
  std::printf("peak RSS %ld KiB (%ld KiB at start, %ld KiB after generating inputs; the\n"
              "measurement itself added %ld KiB)\n",
              peak_rss_kib(), rss_start, rss_inputs, peak_rss_kib() - rss_inputs);
  return 0;
}
