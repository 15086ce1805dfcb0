// SPDX-License-Identifier: Apache-2.0
// cvmm-boot-mark PORT VALUE: writes the byte VALUE to the I/O port PORT and exits.
//
// The busybox /init calls it when user space is up so that the VMM's boot-timing device can
// timestamp "init reached" on the host side (host clocks are the only trustworthy ones: guest
// printk time lags wall time on nested hosts). A shell cannot do port I/O, hence this tiny
// static binary. It is freestanding (no libc): built with gcc -static -nostdlib, a few hundred
// bytes, no dependency beyond the kernel's x86-64 syscall ABI.
// Exit status: 0 written, 1 usage error, 2 ioperm() refused (kernel without
// CONFIG_X86_IOPL_IOPERM or not root).

// x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
#define SYS_WRITE 1L
#define SYS_IOPERM 173L
#define SYS_EXIT 60L

static long syscall3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c)
                   : "rcx", "r11", "memory");
  return ret;
}

static void say(const char* text) {
  long len = 0;
  while (text[len] != '\0') {
    ++len;
  }
  syscall3(SYS_WRITE, 2, (long)text, len);
}

// Parses decimal or 0x-prefixed hex; returns 0 on success.
static int parse_number(const char* text, unsigned long limit, unsigned long* out) {
  unsigned long base = 10;
  unsigned long value = 0;
  if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text += 2;
  }
  if (*text == '\0') {
    return 1;
  }
  for (; *text != '\0'; ++text) {
    unsigned long digit;
    if (*text >= '0' && *text <= '9') {
      digit = (unsigned long)(*text - '0');
    } else if (base == 16 && *text >= 'a' && *text <= 'f') {
      digit = (unsigned long)(*text - 'a' + 10);
    } else if (base == 16 && *text >= 'A' && *text <= 'F') {
      digit = (unsigned long)(*text - 'A' + 10);
    } else {
      return 1;
    }
    if (digit >= base) {
      return 1;
    }
    value = value * base + digit;
    if (value > limit) {
      return 1;
    }
  }
  *out = value;
  return 0;
}

__attribute__((noreturn)) static void exit_with(long status) {
  syscall3(SYS_EXIT, status, 0, 0);
  __builtin_unreachable();
}

// Called from _start with the initial stack pointer: argc, then the argv pointers.
__attribute__((noreturn, used)) void boot_mark_main(long* initial_sp) {
  long argc = initial_sp[0];
  char** argv = (char**)(initial_sp + 1);
  unsigned long port;
  unsigned long value;
  if (argc != 3 || parse_number(argv[1], 0xffff, &port) != 0 ||
      parse_number(argv[2], 0xff, &value) != 0) {
    say("usage: cvmm-boot-mark PORT VALUE (PORT <= 0xffff, VALUE <= 0xff)\n");
    exit_with(1);
  }
  if (syscall3(SYS_IOPERM, (long)port, 1, 1) != 0) {
    say("cvmm-boot-mark: ioperm refused\n");
    exit_with(2);
  }
  __asm__ volatile("outb %b0, %w1" : : "a"((unsigned char)value), "Nd"((unsigned short)port));
  exit_with(0);
}

__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call boot_mark_main\n"
    "  ud2\n");
