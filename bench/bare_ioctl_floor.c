// SPDX-License-Identifier: Apache-2.0
// bare_ioctl_floor: the least work any VMM must do to run the bench's trivial guest, i.e. the
// floor that cvmm's exec->exit time is compared against (bench/README.md).
//
// open /dev/kvm, KVM_CREATE_VM, one memory slot, one vCPU entered directly in 32-bit protected
// mode with paging off (the PVH entry state, xen/include/public/arch-x86/hvm/start_info.h),
// KVM_RUN until the guest asks for a reset (0xfe to i8042 port 0x64) or halts. The guest code
// is the same as bench/trivial_pvh_guest.S: "OK\n" on COM1 (0x3f8), then the reset.
// No irqchip, no PIT, no CPUID setup: those are what cvmm adds on top of the floor.
//
// Exit status: 0 on the reset/hlt exit, 1 on any other exit or error, 77 without /dev/kvm.
// Output: the guest's COM1 bytes on stdout; errors on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
  kGuestMemBytes = 2 << 20,      // 2 MiB: the code page sits at 1 MiB like a PVH kernel
  kGuestCodeGpa = 0x100000,      // 1 MiB, where PVH kernels are loaded
  kCom1Port = 0x3f8,
  kI8042CommandPort = 0x64,
  kI8042ResetCommand = 0xfe,
};

// 32-bit code (same bytes as bench/trivial_pvh_guest.S; objdump of that file):
static const uint8_t kGuestCode[] = {
    0x66, 0xba, 0xf8, 0x03,  // mov $0x3f8, %dx
    0xb0, 'O', 0xee,         // mov $'O', %al; out %al, (%dx)
    0xb0, 'K', 0xee,         // mov $'K', %al; out %al, (%dx)
    0xb0, '\n', 0xee,        // mov $'\n', %al; out %al, (%dx)
    0xb0, 0xfe, 0xe6, 0x64,  // mov $0xfe, %al; out %al, $0x64  (i8042 reset)
    0x31, 0xc0, 0xe6, 0xf4,  // xor %eax, %eax; out %al, $0xf4  (isa-debug-exit, QEMU)
    0xf4, 0xeb, 0xfd,        // 1: hlt; jmp 1b
};

static int fail(const char* what) {
  fprintf(stderr, "bare_ioctl_floor: %s: %s\n", what, strerror(errno));
  return 1;
}

// Flat 4 GiB segment (descriptor fields as KVM_SET_SREGS takes them).
static struct kvm_segment flat_segment(uint16_t selector, uint8_t type) {
  struct kvm_segment segment = {
      .base = 0, .limit = 0xffffffff, .selector = selector, .type = type, .present = 1,
      .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
  };
  return segment;
}

// PVH entry state: CR0.PE set, paging off, flat 32-bit code and data segments, EFLAGS bit 1.
static int enter_protected_mode(int vcpu_fd) {
  struct kvm_sregs sregs;
  if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
    return fail("KVM_GET_SREGS");
  }
  sregs.cs = flat_segment(0x10, 0xb);  // execute/read, accessed
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x18, 0x3);
  sregs.cr0 = 0x1;  // PE
  sregs.cr4 = 0;
  sregs.efer = 0;
  if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
    return fail("KVM_SET_SREGS");
  }
  struct kvm_regs regs = {.rip = kGuestCodeGpa, .rflags = 0x2};
  if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) {
    return fail("KVM_SET_REGS");
  }
  return 0;
}

// Returns 0 when the guest reset or halted, 1 otherwise.
static int run_until_reset(int vcpu_fd, struct kvm_run* run) {
  for (;;) {
    if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("KVM_RUN");
    }
    if (run->exit_reason == KVM_EXIT_HLT) {
      return 0;
    }
    if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT) {
      fprintf(stderr, "bare_ioctl_floor: unexpected exit reason %u\n", run->exit_reason);
      return 1;
    }
    const uint8_t value = ((const uint8_t*)run)[run->io.data_offset];
    if (run->io.port == kCom1Port) {
      fputc(value, stdout);
    } else if (run->io.port == kI8042CommandPort && value == kI8042ResetCommand) {
      return 0;
    }
  }
}

static int run_guest(int kvm_fd) {
  const int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
  if (vm_fd < 0) {
    return fail("KVM_CREATE_VM");
  }
  uint8_t* memory = mmap(NULL, kGuestMemBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    return fail("mmap guest memory");
  }
  memcpy(memory + kGuestCodeGpa, kGuestCode, sizeof(kGuestCode));
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = kGuestMemBytes,
      .userspace_addr = (uint64_t)(uintptr_t)memory,
  };
  if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return fail("KVM_SET_USER_MEMORY_REGION");
  }
  const int vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
  if (vcpu_fd < 0) {
    return fail("KVM_CREATE_VCPU");
  }
  const int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < (int)sizeof(struct kvm_run)) {
    return fail("KVM_GET_VCPU_MMAP_SIZE");
  }
  struct kvm_run* run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                             vcpu_fd, 0);
  if (run == MAP_FAILED) {
    return fail("mmap kvm_run");
  }
  if (enter_protected_mode(vcpu_fd) != 0) {
    return 1;
  }
  const int status = run_until_reset(vcpu_fd, run);
  fflush(stdout);
  // The process exit closes the fds and unmaps: the kernel's VM teardown is part of the floor.
  return status;
}

int main(void) {
  const int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0) {
    if (errno == ENOENT) {
      fprintf(stderr, "bare_ioctl_floor: /dev/kvm is absent: skipped\n");
      return 77;
    }
    return fail("open /dev/kvm");
  }
  if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
    fprintf(stderr, "bare_ioctl_floor: unexpected KVM API version\n");
    return 1;
  }
  return run_guest(kvm_fd);
}
