// SPDX-License-Identifier: Apache-2.0
// Several virtio-blk requests in flight on one device (the benchmark's queue depth), on top of
// blk.h's device and request queue. Each request is the same three-descriptor chain as in
// blk.c (header, data, status byte, §5.2.6); a slot owns one header and one status byte, so
// at most kBlkQueueMaxDepth chains are outstanding. Completions may come back in any order
// (§2.7.8); every one is checked (status OK, used.len for reads) when it is reaped.
// Do not mix with blk_read/blk_write on the same device while requests are in flight.
#ifndef CVMM_GUEST_BLK_QUEUE_H
#define CVMM_GUEST_BLK_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "blk.h"

// 3 descriptors per request and a 64-entry queue (blk_init): at most 21 fit; 16 is plenty.
enum { kBlkQueueMaxDepth = 16 };

struct blk_queue_slot {
  struct blk_request_header header;
  uint32_t len;
  volatile uint8_t status;
  bool busy;
};

struct blk_queue {
  struct blk_device* blk;
  unsigned depth;
  unsigned in_flight;
  unsigned unkicked;  // requests added since the last QueueNotify
  int error;          // first failure: a device status byte or kBlkTransportError
  struct blk_queue_slot slots[kBlkQueueMaxDepth];
};

/// `depth` in 1..kBlkQueueMaxDepth, bounded by what the device's queue can hold.
bool blk_queue_init(struct blk_queue* q, struct blk_device* blk, unsigned depth);

/// Queues one request of `len` bytes (a multiple of 512, one data descriptor) at `sector`.
/// When every slot is busy it first notifies the device and waits for a completion. Returns
/// false once any request failed (q->error says how).
bool blk_queue_submit(struct blk_queue* q, uint32_t type, uint64_t sector, void* data,
                      uint32_t len);

/// Notifies the device and waits for every outstanding request. False on any failure.
bool blk_queue_drain(struct blk_queue* q);

#endif
