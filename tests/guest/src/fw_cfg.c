// SPDX-License-Identifier: Apache-2.0
#include "fw_cfg.h"

#include "io.h"
#include "lib.h"

enum {
  kSelectorPort = 0x510,
  kDataPort = 0x511,
  kDmaPort = 0x514,
};

// FWCfgDmaAccess: control, length, address, all big-endian (fw_cfg.rst).
struct fw_cfg_dma_access {
  uint32_t control;
  uint32_t length;
  uint64_t address;
} __attribute__((packed, aligned(16)));

static struct fw_cfg_dma_access g_access;

static uint32_t bswap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

static uint64_t bswap64(uint64_t v) {
  return ((uint64_t)bswap32((uint32_t)v) << 32) | bswap32((uint32_t)(v >> 32));
}

void fw_cfg_select(uint16_t key) { outw(kSelectorPort, key); }

void fw_cfg_read_port(void* out, size_t len) {
  uint8_t* bytes = out;
  for (size_t i = 0; i < len; ++i) {
    bytes[i] = inb(kDataPort);
  }
}

void fw_cfg_dma_signature(char out[8]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = (char)inb((uint16_t)(kDmaPort + i));
  }
}

uint32_t fw_cfg_dma(uint16_t key, uint32_t control, void* buffer, uint32_t len) {
  if (control & kFwCfgDmaCtlSelect) {
    control |= (uint32_t)key << 16;
  }
  g_access.control = bswap32(control);
  g_access.length = bswap32(len);
  g_access.address = bswap64((uint64_t)(uintptr_t)buffer);
  const uint64_t at = (uint64_t)(uintptr_t)&g_access;
  full_barrier();
  // outl stores the register little-endian, so the byte-swapped value puts the address on
  // the bus in big-endian order, as the register wants.
  outl(kDmaPort, bswap32((uint32_t)(at >> 32)));
  outl(kDmaPort + 4, bswap32((uint32_t)at));
  full_barrier();
  uint32_t status;
  do {  // both devices complete synchronously; the loop is what the spec asks for
    status = bswap32(*(volatile uint32_t*)&g_access.control);
  } while (status != 0 && (status & kFwCfgDmaCtlError) == 0);
  return status;
}

uint32_t fw_cfg_directory(struct fw_cfg_file* files, uint32_t max) {
  uint32_t count_be;
  fw_cfg_select(kFwCfgKeyFileDir);
  fw_cfg_read_port(&count_be, 4);
  const uint32_t count = bswap32(count_be);
  for (uint32_t i = 0; i < count && i < max; ++i) {
    uint8_t entry[8];
    fw_cfg_read_port(entry, 8);
    files[i].size = ((uint32_t)entry[0] << 24) | ((uint32_t)entry[1] << 16) |
                    ((uint32_t)entry[2] << 8) | entry[3];
    files[i].key = (uint16_t)((entry[4] << 8) | entry[5]);
    fw_cfg_read_port(files[i].name, kFwCfgFileNameSize);
    files[i].name[kFwCfgFileNameSize - 1] = 0;
  }
  return count;
}
