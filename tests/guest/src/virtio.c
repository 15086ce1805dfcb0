// SPDX-License-Identifier: Apache-2.0
#include "virtio.h"

#include "io.h"
#include "lib.h"

// §4.2.2 virtio-mmio register offsets (version 2).
enum {
  kRegMagic = 0x000,
  kRegVersion = 0x004,
  kRegDeviceId = 0x008,
  kRegDeviceFeatures = 0x010,
  kRegDeviceFeaturesSel = 0x014,
  kRegDriverFeatures = 0x020,
  kRegDriverFeaturesSel = 0x024,
  kRegQueueSel = 0x030,
  kRegQueueNumMax = 0x034,
  kRegQueueNum = 0x038,
  kRegQueueReady = 0x044,
  kRegQueueNotify = 0x050,
  kRegInterruptStatus = 0x060,
  kRegInterruptAck = 0x064,
  kRegStatus = 0x070,
  kRegQueueDescLow = 0x080,
  kRegQueueDescHigh = 0x084,
  kRegQueueDriverLow = 0x090,
  kRegQueueDriverHigh = 0x094,
  kRegQueueDeviceLow = 0x0a0,
  kRegQueueDeviceHigh = 0x0a4,
  kRegConfigGeneration = 0x0fc,
  kRegConfig = 0x100,
};

enum { kMagic = 0x74726976 /* "virt" */, kPageSize = 4096 };

static uint32_t reg_read(const struct virtio_mmio_device* dev, uint32_t offset) {
  return mmio_read32(dev->base + offset);
}
static void reg_write(const struct virtio_mmio_device* dev, uint32_t offset, uint32_t value) {
  mmio_write32(dev->base + offset, value);
}

bool virtio_mmio_probe(struct virtio_mmio_device* dev, uintptr_t base, uint32_t irq) {
  memset(dev, 0, sizeof(*dev));
  dev->base = base;
  dev->irq = irq;
  const uint32_t magic = reg_read(dev, kRegMagic);
  if (magic != kMagic) {
    guest_printf("cvmm-guest: %p: MagicValue %#x is not \"virt\"\n", (void*)base, magic);
    return false;
  }
  const uint32_t version = reg_read(dev, kRegVersion);
  if (version != 2) {
    guest_printf("cvmm-guest: %p: virtio-mmio version %u, this driver needs 2\n", (void*)base,
                 version);
    return false;
  }
  dev->device_id = reg_read(dev, kRegDeviceId);
  return true;
}

uint32_t virtio_mmio_status(const struct virtio_mmio_device* dev) {
  return reg_read(dev, kRegStatus);
}

void virtio_mmio_reset(struct virtio_mmio_device* dev) {
  reg_write(dev, kRegStatus, 0);
  const uint64_t deadline = deadline_after_ms(1000);
  while (reg_read(dev, kRegStatus) != 0 && !deadline_passed(deadline)) {
    cpu_relax();
  }
}

static void add_status(struct virtio_mmio_device* dev, uint32_t bits) {
  reg_write(dev, kRegStatus, reg_read(dev, kRegStatus) | bits);
}

static uint64_t read_device_features(const struct virtio_mmio_device* dev) {
  reg_write(dev, kRegDeviceFeaturesSel, 0);
  const uint64_t low = reg_read(dev, kRegDeviceFeatures);
  reg_write(dev, kRegDeviceFeaturesSel, 1);
  const uint64_t high = reg_read(dev, kRegDeviceFeatures);
  return high << 32 | low;
}

static void write_driver_features(const struct virtio_mmio_device* dev, uint64_t features) {
  reg_write(dev, kRegDriverFeaturesSel, 0);
  reg_write(dev, kRegDriverFeatures, (uint32_t)features);
  reg_write(dev, kRegDriverFeaturesSel, 1);
  reg_write(dev, kRegDriverFeatures, (uint32_t)(features >> 32));
}

bool virtio_mmio_negotiate(struct virtio_mmio_device* dev, uint64_t wanted) {
  virtio_mmio_reset(dev);
  add_status(dev, kStatusAcknowledge);
  add_status(dev, kStatusDriver);
  dev->offered_features = read_device_features(dev);
  if ((dev->offered_features & VIRTIO_F_VERSION_1) == 0) {
    guest_printf("cvmm-guest: %p: device does not offer VIRTIO_F_VERSION_1\n", (void*)dev->base);
    add_status(dev, kStatusFailed);
    return false;
  }
  // ACCESS_PLATFORM only says the device uses the platform's DMA translation; with no IOMMU
  // here, guest-physical addresses are what both sides use, so accepting it costs nothing
  // (§6.1) and a device that requires it would otherwise refuse FEATURES_OK.
  const uint64_t accept = VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM | wanted;
  dev->features = dev->offered_features & accept;
  write_driver_features(dev, dev->features);
  add_status(dev, kStatusFeaturesOk);
  if ((reg_read(dev, kRegStatus) & kStatusFeaturesOk) == 0) {
    guest_printf("cvmm-guest: %p: device refused features %#llx\n", (void*)dev->base,
                 (unsigned long long)dev->features);
    add_status(dev, kStatusFailed);
    return false;
  }
  return true;
}

void virtio_mmio_driver_ok(struct virtio_mmio_device* dev) { add_status(dev, kStatusDriverOk); }

void virtio_mmio_ack_interrupts(struct virtio_mmio_device* dev) {
  const uint32_t pending = reg_read(dev, kRegInterruptStatus);
  if (pending != 0) {
    reg_write(dev, kRegInterruptAck, pending);
  }
}

uint8_t virtio_config_read8(const struct virtio_mmio_device* dev, uint32_t offset) {
  return mmio_read8(dev->base + kRegConfig + offset);
}

uint32_t virtio_config_read32(const struct virtio_mmio_device* dev, uint32_t offset) {
  return mmio_read32(dev->base + kRegConfig + offset);
}

uint64_t virtio_config_read64(const struct virtio_mmio_device* dev, uint32_t offset) {
  // §2.5.1: retry until ConfigGeneration is the same before and after the two reads.
  for (;;) {
    const uint32_t before = reg_read(dev, kRegConfigGeneration);
    const uint64_t low = virtio_config_read32(dev, offset);
    const uint64_t high = virtio_config_read32(dev, offset + 4);
    if (reg_read(dev, kRegConfigGeneration) == before) {
      return high << 32 | low;
    }
  }
}

// ---- Ring memory: a bump allocator over a static pool (identity-mapped, so the pointer is
// the guest-physical address the device gets).
static uint8_t ring_pool[64 * kPageSize] __attribute__((aligned(kPageSize)));
static size_t ring_pool_used;

static void* ring_alloc(size_t bytes) {
  const size_t rounded = (bytes + kPageSize - 1) & ~(size_t)(kPageSize - 1);
  if (rounded > sizeof(ring_pool) - ring_pool_used) {
    return NULL;
  }
  void* block = ring_pool + ring_pool_used;
  ring_pool_used += rounded;
  memset(block, 0, rounded);
  return block;
}

void virtq_pool_reset(void) { ring_pool_used = 0; }

static void write_address(const struct virtio_mmio_device* dev, uint32_t low_reg,
                          const volatile void* pointer) {
  const uint64_t address = (uint64_t)(uintptr_t)pointer;
  reg_write(dev, low_reg, (uint32_t)address);
  reg_write(dev, low_reg + 4, (uint32_t)(address >> 32));
}

bool virtq_setup(struct virtq* q, struct virtio_mmio_device* dev, uint16_t index,
                 uint16_t max_size) {
  memset(q, 0, sizeof(*q));
  reg_write(dev, kRegQueueSel, index);
  if (reg_read(dev, kRegQueueReady) != 0) {
    guest_printf("cvmm-guest: queue %u is already ready after reset\n", index);
    return false;
  }
  uint32_t size = reg_read(dev, kRegQueueNumMax);
  if (size == 0) {
    guest_printf("cvmm-guest: queue %u is not available (QueueNumMax 0)\n", index);
    return false;
  }
  size = size < max_size ? size : max_size;
  size = size < kVirtqMaxSize ? size : kVirtqMaxSize;
  // §2.7: descriptor table 16-byte, avail ring 2-byte, used ring 4-byte aligned; separate
  // pages keep device-written and driver-written memory apart.
  q->desc = ring_alloc(16u * size);
  q->avail = ring_alloc(6u + 2u * size);
  q->used = ring_alloc(6u + 8u * size);
  if (q->desc == NULL || q->avail == NULL || q->used == NULL) {
    guest_printf("cvmm-guest: out of ring memory for queue %u\n", index);
    return false;
  }
  q->device = dev;
  q->index = index;
  q->size = (uint16_t)size;
  for (uint16_t i = 0; i < size; ++i) {
    q->desc[i].next = (uint16_t)(i + 1);
  }
  q->free_count = (uint16_t)size;
  q->avail->flags = kAvailNoInterrupt;  // polled: the device may skip interrupts (§2.7.7)
  reg_write(dev, kRegQueueNum, size);
  write_address(dev, kRegQueueDescLow, q->desc);
  write_address(dev, kRegQueueDriverLow, q->avail);
  write_address(dev, kRegQueueDeviceLow, q->used);
  reg_write(dev, kRegQueueReady, 1);
  return true;
}

bool virtq_add(struct virtq* q, const struct virtq_buffer* buffers, unsigned count,
               void* token) {
  if (count == 0 || count > q->free_count) {
    return false;
  }
  const uint16_t head = q->free_head;
  uint16_t at = head;
  for (unsigned i = 0; i < count; ++i) {
    volatile struct virtq_desc* d = &q->desc[at];
    d->addr = (uint64_t)(uintptr_t)buffers[i].data;
    d->len = buffers[i].len;
    d->flags = (uint16_t)((buffers[i].device_writes ? kDescWrite : 0) |
                          (i + 1 < count ? kDescNext : 0));
    if (i + 1 < count) {
      at = d->next;  // the free list is linked through `next` already
    } else {
      q->free_head = d->next;
    }
  }
  q->free_count = (uint16_t)(q->free_count - count);
  q->tokens[head] = token;
  q->avail->ring[q->next_avail % q->size] = head;
  compiler_barrier();  // §2.7.13: the ring entry before the index (x86 keeps store order)
  q->next_avail++;
  q->avail->idx = q->next_avail;
  return true;
}

void virtq_kick(struct virtq* q) {
  full_barrier();  // avail->idx must be visible before reading used->flags (§2.7.13.4)
  if ((q->used->flags & kUsedNoNotify) == 0) {
    reg_write(q->device, kRegQueueNotify, q->index);
  }
}

bool virtq_get_used(struct virtq* q, void** token, uint32_t* written) {
  if (q->used->idx == q->last_used) {
    return false;
  }
  compiler_barrier();  // read the element only after seeing the index (§2.7.14)
  const volatile struct virtq_used_elem* elem = &q->used->ring[q->last_used % q->size];
  const uint32_t head = elem->id;
  *written = elem->len;
  q->last_used++;
  if (head >= q->size) {
    guest_printf("cvmm-guest: queue %u: device returned descriptor id %u >= size %u\n",
                 q->index, head, q->size);
    *token = NULL;
    return true;
  }
  *token = q->tokens[head];
  // Return the chain to the free list: walk to its tail, link the tail to the old head.
  uint16_t tail = (uint16_t)head;
  uint16_t length = 1;
  while ((q->desc[tail].flags & kDescNext) != 0 && length < q->size) {
    tail = q->desc[tail].next;
    ++length;
  }
  q->desc[tail].next = q->free_head;
  q->free_head = (uint16_t)head;
  q->free_count = (uint16_t)(q->free_count + length);
  return true;
}
