// SPDX-License-Identifier: Apache-2.0
// virtio-vsock test programs (stream sockets; the host is CID 2).
//   vsock-echo    listen on vsock.port (default 1024); echo every byte back; after
//                 vsock.count (default 1) connections closed, report each one's byte count
//                 and CRC-32.
//   vsock-send    connect to host port vsock.port, send vsock.bytes (default 1 MiB) of the
//                 pattern with seed vsock.seed (default 0), shut down, wait for the host to
//                 close; report the CRC-32.
//   vsock-multi   open vsock.count (default 64) connections to host port vsock.port at
//                 once; connection k sends k as a little-endian u32, then vsock.bytes - 4
//                 (default 64 KiB - 4) pattern bytes of seed k, all interleaved.
//   vsock-noport  connect to host port vsock.port (default 1025), where nobody listens; the
//                 device must answer RST.
// vsock.timeout (ms, default 120000) bounds every wait.
#include "checksum.h"
#include "cmdline.h"
#include "guest.h"
#include "io.h"
#include "lib.h"
#include "vsock.h"

enum { kEchoRings = 16, kEchoRingBytes = 64 * 1024, kMaxMulti = 64 };

static struct vsock_device vsock;

static bool open_vsock(const struct guest_env* env, const char* name) {
  const struct virtio_mmio_device* dev = env_find_device(env, kVirtioIdVsock, 0);
  if (dev == NULL) {
    return test_fail(name, "no virtio-vsock device");
  }
  if (!vsock_init(&vsock, dev)) {
    return test_fail(name, "device initialisation failed");
  }
  guest_printf("CVMMTEST %s cid=%lu\n", name, vsock.guest_cid);
  return true;
}

static uint64_t timeout_ms(const struct guest_env* env) {
  return cmdline_u64(env->cmdline, "vsock.timeout", 120000);
}

/// Receivers that do not keep data: checksum it and give the credit back at once.
static void checksum_data(struct vsock_device* dev, struct vsock_conn* conn,
                          const uint8_t* data, uint32_t len) {
  conn->rx_crc = crc32_update(conn->rx_crc, data, len);
  vsock_consumed(dev, conn, len);
}

/// Polls until `conn` leaves `state` or the deadline passes.
static bool wait_while(struct vsock_conn* conn, enum vsock_state state, uint64_t deadline) {
  while (conn->state == state) {
    if (deadline_passed(deadline)) {
      return false;
    }
    vsock_poll(&vsock);
    cpu_relax();
  }
  return true;
}

// ---- vsock-echo: each connection owns a ring as large as the buf_alloc it advertises, so
// the peer can never send more than the ring holds (credit does the flow control).
struct echo_ring {
  bool used;
  uint32_t head;   // next byte to send back
  uint32_t count;  // bytes held
  uint8_t bytes[kEchoRingBytes];
};
static struct echo_ring echo_rings[kEchoRings];

static bool echo_accept(struct vsock_device* dev, struct vsock_conn* conn) {
  (void)dev;
  for (int i = 0; i < kEchoRings; ++i) {
    if (!echo_rings[i].used) {
      echo_rings[i].used = true;
      echo_rings[i].head = echo_rings[i].count = 0;
      conn->app = &echo_rings[i];
      conn->buf_alloc = kEchoRingBytes;
      return true;
    }
  }
  return false;
}

static void echo_data(struct vsock_device* dev, struct vsock_conn* conn, const uint8_t* data,
                      uint32_t len) {
  (void)dev;
  struct echo_ring* ring = conn->app;
  conn->rx_crc = crc32_update(conn->rx_crc, data, len);
  for (uint32_t i = 0; i < len && ring->count < kEchoRingBytes; ++i, ++ring->count) {
    ring->bytes[(ring->head + ring->count) % kEchoRingBytes] = data[i];
  }
}

/// Sends as much of the ring as credit allows; the sent bytes are consumed (fwd_cnt).
static void echo_drain(struct vsock_conn* conn) {
  struct echo_ring* ring = conn->app;
  while (ring->count > 0) {
    const uint32_t contiguous = kEchoRingBytes - ring->head;
    uint32_t room = 0;
    uint8_t* out = vsock_tx_begin(&vsock, conn, ring->count < contiguous ? ring->count
                                                                          : contiguous, &room);
    if (out == NULL) {
      return;
    }
    memcpy(out, ring->bytes + ring->head, room);
    conn->tx_crc = crc32_update(conn->tx_crc, out, room);
    vsock_tx_commit(&vsock, conn, room);
    ring->head = (ring->head + room) % kEchoRingBytes;
    ring->count -= room;
    vsock_consumed(&vsock, conn, room);
  }
}

/// One pass over the echo connections; returns how many finished in this pass.
static uint32_t echo_step(const char* name) {
  uint32_t finished = 0;
  for (uint32_t i = 0; i < kVsockMaxConnections; ++i) {
    struct vsock_conn* c = &vsock.conns[i];
    struct echo_ring* ring = c->app;
    if (c->state == kConnConnected) {
      echo_drain(c);
      if (ring->count == 0 && (c->peer_shutdown & kVsockShutdownSend) != 0) {
        vsock_shutdown(&vsock, c);  // the peer sends no more and everything went back
      }
    }
    if (c->state == kConnClosed && ring != NULL) {
      guest_printf("CVMMTEST %s conn port=%u bytes=%lu crc32=%08x echoed=%lu reset=%u\n", name,
                   c->peer_port, c->rx_bytes, c->rx_crc, c->tx_bytes, c->reset ? 1u : 0u);
      ring->used = false;
      c->app = NULL;
      c->state = kConnFree;
      ++finished;
    }
  }
  vsock_kick(&vsock);
  return finished;
}

bool test_vsock_echo(const struct guest_env* env, const char* name) {
  if (!open_vsock(env, name)) {
    return false;
  }
  vsock.listen_port = (uint32_t)cmdline_u64(env->cmdline, "vsock.port", 1024);
  vsock.on_accept = echo_accept;
  vsock.on_data = echo_data;
  const uint64_t expected = cmdline_u64(env->cmdline, "vsock.count", 1);
  guest_printf("CVMMTEST %s listening port=%u\n", name, vsock.listen_port);
  const uint64_t deadline = deadline_after_ms(timeout_ms(env));
  uint64_t finished = 0;
  while (finished < expected) {
    if (deadline_passed(deadline)) {
      return test_fail(name, "timed out with %lu of %lu connections finished", finished,
                       expected);
    }
    vsock_poll(&vsock);
    finished += echo_step(name);
  }
  if (vsock.protocol_errors != 0) {
    return test_fail(name, "%u protocol errors", vsock.protocol_errors);
  }
  guest_printf("CVMMTEST %s connections=%lu ok\n", name, finished);
  return true;
}

// ---- Senders (vsock-send, vsock-multi)
struct stream {
  struct vsock_conn* conn;
  uint64_t total;  // bytes to send
  uint64_t sent;
  uint32_t seed;
  bool with_index;  // the first 4 bytes are the connection index (vsock-multi)
};

static uint8_t stream_byte(const struct stream* s, uint64_t at) {
  if (s->with_index) {
    return at < 4 ? (uint8_t)(s->seed >> (8 * at)) : cvmm_pattern_byte(at - 4, s->seed);
  }
  return cvmm_pattern_byte(at, s->seed);
}

/// Sends one packet of the stream if credit and a tx buffer allow; shuts down after the last
/// byte. Returns whether a packet was queued.
static bool stream_step(struct stream* s) {
  if (s->conn->state != kConnConnected) {
    return false;
  }
  bool queued = false;
  if (s->sent < s->total) {
    const uint64_t left = s->total - s->sent;
    uint32_t room = 0;
    uint8_t* out = vsock_tx_begin(&vsock, s->conn, left < kVsockMaxPayload ? (uint32_t)left
                                                                            : kVsockMaxPayload,
                                  &room);
    if (out == NULL) {
      return false;
    }
    if (!s->with_index) {
      pattern_fill(out, room, s->sent, s->seed);
    } else {
      for (uint32_t i = 0; i < room; ++i) {
        out[i] = stream_byte(s, s->sent + i);
      }
    }
    s->conn->tx_crc = crc32_update(s->conn->tx_crc, out, room);
    vsock_tx_commit(&vsock, s->conn, room);
    s->sent += room;
    queued = true;
  }
  if (s->sent == s->total) {
    vsock_shutdown(&vsock, s->conn);
  }
  return queued;
}

/// Connects `count` streams to the host and waits until all are connected.
static bool connect_streams(const char* name, struct stream* streams, uint32_t count,
                            uint32_t port, uint64_t deadline) {
  for (uint32_t i = 0; i < count; ++i) {
    streams[i].conn = vsock_connect(&vsock, kVsockHostCid, port);
    if (streams[i].conn == NULL) {
      return test_fail(name, "no free connection slot for connection %u", i);
    }
  }
  for (uint32_t i = 0; i < count; ++i) {
    if (!wait_while(streams[i].conn, kConnConnecting, deadline)) {
      return test_fail(name, "connection %u to port %u: no answer", i, port);
    }
    if (streams[i].conn->state != kConnConnected) {
      return test_fail(name, "connection %u to port %u refused (RST)", i, port);
    }
  }
  return true;
}

/// Runs every stream to completion: all bytes sent and the host closed its side.
static bool run_streams(const char* name, struct stream* streams, uint32_t count,
                        uint64_t deadline) {
  for (;;) {
    // Queue packets round-robin until credit or tx buffers run out, then notify once: one
    // QueueNotify (a VM exit) per batch instead of per packet.
    for (bool progress = true; progress;) {
      progress = false;
      for (uint32_t i = 0; i < count; ++i) {
        progress |= stream_step(&streams[i]);
      }
    }
    bool all_closed = true;
    for (uint32_t i = 0; i < count; ++i) {
      if (streams[i].conn->state == kConnClosed) {
        if (streams[i].sent != streams[i].total) {
          return test_fail(name, "connection %u reset after %lu of %lu bytes", i,
                           streams[i].sent, streams[i].total);
        }
      } else {
        all_closed = false;
      }
    }
    if (all_closed) {
      return true;
    }
    if (deadline_passed(deadline)) {
      return test_fail(name, "timed out sending");
    }
    vsock_kick(&vsock);
    vsock_poll(&vsock);
  }
}

bool test_vsock_send(const struct guest_env* env, const char* name) {
  if (!open_vsock(env, name)) {
    return false;
  }
  vsock.on_data = checksum_data;
  const uint32_t port = (uint32_t)cmdline_u64(env->cmdline, "vsock.port", 1234);
  struct stream s = {
      .total = cmdline_u64(env->cmdline, "vsock.bytes", 1 << 20),
      .seed = (uint32_t)cmdline_u64(env->cmdline, "vsock.seed", 0),
  };
  const uint64_t deadline = deadline_after_ms(timeout_ms(env));
  if (!connect_streams(name, &s, 1, port, deadline) || !run_streams(name, &s, 1, deadline)) {
    return false;
  }
  guest_printf("CVMMTEST %s port=%u bytes=%lu crc32=%08x\n", name, port, s.sent,
               s.conn->tx_crc);
  if (vsock.protocol_errors != 0) {
    return test_fail(name, "%u protocol errors", vsock.protocol_errors);
  }
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}

bool test_vsock_multi(const struct guest_env* env, const char* name) {
  if (!open_vsock(env, name)) {
    return false;
  }
  vsock.on_data = checksum_data;
  const uint32_t port = (uint32_t)cmdline_u64(env->cmdline, "vsock.port", 1234);
  const uint64_t count = cmdline_u64(env->cmdline, "vsock.count", kMaxMulti);
  const uint64_t bytes = cmdline_u64(env->cmdline, "vsock.bytes", 64 * 1024);
  if (count == 0 || count > kMaxMulti || bytes < 4) {
    return test_fail(name, "vsock.count must be 1..%u and vsock.bytes at least 4", kMaxMulti);
  }
  static struct stream streams[kMaxMulti];
  for (uint32_t i = 0; i < count; ++i) {
    streams[i] = (struct stream){.total = bytes, .seed = i, .with_index = true};
  }
  const uint64_t deadline = deadline_after_ms(timeout_ms(env));
  if (!connect_streams(name, streams, (uint32_t)count, port, deadline)) {
    return false;
  }
  guest_printf("CVMMTEST %s connected=%lu\n", name, count);
  if (!run_streams(name, streams, (uint32_t)count, deadline)) {
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    guest_printf("CVMMTEST %s conn=%u bytes=%lu crc32=%08x\n", name, i, streams[i].sent,
                 streams[i].conn->tx_crc);
  }
  if (vsock.protocol_errors != 0) {
    return test_fail(name, "%u protocol errors", vsock.protocol_errors);
  }
  guest_printf("CVMMTEST %s connections=%lu ok\n", name, count);
  return true;
}

bool test_vsock_noport(const struct guest_env* env, const char* name) {
  if (!open_vsock(env, name)) {
    return false;
  }
  vsock.on_data = checksum_data;
  const uint32_t port = (uint32_t)cmdline_u64(env->cmdline, "vsock.port", 1025);
  struct vsock_conn* c = vsock_connect(&vsock, kVsockHostCid, port);
  if (c == NULL || !wait_while(c, kConnConnecting, deadline_after_ms(timeout_ms(env)))) {
    return test_fail(name, "no answer to a connection request to port %u", port);
  }
  if (c->state != kConnClosed || !c->reset) {
    return test_fail(name, "port %u accepted a connection nobody listens for", port);
  }
  guest_printf("CVMMTEST %s port=%u rst\n", name, port);
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}
