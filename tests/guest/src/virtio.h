// SPDX-License-Identifier: Apache-2.0
// A minimal virtio 1.2 driver core: the virtio-mmio v2 transport (§4.2) and split virtqueues
// (§2.7) in guest RAM, used by polling (interrupts stay disabled; the driver sets
// VIRTQ_AVAIL_F_NO_INTERRUPT and never waits for an interrupt). One driver instance per device,
// single-threaded.
#ifndef CVMM_GUEST_VIRTIO_H
#define CVMM_GUEST_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// §2.1 device status bits.
enum {
  kStatusAcknowledge = 1,
  kStatusDriver = 2,
  kStatusDriverOk = 4,
  kStatusFeaturesOk = 8,
  kStatusNeedsReset = 64,
  kStatusFailed = 128,
};

// §6 reserved feature bits.
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_F_ACCESS_PLATFORM (1ull << 33)

// §5 device IDs.
enum { kVirtioIdBlock = 2, kVirtioIdVsock = 19 };

// §2.7.5 descriptor flags, §2.7.6 avail flags.
enum { kDescNext = 1, kDescWrite = 2, kAvailNoInterrupt = 1, kUsedNoNotify = 1 };

// §2.7.5 struct virtq_desc: addr u64 @0, len u32 @8, flags u16 @12, next u16 @14.
struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes");

// §2.7.6 struct virtq_avail: flags u16 @0, idx u16 @2, ring[] u16 @4 (no used_event: the
// driver does not negotiate VIRTIO_F_EVENT_IDX).
struct virtq_avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];
};

// §2.7.8 struct virtq_used_elem: id u32 @0, len u32 @4.
struct virtq_used_elem {
  uint32_t id;
  uint32_t len;
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes");

// §2.7.8 struct virtq_used: flags u16 @0, idx u16 @2, ring[] @4.
struct virtq_used {
  uint16_t flags;
  uint16_t idx;
  struct virtq_used_elem ring[];
};

enum { kVirtqMaxSize = 256 };

/// One buffer of a descriptor chain: device-readable unless `device_writes`.
struct virtq_buffer {
  const void* data;
  uint32_t len;
  bool device_writes;
};

struct virtio_mmio_device;

struct virtq {
  struct virtio_mmio_device* device;
  uint16_t index;
  uint16_t size;
  volatile struct virtq_desc* desc;
  volatile struct virtq_avail* avail;
  volatile struct virtq_used* used;
  uint16_t free_head;
  uint16_t free_count;
  uint16_t next_avail;  // our copy of avail->idx
  uint16_t last_used;   // used->idx value up to which completions were taken
  void* tokens[kVirtqMaxSize];  // caller's token per chain head
};

struct virtio_mmio_device {
  uintptr_t base;
  uint32_t irq;
  uint32_t device_id;
  uint64_t offered_features;
  uint64_t features;  // negotiated
};

/// Checks MagicValue and Version == 2 and reads DeviceID (0 = empty slot). Returns false and
/// prints why for a window that is not a modern virtio-mmio device.
bool virtio_mmio_probe(struct virtio_mmio_device* dev, uintptr_t base, uint32_t irq);

/// §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, feature negotiation (accepts VERSION_1,
/// ACCESS_PLATFORM and the `wanted` device bits that are offered), FEATURES_OK, and checks
/// that the device kept FEATURES_OK. Requires VERSION_1. Returns false (status FAILED set)
/// on any refusal.
bool virtio_mmio_negotiate(struct virtio_mmio_device* dev, uint64_t wanted);

/// §4.2.3.2: sets up queue `index` with up to `max_size` entries (bounded by QueueNumMax and
/// kVirtqMaxSize); memory comes from a static page-aligned pool. Returns false when the
/// queue does not exist, is already live or the pool is exhausted.
bool virtq_setup(struct virtq* q, struct virtio_mmio_device* dev, uint16_t index,
                 uint16_t max_size);

/// Forgets every queue allocation (hosted tests run several device lifetimes in one process;
/// the guest never calls it).
void virtq_pool_reset(void);

/// §3.1.1 step 8: DRIVER_OK.
void virtio_mmio_driver_ok(struct virtio_mmio_device* dev);
/// Writes 0 to Status and waits for it to read back 0 (§2.4.1).
void virtio_mmio_reset(struct virtio_mmio_device* dev);
uint32_t virtio_mmio_status(const struct virtio_mmio_device* dev);

/// Device configuration space reads (§4.2.2 Config at 0x100), consistent across
/// ConfigGeneration for the multi-byte ones (§2.5.1).
uint32_t virtio_config_read32(const struct virtio_mmio_device* dev, uint32_t offset);
uint64_t virtio_config_read64(const struct virtio_mmio_device* dev, uint32_t offset);
uint8_t virtio_config_read8(const struct virtio_mmio_device* dev, uint32_t offset);

/// Publishes a chain of `count` buffers (device-readable ones must come first, §2.7.4.1)
/// with `token`. Returns false when fewer than `count` descriptors are free; nothing is
/// notified until virtq_kick.
bool virtq_add(struct virtq* q, const struct virtq_buffer* buffers, unsigned count,
               void* token);
/// Notifies the device (QueueNotify) unless it set VIRTQ_USED_F_NO_NOTIFY.
void virtq_kick(struct virtq* q);
/// Takes one completed chain: frees its descriptors and returns true with its token and
/// the number of bytes the device wrote. Non-blocking.
bool virtq_get_used(struct virtq* q, void** token, uint32_t* written);
/// Acknowledges pending interrupt causes (InterruptStatus -> InterruptACK), so a level
/// interrupt does not stay asserted while the guest polls.
void virtio_mmio_ack_interrupts(struct virtio_mmio_device* dev);

#endif
