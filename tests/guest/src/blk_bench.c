// SPDX-License-Identifier: Apache-2.0
// blk-bench: virtio-blk sequential write and read of bench.bytes (default: the whole disk) in
// requests of bench.chunk bytes (default 64 KiB), then bench.ops (default 1000) random 4 KiB
// reads and as many random 4 KiB writes over the same region, with bench.qd (default 1)
// requests in flight. Every phase is timed with rdtsc; the data is checked outside the timed
// loops (bench_pattern.h says what goes where), and the final disk content is reported as a
// SHA-256 the host recomputes. Arguments: blk.index, bench.bytes, bench.chunk, bench.qd,
// bench.ops, bench.seed (default 1).
//
// Lines: "<name> capacity= bytes= chunk= qd= ops= seed=", "<name> seq-write bytes= tsc=",
// "<name> flush status= tsc=", "<name> seq-read bytes= tsc=", "<name> seq-read data ok",
// "<name> rand-read ops= tsc=", "<name> rand-read data ok", "<name> rand-write ops= tsc=",
// "<name> rand-flush status= tsc=", "<name> verify sha256=", "<name> ok".
#include "bench.h"
#include "bench_pattern.h"
#include "blk_queue.h"
#include "checksum.h"
#include "cmdline.h"
#include "io.h"
#include "lib.h"

enum {
  kSectorSize = 512,
  kWindow = kCvmmBenchWindowBytes,
  kBlock = kCvmmBenchBlockBytes,
  kConfigSizeMax = 8,  // le32 size_max in the device configuration (§5.2.4)
};

// The sequential writes' source (seed), the random writes' source (seed + 1), and where reads
// land: a read of disk byte X goes to read_window[X mod kWindow], so after a phase every
// touched offset must equal seq_window's.
static uint8_t seq_window[kWindow] __attribute__((aligned(4096)));
static uint8_t rand_window[kWindow] __attribute__((aligned(4096)));
static uint8_t read_window[kWindow] __attribute__((aligned(4096)));

struct blk_bench {
  const char* name;
  struct blk_device blk;
  struct blk_queue queue;
  uint64_t bytes;
  uint32_t chunk;
  uint64_t ops;
  uint32_t seed;
};

static bool parse_args(const struct guest_env* env, struct blk_bench* b) {
  const uint64_t capacity = b->blk.capacity_sectors * kSectorSize;
  b->bytes = cmdline_u64(env->cmdline, "bench.bytes", capacity);
  const uint64_t chunk = cmdline_u64(env->cmdline, "bench.chunk", 64 * 1024);
  b->ops = cmdline_u64(env->cmdline, "bench.ops", 1000);
  b->seed = (uint32_t)cmdline_u64(env->cmdline, "bench.seed", 1);
  const uint64_t qd = cmdline_u64(env->cmdline, "bench.qd", 1);
  // One data descriptor per request: the device's size_max bounds it when offered (§5.2.4).
  uint64_t limit = kWindow;
  if ((b->blk.mmio.features & VIRTIO_BLK_F_SIZE_MAX) != 0) {
    limit = virtio_config_read32(&b->blk.mmio, kConfigSizeMax);
  }
  if (chunk == 0 || chunk % kBlock != 0 || kWindow % chunk != 0 || chunk > limit) {
    return test_fail(b->name, "bench.chunk=%lu must be a multiple of 4096 dividing 1 MiB and "
                     "at most %lu (size_max)", chunk, limit);
  }
  if (b->bytes < kBlock || b->bytes % chunk != 0 || b->bytes > capacity) {
    return test_fail(b->name, "bench.bytes=%lu must be a multiple of bench.chunk within the "
                     "%lu-byte disk", b->bytes, capacity);
  }
  b->chunk = (uint32_t)chunk;
  if (qd > kBlkQueueMaxDepth || !blk_queue_init(&b->queue, &b->blk, (unsigned)qd)) {
    return test_fail(b->name, "bench.qd=%lu is not supported", qd);
  }
  return true;
}

static bool fail_with_queue(struct blk_bench* b, const char* phase) {
  return test_fail(b->name, "%s: status %d", phase, b->queue.error);
}

/// Sequential pass over [0, bytes) in chunk-sized requests; prints the TSC delta.
static bool sequential(struct blk_bench* b, uint32_t type, const char* phase) {
  const uint64_t start = rdtsc();
  for (uint64_t at = 0; at < b->bytes; at += b->chunk) {
    uint8_t* buffer = (type == kBlkTypeIn ? read_window : seq_window) + at % kWindow;
    if (!blk_queue_submit(&b->queue, type, at / kSectorSize, buffer, b->chunk)) {
      return fail_with_queue(b, phase);
    }
  }
  if (!blk_queue_drain(&b->queue)) {
    return fail_with_queue(b, phase);
  }
  const uint64_t tsc = rdtsc() - start;
  guest_printf("CVMMTEST %s %s bytes=%lu tsc=%lu\n", b->name, phase, b->bytes, tsc);
  return true;
}

/// bench.ops random 4 KiB requests; block numbers from bench_pattern.h's generator.
static bool random_blocks(struct blk_bench* b, uint32_t type, const char* phase) {
  const uint64_t blocks = b->bytes / kBlock;
  uint64_t rng = cvmm_bench_rng_init(type == kBlkTypeIn ? b->seed : b->seed + 1);
  const uint64_t start = rdtsc();
  for (uint64_t i = 0; i < b->ops; ++i) {
    const uint64_t block = cvmm_bench_rng_next(&rng) % blocks;
    const uint64_t offset = block * kBlock % kWindow;
    uint8_t* buffer = (type == kBlkTypeIn ? read_window : rand_window) + offset;
    if (!blk_queue_submit(&b->queue, type, block * (kBlock / kSectorSize), buffer, kBlock)) {
      return fail_with_queue(b, phase);
    }
  }
  if (!blk_queue_drain(&b->queue)) {
    return fail_with_queue(b, phase);
  }
  const uint64_t tsc = rdtsc() - start;
  guest_printf("CVMMTEST %s %s ops=%lu tsc=%lu\n", b->name, phase, b->ops, tsc);
  return true;
}

/// After the random reads: every block they read must hold the sequential pattern.
static bool check_random_reads(struct blk_bench* b) {
  const uint64_t blocks = b->bytes / kBlock;
  uint64_t rng = cvmm_bench_rng_init(b->seed);
  for (uint64_t i = 0; i < b->ops; ++i) {
    const uint64_t block = cvmm_bench_rng_next(&rng) % blocks;
    const uint64_t offset = block * kBlock % kWindow;
    if (memcmp(read_window + offset, seq_window + offset, kBlock) != 0) {
      return test_fail(b->name, "rand-read: block %lu holds other bytes than were written",
                       block);
    }
  }
  guest_printf("CVMMTEST %s rand-read data ok\n", b->name);
  return true;
}

static bool timed_flush(struct blk_bench* b, const char* phase) {
  const uint64_t start = rdtsc();
  const int status = blk_flush(&b->blk);
  const uint64_t tsc = rdtsc() - start;
  if (status != kBlkStatusOk && status != kBlkStatusUnsupported) {
    return test_fail(b->name, "%s: status %d", phase, status);
  }
  guest_printf("CVMMTEST %s %s status=%d tsc=%lu\n", b->name, phase, status, tsc);
  return true;
}

/// SHA-256 of the whole disk, read synchronously (not timed).
static bool report_disk_hash(struct blk_bench* b) {
  struct sha256 hash;
  sha256_init(&hash);
  const uint64_t total = b->blk.capacity_sectors * kSectorSize;
  for (uint64_t at = 0; at < total; at += kWindow) {
    const size_t len = total - at < kWindow ? (size_t)(total - at) : kWindow;
    const int status = blk_read(&b->blk, at / kSectorSize, read_window, len);
    if (status != kBlkStatusOk) {
      return test_fail(b->name, "verify: read at byte %lu: status %d", at, status);
    }
    sha256_update(&hash, read_window, len);
  }
  uint8_t digest[32];
  char hex[65];
  sha256_final(&hash, digest);
  hex_encode(digest, sizeof(digest), hex);
  guest_printf("CVMMTEST %s verify sha256=%s\n", b->name, hex);
  return true;
}

static bool open_bench_disk(const struct guest_env* env, struct blk_bench* b) {
  const uint64_t index = cmdline_u64(env->cmdline, "blk.index", 0);
  const struct virtio_mmio_device* dev = env_find_device(env, kVirtioIdBlock, index);
  if (dev == NULL) {
    return test_fail(b->name, "no virtio-blk device #%lu", index);
  }
  if (!blk_init(&b->blk, dev)) {
    return test_fail(b->name, "device initialisation failed");
  }
  if (blk_readonly(&b->blk)) {
    return test_fail(b->name, "the disk is read-only");
  }
  return parse_args(env, b);
}

bool test_blk_bench(const struct guest_env* env, const char* name) {
  static struct blk_bench b;
  memset(&b, 0, sizeof(b));
  b.name = name;
  if (!open_bench_disk(env, &b)) {
    return false;
  }
  guest_printf("CVMMTEST %s capacity=%lu bytes=%lu chunk=%u qd=%u ops=%lu seed=%u\n", name,
               b.blk.capacity_sectors, b.bytes, b.chunk, b.queue.depth, b.ops, b.seed);
  pattern_fill(seq_window, kWindow, 0, b.seed);
  pattern_fill(rand_window, kWindow, 0, b.seed + 1);
  memset(read_window, 0, kWindow);
  if (!sequential(&b, kBlkTypeOut, "seq-write") || !timed_flush(&b, "flush") ||
      !sequential(&b, kBlkTypeIn, "seq-read")) {
    return false;
  }
  const size_t touched = b.bytes < kWindow ? (size_t)b.bytes : kWindow;
  if (memcmp(read_window, seq_window, touched) != 0) {
    return test_fail(name, "seq-read: the data read differs from what was written");
  }
  guest_printf("CVMMTEST %s seq-read data ok\n", name);
  memset(read_window, 0, kWindow);
  if (!random_blocks(&b, kBlkTypeIn, "rand-read") || !check_random_reads(&b) ||
      !random_blocks(&b, kBlkTypeOut, "rand-write") || !timed_flush(&b, "rand-flush") ||
      !report_disk_hash(&b)) {
    return false;
  }
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}
