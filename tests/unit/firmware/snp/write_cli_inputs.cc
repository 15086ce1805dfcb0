// SPDX-License-Identifier: Apache-2.0
// write_cli_inputs DIR: writes the synthetic inputs the cvmm-measure snp CLI tests pass as
// files: synthetic_ovmf.bin (build_synthetic_ovmf(), which has an SNP_KERNEL_HASHES section),
// pattern_kernel.bin and pattern_initrd.bin (test_inputs.h, the bytes cross-checked with
// virtee/sev-snp-measure), bzimage.bin (a synthetic bzImage) and elf_vmlinux.bin (a synthetic
// ELF64 vmlinux).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/firmware/snp/test_inputs.h"
#include "tests/unit/x86/synthetic_images.h"

namespace {

bool write(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_cli_inputs DIR\n");
    return 2;
  }
  namespace t = cvm::firmware::testing;
  const std::string dir = argv[1];
  const bool written =
      write(dir + "/synthetic_ovmf.bin", t::build_synthetic_ovmf()) &&
      write(dir + "/pattern_kernel.bin", t::synthetic_kernel()) &&
      write(dir + "/pattern_initrd.bin", t::synthetic_initrd()) &&
      write(dir + "/bzimage.bin", cvm::vmm::x86::testing::make_bzimage({.payload_size = 0x3000})) &&
      write(dir + "/elf_vmlinux.bin", cvm::vmm::x86::testing::make_elf());
  if (!written) {
    std::fprintf(stderr, "write_cli_inputs: cannot write to %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
