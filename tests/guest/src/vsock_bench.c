// SPDX-License-Identifier: Apache-2.0
// vsock-bench: one stream connection to host port vsock.port (default 1234), three phases the
// host times (tests/guest/bench_host.h runs the host end):
//   1. guest->host: bench.bytes (default 16 MiB) of the window pattern (bench_pattern.h,
//      seed bench.seed, default 5);
//   2. host->guest: the host sends bench.bytes (pattern of seed + 1); once all arrived the
//      guest answers one byte 'A', which ends the host's clock;
//   3. ping-pong: bench.rounds (default 1000) times the host sends bench.msg (default 64)
//      bytes and the guest sends them straight back.
// Then the guest shuts down and waits for the host to close. bench.verify=1 adds a CRC-32 of
// the received bytes (costs guest CPU, so the benchmark leaves it off; the tests turn it on).
// Lines: "<name> cid=", "<name> connected port=", "<name> g2h bytes= guest-tsc=",
// "<name> h2g bytes= guest-tsc= [crc32=]", "<name> rtt rounds= msg= guest-tsc=", "<name> ok".
#include "bench.h"
#include "bench_pattern.h"
#include "checksum.h"
#include "cmdline.h"
#include "io.h"
#include "lib.h"
#include "vsock.h"

enum { kWindow = kCvmmBenchWindowBytes, kMaxMessage = kVsockMaxPayload, kAck = 'A' };

static struct vsock_device vsock;
static uint8_t send_window[kWindow] __attribute__((aligned(4096)));

// Receive side, filled by the data callback during vsock_poll.
static struct {
  uint64_t bulk_expected;  // host->guest bytes to count before ping messages start
  uint64_t bulk_received;
  uint32_t bulk_crc;
  bool verify;
  uint32_t message_bytes;
  uint32_t pending;  // ping bytes held in `message`
  uint8_t message[2 * kMaxMessage];
  bool overflow;
} rx;

static void bench_data(struct vsock_device* dev, struct vsock_conn* conn, const uint8_t* data,
                       uint32_t len) {
  uint32_t bulk = 0;
  if (rx.bulk_received < rx.bulk_expected) {
    const uint64_t left = rx.bulk_expected - rx.bulk_received;
    bulk = left < len ? (uint32_t)left : len;
    if (rx.verify) {
      rx.bulk_crc = crc32_update(rx.bulk_crc, data, bulk);
    }
    rx.bulk_received += bulk;
  }
  const uint32_t rest = len - bulk;
  if (rest > sizeof(rx.message) - rx.pending) {
    rx.overflow = true;  // the host sent a message before the previous one came back
  } else {
    memcpy(rx.message + rx.pending, data + bulk, rest);
    rx.pending += rest;
  }
  vsock_consumed(dev, conn, len);
}

/// Polls once; false (with a FAIL line) when the connection ended or the deadline passed.
static bool poll_alive(const char* name, struct vsock_conn* conn, uint64_t deadline,
                       const char* phase) {
  vsock_kick(&vsock);
  vsock_poll(&vsock);
  if (conn->state != kConnConnected) {
    return test_fail(name, "%s: the connection ended (reset=%u)", phase, conn->reset ? 1u : 0u);
  }
  if (deadline_passed(deadline)) {
    return test_fail(name, "%s: timed out", phase);
  }
  return true;
}

/// Sends `len` bytes starting at window offset `offset`, waiting for credit as needed.
static bool send_bytes(const char* name, struct vsock_conn* conn, const uint8_t* data,
                       uint32_t len, uint64_t deadline, const char* phase) {
  uint32_t sent = 0;
  while (sent < len) {
    uint32_t room = 0;
    uint8_t* out = vsock_tx_begin(&vsock, conn, len - sent, &room);
    if (out == NULL) {
      if (!poll_alive(name, conn, deadline, phase)) {
        return false;
      }
      continue;
    }
    memcpy(out, data + sent, room);
    vsock_tx_commit(&vsock, conn, room);
    sent += room;
  }
  return true;
}

static bool guest_to_host(const char* name, struct vsock_conn* conn, uint64_t bytes,
                          uint64_t deadline) {
  const uint64_t start = rdtsc();
  for (uint64_t at = 0; at < bytes;) {
    const uint64_t offset = at % kWindow;
    const uint64_t left = bytes - at;
    const uint64_t piece = left < kWindow - offset ? left : kWindow - offset;
    if (!send_bytes(name, conn, send_window + offset, (uint32_t)piece, deadline, "g2h")) {
      return false;
    }
    at += piece;
  }
  vsock_kick(&vsock);
  guest_printf("CVMMTEST %s g2h bytes=%lu guest-tsc=%lu\n", name, bytes, rdtsc() - start);
  return true;
}

static bool host_to_guest(const char* name, struct vsock_conn* conn, uint64_t deadline) {
  uint64_t start = 0;
  while (rx.bulk_received < rx.bulk_expected) {
    if (start == 0 && rx.bulk_received > 0) {
      start = rdtsc();
    }
    if (!poll_alive(name, conn, deadline, "h2g")) {
      return false;
    }
  }
  const uint64_t tsc = start == 0 ? 0 : rdtsc() - start;
  const uint8_t ack = kAck;
  if (!send_bytes(name, conn, &ack, 1, deadline, "h2g ack")) {
    return false;
  }
  vsock_kick(&vsock);
  if (rx.verify) {
    guest_printf("CVMMTEST %s h2g bytes=%lu guest-tsc=%lu crc32=%08x\n", name, rx.bulk_received,
                 tsc, rx.bulk_crc);
  } else {
    guest_printf("CVMMTEST %s h2g bytes=%lu guest-tsc=%lu\n", name, rx.bulk_received, tsc);
  }
  return true;
}

static bool ping_pong(const char* name, struct vsock_conn* conn, uint64_t rounds,
                      uint64_t deadline) {
  uint64_t start = 0;
  for (uint64_t done = 0; done < rounds;) {
    if (rx.overflow) {
      return test_fail(name, "rtt: more than two messages arrived at once");
    }
    if (rx.pending < rx.message_bytes) {
      if (!poll_alive(name, conn, deadline, "rtt")) {
        return false;
      }
      continue;
    }
    if (start == 0) {
      start = rdtsc();
    }
    if (!send_bytes(name, conn, rx.message, rx.message_bytes, deadline, "rtt")) {
      return false;
    }
    vsock_kick(&vsock);
    rx.pending -= rx.message_bytes;
    memmove(rx.message, rx.message + rx.message_bytes, rx.pending);
    ++done;
  }
  guest_printf("CVMMTEST %s rtt rounds=%lu msg=%u guest-tsc=%lu\n", name, rounds,
               rx.message_bytes, start == 0 ? 0 : rdtsc() - start);
  return true;
}

/// Initialises the device and connects; NULL (after a FAIL line) on failure.
static struct vsock_conn* open_connection(const struct guest_env* env, const char* name,
                                          uint64_t deadline) {
  const struct virtio_mmio_device* dev = env_find_device(env, kVirtioIdVsock, 0);
  if (dev == NULL) {
    test_fail(name, "no virtio-vsock device");
    return NULL;
  }
  if (!vsock_init(&vsock, dev)) {
    test_fail(name, "device initialisation failed");
    return NULL;
  }
  vsock.on_data = bench_data;
  guest_printf("CVMMTEST %s cid=%lu\n", name, vsock.guest_cid);
  const uint32_t port = (uint32_t)cmdline_u64(env->cmdline, "vsock.port", 1234);
  struct vsock_conn* conn = vsock_connect(&vsock, kVsockHostCid, port);
  while (conn != NULL && conn->state == kConnConnecting && !deadline_passed(deadline)) {
    vsock_poll(&vsock);
    cpu_relax();
  }
  if (conn == NULL || conn->state != kConnConnected) {
    test_fail(name, "connection to host port %u failed", port);
    return NULL;
  }
  guest_printf("CVMMTEST %s connected port=%u\n", name, port);
  return conn;
}

bool test_vsock_bench(const struct guest_env* env, const char* name) {
  const uint64_t bytes = cmdline_u64(env->cmdline, "bench.bytes", 16 << 20);
  const uint64_t rounds = cmdline_u64(env->cmdline, "bench.rounds", 1000);
  const uint32_t seed = (uint32_t)cmdline_u64(env->cmdline, "bench.seed", 5);
  memset(&rx, 0, sizeof(rx));
  rx.bulk_expected = bytes;
  rx.verify = cmdline_u64(env->cmdline, "bench.verify", 0) != 0;
  rx.message_bytes = (uint32_t)cmdline_u64(env->cmdline, "bench.msg", 64);
  if (rx.message_bytes == 0 || rx.message_bytes > kMaxMessage) {
    return test_fail(name, "bench.msg must be 1..%u", kMaxMessage);
  }
  pattern_fill(send_window, kWindow, 0, seed);
  const uint64_t deadline = deadline_after_ms(cmdline_u64(env->cmdline, "vsock.timeout", 120000));
  struct vsock_conn* conn = open_connection(env, name, deadline);
  if (conn == NULL || !guest_to_host(name, conn, bytes, deadline) ||
      !host_to_guest(name, conn, deadline) || !ping_pong(name, conn, rounds, deadline)) {
    return false;
  }
  vsock_shutdown(&vsock, conn);
  while (conn->state != kConnClosed) {
    if (deadline_passed(deadline)) {
      return test_fail(name, "the host did not close the connection");
    }
    vsock_poll(&vsock);
    cpu_relax();
  }
  if (vsock.protocol_errors != 0) {
    return test_fail(name, "%u protocol errors", vsock.protocol_errors);
  }
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}
