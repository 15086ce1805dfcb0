// SPDX-License-Identifier: Apache-2.0
// virtio-blk driver (virtio 1.2 §5.2): one request in flight at a time, each a chain of
// header (device-readable), data, status byte (device-writable). Reports the device's status
// byte to the caller, so tests can check refusals (VIRTIO_BLK_S_IOERR) as well as success.
#ifndef CVMM_GUEST_BLK_H
#define CVMM_GUEST_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

// §5.2.6 request types and status values.
enum {
  kBlkTypeIn = 0,
  kBlkTypeOut = 1,
  kBlkTypeFlush = 4,
  kBlkTypeGetId = 8,
  kBlkStatusOk = 0,
  kBlkStatusIoErr = 1,
  kBlkStatusUnsupported = 2,
  kBlkIdBytes = 20,  // VIRTIO_BLK_ID_BYTES
};
// §5.2.3 feature bits.
#define VIRTIO_BLK_F_SIZE_MAX (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)

/// A request that did not complete at the transport level (no status byte to report).
enum { kBlkTransportError = -1 };

// §5.2.6 struct virtio_blk_req header: type u32 @0, reserved u32 @4, sector u64 @8.
struct blk_request_header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
_Static_assert(sizeof(struct blk_request_header) == 16, "virtio_blk_req header is 16 bytes");

struct blk_device {
  struct virtio_mmio_device mmio;
  struct virtq queue;
  uint64_t capacity_sectors;  // in 512-byte sectors, from config offset 0
  uint32_t max_transfer;      // bytes per request: 64 KiB, or size_max if smaller
};

/// Initialises the device: features (RO, BLK_SIZE, FLUSH, SIZE_MAX, SEG_MAX when offered),
/// request queue 0, DRIVER_OK. Returns false on any failure (printed).
bool blk_init(struct blk_device* blk, const struct virtio_mmio_device* probed);

bool blk_readonly(const struct blk_device* blk);

/// Reads/writes `len` bytes (a multiple of 512, any size: split into max_transfer requests)
/// at `sector`. Returns the first non-OK status byte, kBlkStatusOk, or kBlkTransportError.
int blk_read(struct blk_device* blk, uint64_t sector, void* data, size_t len);
int blk_write(struct blk_device* blk, uint64_t sector, const void* data, size_t len);
/// VIRTIO_BLK_T_FLUSH; kBlkStatusUnsupported without VIRTIO_BLK_F_FLUSH.
int blk_flush(struct blk_device* blk);
/// VIRTIO_BLK_T_GET_ID into id[0, 20]; id[20] = NUL (the serial may fill all 20 bytes).
int blk_get_id(struct blk_device* blk, char id[kBlkIdBytes + 1]);

#endif
