// SPDX-License-Identifier: Apache-2.0
// virtio-vsock driver (virtio 1.2 §5.10), stream sockets only, polled. Queues: 0 rx, 1 tx,
// 2 event. Each packet is one descriptor: the 44-byte header followed by its payload
// (VERSION_1 devices accept any framing, §2.6.4). Credit accounting follows §5.10.6.3:
// every packet carries our buf_alloc and fwd_cnt; we send at most
// peer_buf_alloc - (tx_cnt - peer_fwd_cnt) payload bytes.
#ifndef CVMM_GUEST_VSOCK_H
#define CVMM_GUEST_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

// §5.10.6 struct virtio_vsock_hdr (little-endian, packed): src_cid u64 @0, dst_cid u64 @8,
// src_port u32 @16, dst_port u32 @20, len u32 @24, type u16 @28, op u16 @30, flags u32 @32,
// buf_alloc u32 @36, fwd_cnt u32 @40.
struct __attribute__((packed)) vsock_hdr {
  uint64_t src_cid;
  uint64_t dst_cid;
  uint32_t src_port;
  uint32_t dst_port;
  uint32_t len;
  uint16_t type;
  uint16_t op;
  uint32_t flags;
  uint32_t buf_alloc;
  uint32_t fwd_cnt;
};
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

// §5.10.6 operations, socket type, shutdown flags; well-known CIDs (§5.10.4).
enum {
  kVsockOpRequest = 1,
  kVsockOpResponse = 2,
  kVsockOpRst = 3,
  kVsockOpShutdown = 4,
  kVsockOpRw = 5,
  kVsockOpCreditUpdate = 6,
  kVsockOpCreditRequest = 7,
  kVsockTypeStream = 1,
  kVsockShutdownRcv = 1,
  kVsockShutdownSend = 2,
  kVsockHostCid = 2,
};

enum {
  kVsockMaxPayload = 4096,    // per packet, both directions (Linux's default rx buffer size)
  kVsockMaxConnections = 80,
  kVsockRxBuffers = 64,
  kVsockTxSlots = 128,
};

enum vsock_state {
  kConnFree = 0,
  kConnConnecting,  // REQUEST sent
  kConnConnected,
  kConnShutdown,    // we sent SHUTDOWN(RCV|SEND); closed when the peer resets or shuts down
  kConnClosed,      // finished (see `reset` for how)
};

struct vsock_conn {
  enum vsock_state state;
  uint64_t peer_cid;
  uint32_t local_port;
  uint32_t peer_port;
  uint32_t buf_alloc;       // our receive buffer, advertised in every packet
  uint32_t fwd_cnt;         // bytes the application consumed (§5.10.6.3)
  uint32_t fwd_cnt_sent;    // fwd_cnt as last told to the peer
  uint32_t tx_cnt;          // payload bytes sent
  uint32_t peer_buf_alloc;
  uint32_t peer_fwd_cnt;
  uint32_t peer_shutdown;   // SHUTDOWN flags received
  bool reset;               // the peer sent RST
  bool credit_requested;    // CREDIT_REQUEST sent, no credit information since
  uint32_t rx_pending;      // bytes received and not yet consumed (bounded by buf_alloc)
  uint64_t rx_bytes;
  uint64_t tx_bytes;
  uint32_t rx_crc;
  uint32_t tx_crc;
  void* app;                // per-connection application state
};

struct vsock_device;
/// Called for every RW payload; the application must call vsock_consumed for the bytes once
/// it no longer holds them (at once, or when an echo buffer drains).
typedef void (*vsock_data_fn)(struct vsock_device* dev, struct vsock_conn* conn,
                              const uint8_t* data, uint32_t len);
/// Called for an accepted REQUEST; returns false to refuse it (RST).
typedef bool (*vsock_accept_fn)(struct vsock_device* dev, struct vsock_conn* conn);

struct vsock_device {
  struct virtio_mmio_device mmio;
  struct virtq rx;
  struct virtq tx;
  struct virtq event;
  uint64_t guest_cid;
  uint32_t listen_port;  // 0: refuse every REQUEST
  uint32_t default_buf_alloc;
  uint32_t next_local_port;
  vsock_data_fn on_data;
  vsock_accept_fn on_accept;
  struct vsock_conn conns[kVsockMaxConnections];
  uint32_t protocol_errors;
  uint32_t transport_resets;
  bool tx_pending_kick;
};

/// Negotiates (VERSION_1, ACCESS_PLATFORM, F_STREAM if offered), sets up the three queues,
/// fills rx and event buffers, reads guest_cid, DRIVER_OK.
bool vsock_init(struct vsock_device* dev, const struct virtio_mmio_device* probed);

/// Reclaims sent packets, handles every received packet and event, refills buffers.
void vsock_poll(struct vsock_device* dev);

/// Sends REQUEST to (cid, port) from a new local port. NULL when the table is full.
struct vsock_conn* vsock_connect(struct vsock_device* dev, uint64_t cid, uint32_t port);

/// Bytes the peer can take now (0 when not connected).
uint32_t vsock_credit(const struct vsock_conn* conn);

/// Zero-copy send: returns the payload area of a free tx packet and its usable size
/// (min(kVsockMaxPayload, credit, limit)); NULL when there is no credit or no free packet.
uint8_t* vsock_tx_begin(struct vsock_device* dev, struct vsock_conn* conn, uint32_t limit,
                        uint32_t* usable);
/// Queues the packet from vsock_tx_begin with `len` bytes (<= usable). The device is
/// notified by vsock_kick (or the next vsock_poll).
void vsock_tx_commit(struct vsock_device* dev, struct vsock_conn* conn, uint32_t len);
void vsock_kick(struct vsock_device* dev);

/// The application has consumed `len` received bytes: advances fwd_cnt and sends a
/// CREDIT_UPDATE once a quarter of buf_alloc was consumed since the peer last heard.
void vsock_consumed(struct vsock_device* dev, struct vsock_conn* conn, uint32_t len);

/// Sends SHUTDOWN(RCV|SEND): no more data either way. The connection becomes kConnClosed
/// when the peer resets it or has shut down both directions too (then we send RST, as
/// Linux does when both sides are shut down).
void vsock_shutdown(struct vsock_device* dev, struct vsock_conn* conn);
/// Sends RST and closes.
void vsock_reset(struct vsock_device* dev, struct vsock_conn* conn);

#endif
