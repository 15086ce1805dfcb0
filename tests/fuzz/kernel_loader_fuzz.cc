// SPDX-License-Identifier: Apache-2.0
// Fuzzes the x86 kernel loaders (bzImage and ELF vmlinux detection, parsing, loading into
// guest RAM) and initrd placement with arbitrary images. Invariants checked on success: the
// kernel lies inside [1 MiB, ram end), entries lie inside the loaded kernel (ELF), and an
// initrd placement never overlaps the kernel.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/x86/kernel_image.h"
#include "vmm/x86/layout.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cvm::vmm::x86;  // NOLINT: fuzz harness
  // 24 MiB of "guest RAM", reused across runs (contents do not matter to the loaders).
  static std::vector<std::byte> ram(24 * kMiB);
  const std::span<const std::byte> image(reinterpret_cast<const std::byte*>(data), size);

  (void)parse_bzimage(image);
  (void)parse_elf_kernel(image);
  auto kernel = load_kernel(image, ram);
  if (!kernel) {
    return 0;
  }
  check(kernel->start >= kKernelMinAddress);
  check(kernel->start <= kernel->end && kernel->end <= ram.size());
  if (kernel->format == KernelFormat::kElf) {
    check(kernel->entry64 >= kernel->start && kernel->entry64 < kernel->end);
  } else {
    check(kernel->entry64 == kernel->start + 0x200);
  }
  const uint64_t initrd_size = size * 64 + 1;
  auto initrd = place_initrd(initrd_size, *kernel, ram.size());
  if (initrd) {
    check(*initrd >= kernel->end && *initrd + initrd_size <= ram.size());
    check(*initrd % kPageSize == 0);
  }
  return 0;
}
