// SPDX-License-Identifier: Apache-2.0
// The few C library pieces the guest needs (it links no libc): memory functions, string
// parsing for the command line, a small printf on COM1, and a TSC-based deadline.
#ifndef CVMM_GUEST_LIB_H
#define CVMM_GUEST_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void* memset(void* dest, int value, size_t count);
void* memcpy(void* dest, const void* src, size_t count);
void* memmove(void* dest, const void* src, size_t count);
int memcmp(const void* a, const void* b, size_t count);
size_t strlen(const char* text);

/// True when text[0, len) equals the NUL-terminated `word`.
bool span_equals(const char* text, size_t len, const char* word);

/// Parses an unsigned number at text[0, len): decimal, or hex with 0x, optionally followed by
/// K, M or G (binary multiples, as Linux memparse). Stores the number of characters used in
/// *used. Returns false when there is no digit or the value overflows 64 bits.
bool parse_u64(const char* text, size_t len, uint64_t* value, size_t* used);

/// COM1 (0x3f8), polled: no interrupts are ever enabled in this guest.
void serial_init(void);
void serial_write(const char* text, size_t len);

/// printf subset: %s %c %d %u %x %#x %lx %lu %llx %llu %zu %p, with an optional zero-pad width
/// (%08x) and %.*s. Writes to COM1.
void guest_printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
void guest_vprintf(const char* format, va_list args);

/// Lower-case hex of bytes[0, count) into out (2 * count + 1 bytes, NUL-terminated).
void hex_encode(const uint8_t* bytes, size_t count, char* out);

/// Deadlines from the TSC. The TSC rate comes from the hypervisor CPUID leaf 0x40000010
/// (cvmm and QEMU report it); without it 3 GHz is assumed, so timeouts are approximate.
void clock_init(void);
uint64_t deadline_after_ms(uint64_t milliseconds);
bool deadline_passed(uint64_t deadline);

#endif
