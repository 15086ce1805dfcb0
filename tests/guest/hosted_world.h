// SPDX-License-Identifier: Apache-2.0
// The hosted guest (CVMM_GUEST_HOSTED): the test guest's drivers and programs compiled for the
// host, their port and MMIO accesses routed to device models registered here. No KVM and no
// VM: the "guest" is this process, and guest-physical addresses are this process's addresses
// (the driver's static buffers in .data/.bss).
#pragma once

#include <cstdint>
#include <string>

#include "base/guest_memory_view.h"
#include "devices/bus.h"
#include "devices/interrupt.h"
#include "tests/guest/guest_harness.h"

namespace cvm::test::guest {

/// Guest-physical address == host address, limited to this executable's .data and .bss.
class HostDataMemory final : public GuestMemoryView {
 public:
  Result<void> read(uint64_t gpa, std::span<std::byte> out) const override;
  Result<void> write(uint64_t gpa, std::span<const std::byte> data) override;
  bool contains(uint64_t gpa, uint64_t length) const override;
  Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                  std::span<iovec> out) override;
};

class NullLine final : public devices::InterruptLine {
 public:
  void trigger() override {}
  void set_level(bool) override {}
};

/// Virtio-mmio slot n of the hosted world (as cvmm: 0xd0000000 + n * 4 KiB, IRQ 5 + n).
inline constexpr uint64_t kHostedSlotBase = 0xd0000000;
inline constexpr uint64_t kHostedSlotSize = 0x1000;

/// Registers `device` (typically an MmioTransport) at slot `index` for the next run.
void hosted_attach(uint32_t index, devices::BusDevice& device);

/// Registers `device` at I/O ports [base, base + count) for the next run (port offsets are
/// passed to the device relative to `base`, as the machine's bus does).
void hosted_attach_port(uint16_t base, uint16_t count, devices::BusDevice& device);

/// Resets the guest's static state, runs `program_args` plus one virtio_mmio.device= per
/// attached slot, detaches every device and returns the guest's report.
GuestReport hosted_run(const std::string& program_args);

}  // namespace cvm::test::guest
