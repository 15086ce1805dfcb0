// SPDX-License-Identifier: Apache-2.0
#include "blk_queue.h"

#include "io.h"
#include "lib.h"

enum { kDescriptorsPerRequest = 3, kWaitTimeoutMs = 30000, kStatusUnwritten = 0xff };

bool blk_queue_init(struct blk_queue* q, struct blk_device* blk, unsigned depth) {
  memset(q, 0, sizeof(*q));
  q->blk = blk;
  const unsigned fit = blk->queue.size / kDescriptorsPerRequest;
  if (depth == 0 || depth > kBlkQueueMaxDepth || depth > fit) {
    guest_printf("cvmm-guest: blk: queue depth %u: must be 1..%u (queue size %u)\n", depth,
                 fit < kBlkQueueMaxDepth ? fit : (unsigned)kBlkQueueMaxDepth, blk->queue.size);
    return false;
  }
  q->depth = depth;
  return true;
}

static void fail(struct blk_queue* q, int error) {
  if (q->error == kBlkStatusOk) {
    q->error = error;
  }
}

/// Checks one completion as blk.c's submit does: a status byte was written, it is OK, and
/// for reads the device wrote the whole buffer plus the status byte (§2.7.8 used.len).
static void complete(struct blk_queue* q, struct blk_queue_slot* slot, uint32_t written) {
  if (written == 0 || slot->status == kStatusUnwritten) {
    guest_printf("cvmm-guest: blk: type %u: device wrote no status byte\n", slot->header.type);
    fail(q, kBlkTransportError);
  } else if (slot->status != kBlkStatusOk) {
    fail(q, slot->status);
  } else if (slot->header.type == kBlkTypeIn && written != slot->len + 1) {
    guest_printf("cvmm-guest: blk: read: used.len %u, expected %u\n", written, slot->len + 1);
    fail(q, kBlkTransportError);
  }
  slot->busy = false;
  q->in_flight--;
}

/// Polls until at least one request completed, then takes every completion available.
static bool reap(struct blk_queue* q) {
  const uint64_t deadline = deadline_after_ms(kWaitTimeoutMs);
  unsigned taken = 0;
  for (;;) {
    void* token = NULL;
    uint32_t written = 0;
    if (virtq_get_used(&q->blk->queue, &token, &written)) {
      struct blk_queue_slot* slot = token;
      if (slot < q->slots || slot >= q->slots + q->depth || !slot->busy) {
        guest_printf("cvmm-guest: blk: completion for an unknown request\n");
        fail(q, kBlkTransportError);
        return false;
      }
      complete(q, slot, written);
      ++taken;
      continue;
    }
    if (taken > 0) {
      break;
    }
    if (deadline_passed(deadline)) {
      guest_printf("cvmm-guest: blk: %u requests outstanding for %u ms (device status %#x)\n",
                   q->in_flight, kWaitTimeoutMs, virtio_mmio_status(&q->blk->mmio));
      fail(q, kBlkTransportError);
      return false;
    }
    cpu_relax();
  }
  virtio_mmio_ack_interrupts(&q->blk->mmio);
  return q->error == kBlkStatusOk;
}

static void kick(struct blk_queue* q) {
  if (q->unkicked > 0) {
    virtq_kick(&q->blk->queue);
    q->unkicked = 0;
  }
}

bool blk_queue_submit(struct blk_queue* q, uint32_t type, uint64_t sector, void* data,
                      uint32_t len) {
  if (q->error != kBlkStatusOk) {
    return false;
  }
  if (q->in_flight == q->depth) {
    kick(q);
    if (!reap(q)) {
      return false;
    }
  }
  struct blk_queue_slot* slot = q->slots;
  while (slot->busy) {
    ++slot;  // in_flight < depth, so a free slot exists below slots + depth
  }
  slot->header = (struct blk_request_header){.type = type, .reserved = 0, .sector = sector};
  slot->len = len;
  slot->status = kStatusUnwritten;
  const struct virtq_buffer chain[kDescriptorsPerRequest] = {
      {&slot->header, sizeof(slot->header), false},
      {data, len, type == kBlkTypeIn},
      {(const void*)&slot->status, 1, true},
  };
  if (!virtq_add(&q->blk->queue, chain, kDescriptorsPerRequest, slot)) {
    guest_printf("cvmm-guest: blk: no free descriptors with %u requests in flight\n",
                 q->in_flight);
    fail(q, kBlkTransportError);
    return false;
  }
  slot->busy = true;
  q->in_flight++;
  q->unkicked++;
  return true;
}

bool blk_queue_drain(struct blk_queue* q) {
  kick(q);
  while (q->in_flight > 0) {
    if (!reap(q)) {
      return false;
    }
  }
  return q->error == kBlkStatusOk;
}
