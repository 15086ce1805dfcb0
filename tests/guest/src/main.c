// SPDX-License-Identifier: Apache-2.0
// guest_main: console, command line, device discovery, the selected test program, and the
// power-off that ends the VM under cvmm (ACPI S5 on port 0x600) or QEMU (isa-debug-exit on
// port 0xf4, then an i8042 reset).
#include "checksum.h"
#include "cmdline.h"
#include "guest.h"
#include "io.h"
#include "lib.h"

enum {
  // cvmm's PowerDevice (devices/acpi/power_device.h): SLP_TYP 5 in bits 4:2 | SLP_EN (bit 5).
  kAcpiSleepControlPort = 0x600,
  kAcpiSleepS5Enable = (5 << 2) | 0x20,
  // QEMU isa-debug-exit (-device isa-debug-exit,iobase=0xf4,iosize=4): QEMU exits with
  // status (value << 1) | 1.
  kDebugExitPort = 0xf4,
  // i8042 command 0xfe: pulse the CPU reset line (QEMU with -no-reboot then exits).
  kI8042CommandPort = 0x64,
  kI8042PulseReset = 0xfe,
};

static void power_off(bool passed) {
  outb(kAcpiSleepControlPort, kAcpiSleepS5Enable);
  outb(kDebugExitPort, passed ? 0 : 1);
  outb(kI8042CommandPort, kI8042PulseReset);
  halt_forever();
}

// ---- Exceptions: print the vector and where, then power off (a test must not hang).
struct exception_frame {
  uint64_t vector;
  uint64_t error_code;
  uint64_t rip;
  uint64_t cs;
  uint64_t rflags;
  uint64_t rsp;
  uint64_t ss;
};

// 64-bit IDT gate (Intel SDM Vol. 3A §6.14.1): offset 15:0 @0, selector @2, IST @4,
// type/attributes @5, offset 31:16 @6, offset 63:32 @8, reserved @12.
struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attributes;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate is 16 bytes");

extern const uint64_t exception_stubs[32];
static struct idt_gate idt[32] __attribute__((aligned(16)));

__attribute__((noreturn)) void exception_handler(const struct exception_frame* frame);
void exception_handler(const struct exception_frame* frame) {
  guest_printf("CVMMTEST exception vector=%lu error=%#lx rip=%#lx\n", frame->vector,
               frame->error_code, frame->rip);
  guest_printf("CVMMTEST done fail\n");
  power_off(false);
  __builtin_unreachable();
}

static void idt_init(void) {
  uint16_t code_selector;
  __asm__ volatile("mov %%cs, %0" : "=r"(code_selector));
  for (int i = 0; i < 32; ++i) {
    const uint64_t handler = exception_stubs[i];
    idt[i] = (struct idt_gate){
        .offset_low = (uint16_t)handler,
        .selector = code_selector,
        .ist = 0,
        .type_attributes = 0x8e,  // present, DPL 0, 64-bit interrupt gate
        .offset_mid = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
        .reserved = 0,
    };
  }
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } descriptor = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" : : "m"(descriptor));
}

void guest_main(uint64_t kind, uintptr_t boot_info);
void guest_main(uint64_t kind, uintptr_t boot_info) {
  serial_init();
  idt_init();
  clock_init();
  crc32_init();
  const char* cmdline = boot_cmdline((enum boot_kind)kind, boot_info);
  guest_printf("CVMMTEST boot entry=%s\n", kind == kBootPvh ? "pvh" : "linux64");
  guest_printf("cvmm-guest: cmdline: %s\n", cmdline);
  power_off(guest_run(cmdline));
}
