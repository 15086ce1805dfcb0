// SPDX-License-Identifier: Apache-2.0
#include "vsock.h"

#include "io.h"
#include "lib.h"

enum {
  kQueueRx = 0,
  kQueueTx = 1,
  kQueueEvent = 2,
  kConfigGuestCid = 0,  // le64 guest_cid (§5.10.4)
  kEventTransportReset = 0,  // VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.6)
  kEventBuffers = 4,
  kFirstLocalPort = 49152,
  kControlTimeoutMs = 10000,
  // A packet buffer: the header at kHeaderOffset ends exactly where the 64-byte aligned
  // payload starts, so payload copies run on aligned words.
  kPacketBytes = 64 + kVsockMaxPayload,
  kHeaderOffset = 64 - (int)sizeof(struct vsock_hdr),
};
#define VIRTIO_VSOCK_F_STREAM (1ull << 0)

struct packet_buffer {
  uint8_t bytes[kPacketBytes];
} __attribute__((aligned(64)));

static struct packet_buffer rx_buffers[kVsockRxBuffers];
static struct packet_buffer tx_buffers[kVsockTxSlots];
static uint32_t event_buffers[kEventBuffers];
static uint16_t tx_free[kVsockTxSlots];  // stack of free tx buffer indices
static uint32_t tx_free_count;
static int32_t tx_building = -1;  // buffer handed out by vsock_tx_begin

static struct vsock_hdr* header_of(struct packet_buffer* b) {
  return (struct vsock_hdr*)(b->bytes + kHeaderOffset);
}
static uint8_t* payload_of(struct packet_buffer* b) { return b->bytes + 64; }

static bool post_rx(struct vsock_device* dev, struct packet_buffer* b) {
  const struct virtq_buffer chain = {b->bytes + kHeaderOffset,
                                     (uint32_t)sizeof(struct vsock_hdr) + kVsockMaxPayload, true};
  return virtq_add(&dev->rx, &chain, 1, b);
}

static bool post_event(struct vsock_device* dev, uint32_t* buffer) {
  const struct virtq_buffer chain = {buffer, sizeof(*buffer), true};
  return virtq_add(&dev->event, &chain, 1, buffer);
}

bool vsock_init(struct vsock_device* dev, const struct virtio_mmio_device* probed) {
  memset(dev, 0, sizeof(*dev));
  dev->mmio = *probed;
  dev->default_buf_alloc = 256 * 1024;
  dev->next_local_port = kFirstLocalPort;
  if (!virtio_mmio_negotiate(&dev->mmio, VIRTIO_VSOCK_F_STREAM) ||
      !virtq_setup(&dev->rx, &dev->mmio, kQueueRx, kVsockRxBuffers) ||
      !virtq_setup(&dev->tx, &dev->mmio, kQueueTx, kVsockTxSlots) ||
      !virtq_setup(&dev->event, &dev->mmio, kQueueEvent, kEventBuffers)) {
    return false;
  }
  dev->guest_cid = virtio_config_read64(&dev->mmio, kConfigGuestCid);
  tx_free_count = 0;
  for (uint32_t i = 0; i < kVsockTxSlots && i < dev->tx.size; ++i) {
    tx_free[tx_free_count++] = (uint16_t)i;
  }
  tx_building = -1;
  for (uint32_t i = 0; i < dev->rx.size && i < kVsockRxBuffers; ++i) {
    post_rx(dev, &rx_buffers[i]);
  }
  for (uint32_t i = 0; i < dev->event.size && i < kEventBuffers; ++i) {
    post_event(dev, &event_buffers[i]);
  }
  // §3.1.1: the device may use the queues from DRIVER_OK on, buffers are already there.
  virtio_mmio_driver_ok(&dev->mmio);
  virtq_kick(&dev->rx);
  virtq_kick(&dev->event);
  return true;
}

// ---- Transmit
static void reclaim_tx(struct vsock_device* dev) {
  void* token;
  uint32_t written;
  while (virtq_get_used(&dev->tx, &token, &written)) {
    if (token != NULL) {
      tx_free[tx_free_count++] = (uint16_t)((struct packet_buffer*)token - tx_buffers);
    }
  }
}

static void fill_header(const struct vsock_device* dev, struct vsock_hdr* h, uint64_t dst_cid,
                        uint32_t src_port, uint32_t dst_port, uint16_t op) {
  memset(h, 0, sizeof(*h));
  h->src_cid = dev->guest_cid;
  h->dst_cid = dst_cid;
  h->src_port = src_port;
  h->dst_port = dst_port;
  h->type = kVsockTypeStream;
  h->op = op;
}

/// Queues buffer `index` whose header is complete, carrying `payload` bytes.
static void queue_tx(struct vsock_device* dev, uint32_t index, uint32_t payload) {
  struct packet_buffer* b = &tx_buffers[index];
  const struct virtq_buffer chain = {b->bytes + kHeaderOffset,
                                     (uint32_t)sizeof(struct vsock_hdr) + payload, false};
  if (!virtq_add(&dev->tx, &chain, 1, b)) {
    // Cannot happen: one descriptor per tx buffer and no more buffers than descriptors.
    guest_printf("cvmm-guest: vsock: tx queue unexpectedly full\n");
    tx_free[tx_free_count++] = (uint16_t)index;
    return;
  }
  dev->tx_pending_kick = true;
}

/// A free tx buffer, waiting for the device to return one if needed; -1 on timeout.
static int32_t take_tx_buffer(struct vsock_device* dev, bool wait) {
  reclaim_tx(dev);
  if (tx_free_count == 0 && wait) {
    vsock_kick(dev);
    const uint64_t deadline = deadline_after_ms(kControlTimeoutMs);
    while (tx_free_count == 0 && !deadline_passed(deadline)) {
      cpu_relax();
      reclaim_tx(dev);
    }
  }
  if (tx_free_count == 0) {
    return -1;
  }
  return tx_free[--tx_free_count];
}

/// Sends a packet without payload; `conn` may be NULL (replies to unknown connections).
static void send_control(struct vsock_device* dev, struct vsock_conn* conn,
                         const struct vsock_hdr* reply_to, uint16_t op, uint32_t flags) {
  const int32_t index = take_tx_buffer(dev, true);
  if (index < 0) {
    guest_printf("cvmm-guest: vsock: no tx buffer for op %u (device not consuming tx)\n", op);
    dev->protocol_errors++;
    return;
  }
  struct vsock_hdr* h = header_of(&tx_buffers[index]);
  if (conn != NULL) {
    fill_header(dev, h, conn->peer_cid, conn->local_port, conn->peer_port, op);
    h->buf_alloc = conn->buf_alloc;
    h->fwd_cnt = conn->fwd_cnt;
    conn->fwd_cnt_sent = conn->fwd_cnt;
  } else {
    fill_header(dev, h, reply_to->src_cid, reply_to->dst_port, reply_to->src_port, op);
  }
  h->flags = flags;
  queue_tx(dev, (uint32_t)index, 0);
}

void vsock_kick(struct vsock_device* dev) {
  if (dev->tx_pending_kick) {
    dev->tx_pending_kick = false;
    virtq_kick(&dev->tx);
  }
}

uint32_t vsock_credit(const struct vsock_conn* conn) {
  if (conn->state != kConnConnected) {
    return 0;
  }
  const uint32_t in_flight = conn->tx_cnt - conn->peer_fwd_cnt;  // wraps like the spec's u32
  return in_flight >= conn->peer_buf_alloc ? 0 : conn->peer_buf_alloc - in_flight;
}

uint8_t* vsock_tx_begin(struct vsock_device* dev, struct vsock_conn* conn, uint32_t limit,
                        uint32_t* usable) {
  uint32_t room = vsock_credit(conn);
  if (room == 0 && conn->state == kConnConnected && !conn->credit_requested) {
    send_control(dev, conn, NULL, kVsockOpCreditRequest, 0);  // §5.10.6.3
    conn->credit_requested = true;
  }
  room = room < limit ? room : limit;
  room = room < kVsockMaxPayload ? room : kVsockMaxPayload;
  if (room == 0) {
    return NULL;
  }
  const int32_t index = take_tx_buffer(dev, false);
  if (index < 0) {
    return NULL;
  }
  tx_building = index;
  *usable = room;
  return payload_of(&tx_buffers[index]);
}

void vsock_tx_commit(struct vsock_device* dev, struct vsock_conn* conn, uint32_t len) {
  const uint32_t index = (uint32_t)tx_building;
  tx_building = -1;
  if (len == 0) {
    tx_free[tx_free_count++] = (uint16_t)index;
    return;
  }
  struct vsock_hdr* h = header_of(&tx_buffers[index]);
  fill_header(dev, h, conn->peer_cid, conn->local_port, conn->peer_port, kVsockOpRw);
  h->len = len;
  h->buf_alloc = conn->buf_alloc;
  h->fwd_cnt = conn->fwd_cnt;
  conn->fwd_cnt_sent = conn->fwd_cnt;
  conn->tx_cnt += len;
  conn->tx_bytes += len;
  queue_tx(dev, index, len);
}

void vsock_consumed(struct vsock_device* dev, struct vsock_conn* conn, uint32_t len) {
  conn->fwd_cnt += len;
  conn->rx_pending -= len;
  if (conn->state == kConnConnected && conn->fwd_cnt - conn->fwd_cnt_sent >= conn->buf_alloc / 4) {
    send_control(dev, conn, NULL, kVsockOpCreditUpdate, 0);
  }
}

// ---- Connections
static struct vsock_conn* new_conn(struct vsock_device* dev) {
  for (uint32_t i = 0; i < kVsockMaxConnections; ++i) {
    struct vsock_conn* c = &dev->conns[i];
    if (c->state == kConnFree) {
      memset(c, 0, sizeof(*c));
      c->buf_alloc = dev->default_buf_alloc;
      return c;
    }
  }
  return NULL;
}

static struct vsock_conn* find_conn(struct vsock_device* dev, const struct vsock_hdr* h) {
  for (uint32_t i = 0; i < kVsockMaxConnections; ++i) {
    struct vsock_conn* c = &dev->conns[i];
    if (c->state != kConnFree && c->state != kConnClosed && c->peer_cid == h->src_cid &&
        c->peer_port == h->src_port && c->local_port == h->dst_port) {
      return c;
    }
  }
  return NULL;
}

struct vsock_conn* vsock_connect(struct vsock_device* dev, uint64_t cid, uint32_t port) {
  struct vsock_conn* c = new_conn(dev);
  if (c == NULL) {
    return NULL;
  }
  c->peer_cid = cid;
  c->peer_port = port;
  c->local_port = dev->next_local_port++;
  c->state = kConnConnecting;
  send_control(dev, c, NULL, kVsockOpRequest, 0);
  vsock_kick(dev);
  return c;
}

void vsock_reset(struct vsock_device* dev, struct vsock_conn* conn) {
  send_control(dev, conn, NULL, kVsockOpRst, 0);
  conn->state = kConnClosed;
  vsock_kick(dev);
}

/// Both directions shut down on both sides: finish like Linux does, with RST.
static void close_if_done(struct vsock_device* dev, struct vsock_conn* conn) {
  const uint32_t both = kVsockShutdownRcv | kVsockShutdownSend;
  if (conn->state == kConnShutdown && (conn->peer_shutdown & both) == both) {
    vsock_reset(dev, conn);
  }
}

void vsock_shutdown(struct vsock_device* dev, struct vsock_conn* conn) {
  if (conn->state != kConnConnected) {
    return;
  }
  send_control(dev, conn, NULL, kVsockOpShutdown, kVsockShutdownRcv | kVsockShutdownSend);
  conn->state = kConnShutdown;
  vsock_kick(dev);
  close_if_done(dev, conn);
}

// ---- Receive
static void accept_request(struct vsock_device* dev, const struct vsock_hdr* h) {
  struct vsock_conn* c = dev->listen_port != 0 && h->dst_port == dev->listen_port
                             ? new_conn(dev) : NULL;
  if (c == NULL) {
    send_control(dev, NULL, h, kVsockOpRst, 0);
    return;
  }
  c->peer_cid = h->src_cid;
  c->peer_port = h->src_port;
  c->local_port = h->dst_port;
  c->peer_buf_alloc = h->buf_alloc;
  c->peer_fwd_cnt = h->fwd_cnt;
  c->state = kConnConnected;
  if (dev->on_accept != NULL && !dev->on_accept(dev, c)) {
    vsock_reset(dev, c);
    return;
  }
  send_control(dev, c, NULL, kVsockOpResponse, 0);
}

static void receive_data(struct vsock_device* dev, struct vsock_conn* c, const uint8_t* data,
                         uint32_t len) {
  if (c->state != kConnConnected && c->state != kConnShutdown) {
    dev->protocol_errors++;
    return;
  }
  if (len > c->buf_alloc - c->rx_pending) {
    // The peer ignored our credit (§5.10.6.3.1 says it must not): a device bug worth seeing.
    guest_printf("cvmm-guest: vsock: port %u sent %u bytes beyond our credit\n", c->peer_port,
                 len);
    dev->protocol_errors++;
  }
  c->rx_pending += len;
  c->rx_bytes += len;
  dev->on_data(dev, c, data, len);
}

static void handle_packet(struct vsock_device* dev, const struct vsock_hdr* h,
                          const uint8_t* payload) {
  if (h->dst_cid != dev->guest_cid || h->type != kVsockTypeStream) {
    dev->protocol_errors++;
    if (h->op != kVsockOpRst) {
      send_control(dev, NULL, h, kVsockOpRst, 0);
    }
    return;
  }
  struct vsock_conn* c = find_conn(dev, h);
  if (c == NULL) {
    if (h->op == kVsockOpRequest) {
      accept_request(dev, h);
    } else if (h->op != kVsockOpRst) {
      send_control(dev, NULL, h, kVsockOpRst, 0);
    }
    return;
  }
  c->peer_buf_alloc = h->buf_alloc;  // every packet carries the peer's credit (§5.10.6.3)
  c->peer_fwd_cnt = h->fwd_cnt;
  c->credit_requested = false;
  switch (h->op) {
    case kVsockOpResponse:
      if (c->state == kConnConnecting) {
        c->state = kConnConnected;
      } else {
        vsock_reset(dev, c);
      }
      break;
    case kVsockOpRw:
      receive_data(dev, c, payload, h->len);
      break;
    case kVsockOpCreditRequest:
      send_control(dev, c, NULL, kVsockOpCreditUpdate, 0);
      break;
    case kVsockOpShutdown:
      c->peer_shutdown |= h->flags & (kVsockShutdownRcv | kVsockShutdownSend);
      close_if_done(dev, c);
      break;
    case kVsockOpRst:
      c->reset = true;
      c->state = kConnClosed;
      break;
    case kVsockOpCreditUpdate:
      break;
    default:  // REQUEST on a live connection, or an unknown op
      dev->protocol_errors++;
      vsock_reset(dev, c);
      break;
  }
}

static void handle_event(struct vsock_device* dev, uint32_t id) {
  if (id != kEventTransportReset) {
    return;
  }
  // §5.10.6.6: every connection is gone and the guest CID may have changed.
  dev->transport_resets++;
  for (uint32_t i = 0; i < kVsockMaxConnections; ++i) {
    if (dev->conns[i].state != kConnFree) {
      dev->conns[i].state = kConnClosed;
      dev->conns[i].reset = true;
    }
  }
  dev->guest_cid = virtio_config_read64(&dev->mmio, kConfigGuestCid);
  guest_printf("CVMMTEST vsock transport-reset cid=%lu\n", dev->guest_cid);
}

void vsock_poll(struct vsock_device* dev) {
  reclaim_tx(dev);
  void* token;
  uint32_t written;
  bool reposted = false;
  while (virtq_get_used(&dev->rx, &token, &written)) {
    struct packet_buffer* b = token;
    if (b == NULL) {
      continue;
    }
    const struct vsock_hdr* h = header_of(b);
    if (written < sizeof(*h) || h->len > written - sizeof(*h) || h->len > kVsockMaxPayload) {
      guest_printf("cvmm-guest: vsock: rx packet of %u bytes with len %u is malformed\n",
                   written, written >= sizeof(*h) ? h->len : 0);
      dev->protocol_errors++;
    } else {
      handle_packet(dev, h, payload_of(b));
    }
    post_rx(dev, b);
    reposted = true;
  }
  while (virtq_get_used(&dev->event, &token, &written)) {
    if (token != NULL) {
      handle_event(dev, *(uint32_t*)token);
      post_event(dev, token);
      virtq_kick(&dev->event);
    }
  }
  if (reposted) {
    virtq_kick(&dev->rx);
  }
  vsock_kick(dev);
  // InterruptStatus is not acknowledged here: interrupts stay disabled, and one MMIO exit
  // per poll would slow the 1 GiB transfer.
}
