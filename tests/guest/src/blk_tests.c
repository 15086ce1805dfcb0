// SPDX-License-Identifier: Apache-2.0
// virtio-blk test programs. Arguments: blk.index=<n> (which virtio-blk device, default 0);
// blk-rw also blk.offset=<bytes> (default 4096), blk.length=<bytes> (default 8192),
// blk.seed=<n> (default 1). Offsets and lengths must be multiples of 512.
#include "blk.h"
#include "checksum.h"
#include "cmdline.h"
#include "guest.h"
#include "lib.h"

enum { kSectorSize = 512, kChunkBytes = 64 * 1024 };

static uint8_t chunk[kChunkBytes] __attribute__((aligned(4096)));
static uint8_t expected_chunk[kChunkBytes] __attribute__((aligned(4096)));

static bool open_disk(const struct guest_env* env, const char* name, struct blk_device* blk) {
  const uint64_t index = cmdline_u64(env->cmdline, "blk.index", 0);
  const struct virtio_mmio_device* dev = env_find_device(env, kVirtioIdBlock, index);
  if (dev == NULL) {
    return test_fail(name, "no virtio-blk device #%lu", index);
  }
  if (!blk_init(blk, dev)) {
    return test_fail(name, "device initialisation failed");
  }
  guest_printf("CVMMTEST %s capacity=%lu readonly=%u flush=%u\n", name, blk->capacity_sectors,
               blk_readonly(blk) ? 1u : 0u,
               (blk->mmio.features & VIRTIO_BLK_F_FLUSH) != 0 ? 1u : 0u);
  return true;
}

/// Reads the whole disk in chunks and prints its SHA-256 as "CVMMTEST <name> <label> sha256=".
static bool hash_disk(struct blk_device* blk, const char* name, const char* label) {
  struct sha256 hash;
  sha256_init(&hash);
  const uint64_t total = blk->capacity_sectors * kSectorSize;
  for (uint64_t at = 0; at < total; at += kChunkBytes) {
    const size_t len = total - at < kChunkBytes ? (size_t)(total - at) : kChunkBytes;
    const int status = blk_read(blk, at / kSectorSize, chunk, len);
    if (status != kBlkStatusOk) {
      return test_fail(name, "read at byte %lu: status %d", at, status);
    }
    sha256_update(&hash, chunk, len);
  }
  uint8_t digest[32];
  char hex[65];
  sha256_final(&hash, digest);
  hex_encode(digest, sizeof(digest), hex);
  guest_printf("CVMMTEST %s %s sha256=%s\n", name, label, hex);
  return true;
}

/// Writes the pattern over [offset, offset + length) and reads it back.
static bool write_pattern(struct blk_device* blk, const char* name, uint64_t offset,
                          uint64_t length, uint32_t seed) {
  for (uint64_t done = 0; done < length; done += kChunkBytes) {
    const size_t len = length - done < kChunkBytes ? (size_t)(length - done) : kChunkBytes;
    pattern_fill(expected_chunk, len, done, seed);
    const int status = blk_write(blk, (offset + done) / kSectorSize, expected_chunk, len);
    if (status != kBlkStatusOk) {
      return test_fail(name, "write at byte %lu: status %d", offset + done, status);
    }
  }
  guest_printf("CVMMTEST %s wrote offset=%lu length=%lu seed=%u\n", name, offset, length, seed);
  const int flushed = blk_flush(blk);
  if (flushed != kBlkStatusOk && flushed != kBlkStatusUnsupported) {
    return test_fail(name, "flush: status %d", flushed);
  }
  guest_printf("CVMMTEST %s flush status=%d\n", name, flushed);
  for (uint64_t done = 0; done < length; done += kChunkBytes) {
    const size_t len = length - done < kChunkBytes ? (size_t)(length - done) : kChunkBytes;
    pattern_fill(expected_chunk, len, done, seed);
    const int status = blk_read(blk, (offset + done) / kSectorSize, chunk, len);
    if (status != kBlkStatusOk) {
      return test_fail(name, "read back at byte %lu: status %d", offset + done, status);
    }
    if (memcmp(chunk, expected_chunk, len) != 0) {
      return test_fail(name, "read back at byte %lu differs from what was written",
                       offset + done);
    }
  }
  guest_printf("CVMMTEST %s readback ok\n", name);
  return true;
}

bool test_blk_rw(const struct guest_env* env, const char* name) {
  struct blk_device blk;
  if (!open_disk(env, name, &blk)) {
    return false;
  }
  const uint64_t offset = cmdline_u64(env->cmdline, "blk.offset", 4096);
  const uint64_t length = cmdline_u64(env->cmdline, "blk.length", 8192);
  const uint32_t seed = (uint32_t)cmdline_u64(env->cmdline, "blk.seed", 1);
  const uint64_t capacity = blk.capacity_sectors * kSectorSize;
  if (offset % kSectorSize != 0 || length % kSectorSize != 0 || length == 0 ||
      offset > capacity || length > capacity - offset) {
    return test_fail(name, "blk.offset=%lu blk.length=%lu do not fit the %lu-byte disk in "
                     "whole sectors", offset, length, capacity);
  }
  if (!hash_disk(&blk, name, "read") || !write_pattern(&blk, name, offset, length, seed) ||
      !hash_disk(&blk, name, "after")) {
    return false;
  }
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}

bool test_blk_ro(const struct guest_env* env, const char* name) {
  struct blk_device blk;
  if (!open_disk(env, name, &blk)) {
    return false;
  }
  if (!hash_disk(&blk, name, "read")) {
    return false;
  }
  // A read-only device must refuse the write with VIRTIO_BLK_S_IOERR (§5.2.6.1), even though
  // a driver that saw VIRTIO_BLK_F_RO should not send one: this checks the device, not us.
  pattern_fill(expected_chunk, kSectorSize, 0, 7);
  const int status = blk_write(&blk, 0, expected_chunk, kSectorSize);
  guest_printf("CVMMTEST %s write status=%d\n", name, status);
  if (status != kBlkStatusIoErr) {
    return test_fail(name, "write to a read-only disk: status %d, expected %d (IOERR)", status,
                     kBlkStatusIoErr);
  }
  if (!hash_disk(&blk, name, "after")) {
    return false;
  }
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}

bool test_blk_id(const struct guest_env* env, const char* name) {
  struct blk_device blk;
  if (!open_disk(env, name, &blk)) {
    return false;
  }
  char id[kBlkIdBytes + 1];
  const int status = blk_get_id(&blk, id);
  if (status != kBlkStatusOk) {
    return test_fail(name, "GET_ID: status %d", status);
  }
  guest_printf("CVMMTEST %s serial=%s\n", name, id);
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}
