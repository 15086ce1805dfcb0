// SPDX-License-Identifier: Apache-2.0
// Port I/O, MMIO accessors and barriers for the freestanding test guest. Everything here is a
// plain general-purpose instruction (in/out/mov/lock add/pause/rdtsc/cpuid), because the
// nested build host's instruction emulator cannot run SSE/AVX, cmpxchg16b, popcnt, xrstor,
// int3 or fwait (docs: nested-kvm-notes.md).
#ifndef CVMM_GUEST_IO_H
#define CVMM_GUEST_IO_H

#include <stdint.h>

#ifdef CVMM_GUEST_HOSTED
// Hosted build (tests/guest/hosted_driver_test.cc): the drivers run as host code and every
// port or MMIO access goes to the test's device models through these hooks.
void hosted_port_write(uint16_t port, uint8_t value);
uint8_t hosted_port_read(uint16_t port);
uint32_t hosted_mmio_read(uintptr_t address, unsigned size);
void hosted_mmio_write(uintptr_t address, uint32_t value, unsigned size);

void hosted_port_write_wide(uint16_t port, uint32_t value, unsigned size);

static inline void outb(uint16_t port, uint8_t value) { hosted_port_write(port, value); }
static inline void outw(uint16_t port, uint16_t value) { hosted_port_write_wide(port, value, 2); }
static inline void outl(uint16_t port, uint32_t value) { hosted_port_write_wide(port, value, 4); }
static inline uint8_t inb(uint16_t port) { return hosted_port_read(port); }
static inline uint32_t mmio_read32(uintptr_t address) { return hosted_mmio_read(address, 4); }
static inline void mmio_write32(uintptr_t address, uint32_t value) {
  hosted_mmio_write(address, value, 4);
}
static inline uint8_t mmio_read8(uintptr_t address) {
  return (uint8_t)hosted_mmio_read(address, 1);
}
#else
static inline void outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t value) {
  __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

// MMIO: one aligned mov of the register's width, which KVM and QEMU decode as one access.
static inline uint32_t mmio_read32(uintptr_t address) {
  return *(volatile uint32_t*)address;
}
static inline void mmio_write32(uintptr_t address, uint32_t value) {
  *(volatile uint32_t*)address = value;
}
static inline uint8_t mmio_read8(uintptr_t address) {
  return *(volatile uint8_t*)address;
}
#endif  // CVMM_GUEST_HOSTED

// Stops the compiler from moving memory accesses across this point. x86 keeps stores in
// order and loads in order (TSO), which is all a split virtqueue needs between ring updates.
static inline void compiler_barrier(void) { __asm__ volatile("" : : : "memory"); }

// Full barrier (store -> load ordering), e.g. between publishing avail->idx and reading the
// device's used->flags. A locked add to the stack is a full fence and is not SSE2 (mfence).
static inline void full_barrier(void) {
  __asm__ volatile("lock; addl $0, (%%rsp)" : : : "memory", "cc");
}

static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }

static inline uint64_t rdtsc(void) {
  uint32_t low, high;
  __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
  return ((uint64_t)high << 32) | low;
}

static inline void cpuid(uint32_t leaf, uint32_t* a, uint32_t* b, uint32_t* c, uint32_t* d) {
  __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline void halt_forever(void) {
  for (;;) {
    __asm__ volatile("cli; hlt");
  }
}

#endif
