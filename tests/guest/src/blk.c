// SPDX-License-Identifier: Apache-2.0
#include "blk.h"

#include "io.h"
#include "lib.h"

enum {
  kSectorSize = 512,
  kDefaultMaxTransfer = 64 * 1024,
  kConfigCapacity = 0,  // le64 capacity in 512-byte sectors (§5.2.4)
  kConfigSizeMax = 8,   // le32
  kRequestTimeoutMs = 30000,
};

bool blk_init(struct blk_device* blk, const struct virtio_mmio_device* probed) {
  memset(blk, 0, sizeof(*blk));
  blk->mmio = *probed;
  const uint64_t wanted = VIRTIO_BLK_F_RO | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
                          VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX;
  if (!virtio_mmio_negotiate(&blk->mmio, wanted)) {
    return false;
  }
  if (!virtq_setup(&blk->queue, &blk->mmio, 0, 64)) {
    return false;
  }
  blk->capacity_sectors = virtio_config_read64(&blk->mmio, kConfigCapacity);
  blk->max_transfer = kDefaultMaxTransfer;
  if ((blk->mmio.features & VIRTIO_BLK_F_SIZE_MAX) != 0) {
    // size_max bounds any single data segment; keep whole sectors.
    const uint32_t size_max = virtio_config_read32(&blk->mmio, kConfigSizeMax);
    if (size_max >= kSectorSize && size_max < blk->max_transfer) {
      blk->max_transfer = size_max & ~(uint32_t)(kSectorSize - 1);
    }
  }
  virtio_mmio_driver_ok(&blk->mmio);
  return true;
}

bool blk_readonly(const struct blk_device* blk) {
  return (blk->mmio.features & VIRTIO_BLK_F_RO) != 0;
}

/// Submits one request and polls for its completion. `data` may be NULL (flush).
/// For reads, checks that the device reports having written the data plus the status byte
/// (§2.7.8: used.len is the number of bytes written). GET_ID is not checked: a device may
/// write only the serial's bytes.
static int submit(struct blk_device* blk, uint32_t type, uint64_t sector, const void* data,
                  uint32_t len, bool device_writes_data) {
  static struct blk_request_header header;
  static volatile uint8_t status;
  header.type = type;
  header.reserved = 0;
  header.sector = sector;
  status = 0xff;  // a value the device never writes, to see whether it wrote at all
  struct virtq_buffer chain[3];
  unsigned count = 0;
  chain[count++] = (struct virtq_buffer){&header, sizeof(header), false};
  if (data != NULL && len != 0) {
    chain[count++] = (struct virtq_buffer){data, len, device_writes_data};
  }
  chain[count++] = (struct virtq_buffer){(const void*)&status, 1, true};
  if (!virtq_add(&blk->queue, chain, count, &header)) {
    guest_printf("cvmm-guest: blk: no free descriptors\n");
    return kBlkTransportError;
  }
  virtq_kick(&blk->queue);
  const uint64_t deadline = deadline_after_ms(kRequestTimeoutMs);
  void* token = NULL;
  uint32_t written = 0;
  while (!virtq_get_used(&blk->queue, &token, &written)) {
    if (deadline_passed(deadline)) {
      guest_printf("cvmm-guest: blk: request type %u timed out (device status %#x)\n", type,
                   virtio_mmio_status(&blk->mmio));
      return kBlkTransportError;
    }
    cpu_relax();
  }
  virtio_mmio_ack_interrupts(&blk->mmio);
  if (token != &header) {
    guest_printf("cvmm-guest: blk: completion for an unknown request\n");
    return kBlkTransportError;
  }
  const uint32_t expected = len + 1;
  if (type == kBlkTypeIn && status == kBlkStatusOk && written != expected) {
    guest_printf("cvmm-guest: blk: type %u: used.len %u, expected %u\n", type, written,
                 expected);
    return kBlkTransportError;
  }
  if (written == 0 || status == 0xff) {
    guest_printf("cvmm-guest: blk: type %u: device wrote no status byte\n", type);
    return kBlkTransportError;
  }
  return status;
}

static int transfer(struct blk_device* blk, uint32_t type, uint64_t sector, uint8_t* data,
                    size_t len) {
  if (len % kSectorSize != 0) {
    return kBlkTransportError;
  }
  while (len > 0) {
    const uint32_t chunk = len < blk->max_transfer ? (uint32_t)len : blk->max_transfer;
    const int status = submit(blk, type, sector, data, chunk, type == kBlkTypeIn);
    if (status != kBlkStatusOk) {
      return status;
    }
    sector += chunk / kSectorSize;
    data += chunk;
    len -= chunk;
  }
  return kBlkStatusOk;
}

int blk_read(struct blk_device* blk, uint64_t sector, void* data, size_t len) {
  return transfer(blk, kBlkTypeIn, sector, data, len);
}

int blk_write(struct blk_device* blk, uint64_t sector, const void* data, size_t len) {
  // The device only reads the buffer; the cast drops const for the shared transfer loop.
  return transfer(blk, kBlkTypeOut, sector, (uint8_t*)(uintptr_t)data, len);
}

int blk_flush(struct blk_device* blk) {
  if ((blk->mmio.features & VIRTIO_BLK_F_FLUSH) == 0) {
    return kBlkStatusUnsupported;
  }
  return submit(blk, kBlkTypeFlush, 0, NULL, 0, false);
}

int blk_get_id(struct blk_device* blk, char id[kBlkIdBytes + 1]) {
  static uint8_t buffer[kBlkIdBytes];
  memset(buffer, 0, sizeof(buffer));
  const int status = submit(blk, kBlkTypeGetId, 0, buffer, kBlkIdBytes, true);
  memcpy(id, buffer, kBlkIdBytes);
  id[kBlkIdBytes] = '\0';
  return status;
}
