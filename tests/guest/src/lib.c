// SPDX-License-Identifier: Apache-2.0
#include "lib.h"

#include "io.h"

#ifndef CVMM_GUEST_HOSTED  // hosted builds use the C library's
// The build passes -fno-tree-loop-distribute-patterns, so gcc does not turn these loops back
// into calls to themselves.
void* memset(void* dest, int value, size_t count) {
  uint8_t* d = dest;
  for (size_t i = 0; i < count; ++i) {
    d[i] = (uint8_t)value;
  }
  return dest;
}

void* memcpy(void* dest, const void* src, size_t count) {
  uint8_t* d = dest;
  const uint8_t* s = src;
  // Eight bytes at a time when both are aligned: the 1 GiB vsock test copies every byte.
  if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
    for (; count >= 8; count -= 8, d += 8, s += 8) {
      *(uint64_t*)d = *(const uint64_t*)s;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    d[i] = s[i];
  }
  return dest;
}

void* memmove(void* dest, const void* src, size_t count) {
  uint8_t* d = dest;
  const uint8_t* s = src;
  if (d <= s || d >= s + count) {
    return memcpy(dest, src, count);
  }
  for (size_t i = count; i > 0; --i) {
    d[i - 1] = s[i - 1];
  }
  return dest;
}

int memcmp(const void* a, const void* b, size_t count) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (size_t i = 0; i < count; ++i) {
    if (x[i] != y[i]) {
      return x[i] < y[i] ? -1 : 1;
    }
  }
  return 0;
}

size_t strlen(const char* text) {
  size_t n = 0;
  while (text[n] != '\0') {
    ++n;
  }
  return n;
}
#endif  // CVMM_GUEST_HOSTED

bool span_equals(const char* text, size_t len, const char* word) {
  return strlen(word) == len && memcmp(text, word, len) == 0;
}

static int digit_value(char c, unsigned base) {
  int v = -1;
  if (c >= '0' && c <= '9') {
    v = c - '0';
  } else if (c >= 'a' && c <= 'f') {
    v = c - 'a' + 10;
  } else if (c >= 'A' && c <= 'F') {
    v = c - 'A' + 10;
  }
  return v >= 0 && (unsigned)v < base ? v : -1;
}

bool parse_u64(const char* text, size_t len, uint64_t* value, size_t* used) {
  size_t at = 0;
  unsigned base = 10;
  if (len >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    at = 2;
  }
  const size_t first_digit = at;
  uint64_t result = 0;
  for (int d; at < len && (d = digit_value(text[at], base)) >= 0; ++at) {
    if (result > (UINT64_MAX - (uint64_t)d) / base) {
      return false;
    }
    result = result * base + (uint64_t)d;
  }
  if (at == first_digit) {
    return false;
  }
  unsigned shift = 0;
  if (at < len) {
    const char suffix = text[at];
    shift = suffix == 'K' || suffix == 'k' ? 10 : suffix == 'M' || suffix == 'm' ? 20
            : suffix == 'G' || suffix == 'g' ? 30 : 0;
    if (shift != 0) {
      ++at;
      if (result > (UINT64_MAX >> shift)) {
        return false;
      }
    }
  }
  *value = result << shift;
  *used = at;
  return true;
}

// ---- COM1: 16550 registers (PC16550D datasheet): THR/RBR 0, IER 1, FCR 2, LCR 3, MCR 4,
// LSR 5 (bit 5 = transmitter holding register empty).
enum { kCom1 = 0x3f8, kLsrThrEmpty = 0x20 };

void serial_init(void) {
  outb(kCom1 + 1, 0x00);  // IER: no interrupts
  outb(kCom1 + 3, 0x80);  // LCR: DLAB to set the divisor
  outb(kCom1 + 0, 0x01);  // divisor 1 = 115200 baud (ignored by virtual UARTs)
  outb(kCom1 + 1, 0x00);
  outb(kCom1 + 3, 0x03);  // LCR: 8N1, DLAB off
  outb(kCom1 + 2, 0x07);  // FCR: FIFO on, cleared
  outb(kCom1 + 4, 0x03);  // MCR: DTR, RTS
}

static void serial_put(char c) {
  // Bounded wait: a UART that never reports THR empty must not hang the guest.
  for (int tries = 0; tries < 100000 && (inb(kCom1 + 5) & kLsrThrEmpty) == 0; ++tries) {
    cpu_relax();
  }
  outb(kCom1, (uint8_t)c);
}

void serial_write(const char* text, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (text[i] == '\n') {
      serial_put('\r');
    }
    serial_put(text[i]);
  }
}

// ---- printf: formats into a line buffer, flushed at newline or when full.
struct line_buffer {
  char bytes[256];
  size_t used;
};

static void buffer_flush(struct line_buffer* b) {
  serial_write(b->bytes, b->used);
  b->used = 0;
}

static void buffer_put(struct line_buffer* b, char c) {
  if (b->used == sizeof(b->bytes)) {
    buffer_flush(b);
  }
  b->bytes[b->used++] = c;
}

static void put_unsigned(struct line_buffer* b, uint64_t value, unsigned base, unsigned width,
                         char pad) {
  char digits[24];
  unsigned n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value % base];
    value /= base;
  } while (value != 0);
  for (; width > n; --width) {
    buffer_put(b, pad);
  }
  while (n > 0) {
    buffer_put(b, digits[--n]);
  }
}

/// Reads the length modifiers l, ll, z and returns whether the argument is 64-bit.
static bool read_length(const char** format) {
  bool wide = false;
  while (**format == 'l' || **format == 'z') {
    wide = true;
    ++*format;
  }
  return wide;
}

static void put_conversion(struct line_buffer* b, const char** format, va_list* args) {
  const bool alternate = **format == '#';  // %#x: 0x prefix
  if (alternate) {
    ++*format;
  }
  const char pad = **format == '0' ? '0' : ' ';
  unsigned width = 0;
  for (; **format >= '0' && **format <= '9'; ++*format) {
    width = width * 10 + (unsigned)(**format - '0');
  }
  int precision = -1;
  if ((*format)[0] == '.' && (*format)[1] == '*') {
    precision = va_arg(*args, int);
    *format += 2;
  }
  const bool wide = read_length(format);
  const char conversion = *(*format)++;
  if (conversion == 's') {
    const char* text = va_arg(*args, const char*);
    for (int i = 0; text[i] != '\0' && (precision < 0 || i < precision); ++i) {
      buffer_put(b, text[i]);
    }
  } else if (conversion == 'c') {
    buffer_put(b, (char)va_arg(*args, int));
  } else if (conversion == 'd') {
    const int64_t v = wide ? va_arg(*args, int64_t) : va_arg(*args, int);
    if (v < 0) {
      buffer_put(b, '-');
    }
    put_unsigned(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 10, width, pad);
  } else if (conversion == 'u' || conversion == 'x') {
    if (alternate && conversion == 'x') {
      buffer_put(b, '0');
      buffer_put(b, 'x');
    }
    const uint64_t v = wide ? va_arg(*args, uint64_t) : va_arg(*args, unsigned);
    put_unsigned(b, v, conversion == 'x' ? 16 : 10, width, pad);
  } else if (conversion == 'p') {
    buffer_put(b, '0');
    buffer_put(b, 'x');
    put_unsigned(b, (uintptr_t)va_arg(*args, void*), 16, 0, '0');
  } else {
    buffer_put(b, '%');
    buffer_put(b, conversion);
  }
}

void guest_vprintf(const char* format, va_list args) {
  struct line_buffer b = {.used = 0};
  va_list copy;
  va_copy(copy, args);
  while (*format != '\0') {
    if (*format != '%') {
      buffer_put(&b, *format++);
      continue;
    }
    ++format;
    if (*format == '%') {
      buffer_put(&b, *format++);
      continue;
    }
    put_conversion(&b, &format, &copy);
  }
  va_end(copy);
  buffer_flush(&b);
}

void guest_printf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  guest_vprintf(format, args);
  va_end(args);
}

void hex_encode(const uint8_t* bytes, size_t count, char* out) {
  for (size_t i = 0; i < count; ++i) {
    out[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
    out[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
  }
  out[2 * count] = '\0';
}

// ---- TSC deadlines
static uint64_t tsc_per_ms = 3000000;  // 3 GHz unless the hypervisor says otherwise

void clock_init(void) {
  uint32_t a, b, c, d;
  cpuid(1, &a, &b, &c, &d);
  if ((c & (1u << 31)) == 0) {
    return;  // no hypervisor present bit: no hypervisor leaves to ask
  }
  cpuid(0x40000000, &a, &b, &c, &d);
  if (a < 0x40000010) {
    return;
  }
  // Leaf 0x40000010 (VMware/KVM "timing information"): EAX = TSC frequency in kHz.
  cpuid(0x40000010, &a, &b, &c, &d);
  if (a != 0) {
    tsc_per_ms = a;
  }
}

uint64_t deadline_after_ms(uint64_t milliseconds) { return rdtsc() + milliseconds * tsc_per_ms; }

bool deadline_passed(uint64_t deadline) { return (int64_t)(rdtsc() - deadline) > 0; }
