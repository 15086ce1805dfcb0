// SPDX-License-Identifier: Apache-2.0
#include "cmdline.h"

#include "lib.h"

enum {
  kZeroPageCmdLinePtr = 0x228,
  kZeroPageExtCmdLinePtr = 0x0c8,
  kStartInfoMagic = 0x336ec578,
  kStartInfoCmdlinePaddr = 24,
  kCmdlineMax = 4096,
};

static char cmdline_copy[kCmdlineMax];

static uint32_t read_u32(uintptr_t address) { return *(const volatile uint32_t*)address; }
static uint64_t read_u64(uintptr_t address) { return *(const volatile uint64_t*)address; }

const char* boot_cmdline(enum boot_kind kind, uintptr_t boot_info) {
  uint64_t address = 0;
  if (kind == kBootLinux64 && boot_info != 0) {
    address = read_u32(boot_info + kZeroPageCmdLinePtr) |
              (uint64_t)read_u32(boot_info + kZeroPageExtCmdLinePtr) << 32;
  } else if (kind == kBootPvh && boot_info != 0 && read_u32(boot_info) == kStartInfoMagic) {
    address = read_u64(boot_info + kStartInfoCmdlinePaddr);
  }
  // Only the identity-mapped first 4 GiB are reachable.
  if (address == 0 || address >= (1ull << 32)) {
    return "";
  }
  const char* source = (const char*)(uintptr_t)address;
  size_t n = 0;
  for (; n + 1 < kCmdlineMax && source[n] != '\0'; ++n) {
    cmdline_copy[n] = source[n];
  }
  cmdline_copy[n] = '\0';
  return cmdline_copy;
}

const char* cmdline_value(const char* cmdline, const char* key, size_t* len) {
  const size_t key_len = strlen(key);
  const char* found = NULL;
  for (const char* word = cmdline; *word != '\0';) {
    while (*word == ' ') {
      ++word;
    }
    size_t word_len = 0;
    while (word[word_len] != '\0' && word[word_len] != ' ') {
      ++word_len;
    }
    if (word_len > key_len && memcmp(word, key, key_len) == 0 && word[key_len] == '=') {
      found = word + key_len + 1;
      *len = word_len - key_len - 1;
    }
    word += word_len;
  }
  return found;
}

uint64_t cmdline_u64(const char* cmdline, const char* key, uint64_t fallback) {
  size_t len = 0;
  const char* value = cmdline_value(cmdline, key, &len);
  uint64_t number = 0;
  size_t used = 0;
  if (value == NULL || !parse_u64(value, len, &number, &used) || used != len) {
    return fallback;
  }
  return number;
}

/// Parses "<size>@<base>:<irq>[:<id>]".
static bool parse_device(const char* text, size_t len, struct mmio_device_arg* out) {
  size_t used = 0;
  uint64_t irq = 0;
  if (!parse_u64(text, len, &out->size, &used) || used >= len || text[used] != '@') {
    return false;
  }
  text += used + 1;
  len -= used + 1;
  if (!parse_u64(text, len, &out->base, &used) || used >= len || text[used] != ':') {
    return false;
  }
  text += used + 1;
  len -= used + 1;
  if (!parse_u64(text, len, &irq, &used) || (used != len && text[used] != ':')) {
    return false;
  }
  out->irq = (uint32_t)irq;
  return out->size >= 0x100 && out->base + out->size <= (1ull << 32);
}

size_t cmdline_virtio_devices(const char* cmdline, struct mmio_device_arg* out, size_t max) {
  static const char kKey[] = "virtio_mmio.device=";
  const size_t key_len = sizeof(kKey) - 1;
  size_t count = 0;
  for (const char* word = cmdline; *word != '\0' && count < max;) {
    while (*word == ' ') {
      ++word;
    }
    size_t word_len = 0;
    while (word[word_len] != '\0' && word[word_len] != ' ') {
      ++word_len;
    }
    if (word_len > key_len && memcmp(word, kKey, key_len) == 0) {
      if (parse_device(word + key_len, word_len - key_len, &out[count])) {
        ++count;
      } else {
        guest_printf("cvmm-guest: ignoring malformed %.*s\n", (int)word_len, word);
      }
    }
    word += word_len;
  }
  return count;
}
