// SPDX-License-Identifier: Apache-2.0
// A minimal QEMU fw_cfg driver for the test guest (QEMU docs/specs/fw_cfg.rst, x86 ports):
// selector 0x510 (16-bit write), data 0x511 (byte reads), DMA address 0x514 (big-endian,
// the write of the low half at 0x518 starts the transfer). Used by the fw-cfg program to
// check that cvmm's device and QEMU's speak the same protocol.
#ifndef CVMM_GUEST_FW_CFG_H
#define CVMM_GUEST_FW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  kFwCfgKeySignature = 0x00,
  kFwCfgKeyId = 0x01,
  kFwCfgKeyFileDir = 0x19,
  kFwCfgDmaCtlError = 0x01,
  kFwCfgDmaCtlRead = 0x02,
  kFwCfgDmaCtlSkip = 0x04,
  kFwCfgDmaCtlSelect = 0x08,
  kFwCfgDmaCtlWrite = 0x10,
  kFwCfgFileNameSize = 56,
};

struct fw_cfg_file {
  uint32_t size;
  uint16_t key;
  char name[kFwCfgFileNameSize];
};

void fw_cfg_select(uint16_t key);
/// Reads `len` bytes of the selected item through the data port.
void fw_cfg_read_port(void* out, size_t len);
/// The 8 bytes the DMA address register reads ("QEMU CFG" when DMA is present).
void fw_cfg_dma_signature(char out[8]);
/// One DMA operation (control bits as above; select puts `key` in bits 31:16). `buffer` must
/// be guest-physical == virtual (identity map). Returns the control word the device wrote.
uint32_t fw_cfg_dma(uint16_t key, uint32_t control, void* buffer, uint32_t len);
/// Reads the file directory into `files` (at most `max`); returns the device's count.
uint32_t fw_cfg_directory(struct fw_cfg_file* files, uint32_t max);

#endif
