// SPDX-License-Identifier: Apache-2.0
#include "tests/guest/hosted_world.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <map>
#include <mutex>

#include "base/byte_reader.h"

extern "C" {
bool guest_run(const char* cmdline);
void crc32_init(void);
void clock_init(void);
void virtq_pool_reset(void);
void hosted_port_write(uint16_t port, uint8_t value);
void hosted_port_write_wide(uint16_t port, uint32_t value, unsigned size);
uint8_t hosted_port_read(uint16_t port);
uint32_t hosted_mmio_read(uintptr_t address, unsigned size);
void hosted_mmio_write(uintptr_t address, uint32_t value, unsigned size);
// GNU ld / glibc symbols bounding this executable's .data and .bss.
extern char __data_start[];
extern char _end[];
}

namespace cvm::test::guest {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kCom1LineStatus = 0x3fd;
constexpr uint8_t kLineStatusThrEmpty = 0x20;

struct HostedWorld {
  std::mutex mutex;
  std::string console;
  std::map<uint64_t, devices::BusDevice*> windows;  // base -> device
  struct PortRange {
    uint16_t count = 0;
    devices::BusDevice* device = nullptr;
  };
  std::map<uint16_t, PortRange> ports;  // base -> device
};
HostedWorld world;

devices::BusDevice* window_at(uintptr_t address, uint64_t& offset) {
  const std::lock_guard lock(world.mutex);
  auto it = world.windows.upper_bound(address);
  if (it == world.windows.begin()) {
    return nullptr;
  }
  --it;
  offset = address - it->first;
  return offset < kHostedSlotSize ? it->second : nullptr;
}

/// The device whose port range holds [port, port + size), and the offset of `port` in it.
devices::BusDevice* port_device(uint16_t port, unsigned size, uint64_t& offset) {
  const std::lock_guard lock(world.mutex);
  auto it = world.ports.upper_bound(port);
  if (it == world.ports.begin()) {
    return nullptr;
  }
  --it;
  offset = port - it->first;
  return offset + size <= it->second.count ? it->second.device : nullptr;
}

}  // namespace

Result<void> HostDataMemory::read(uint64_t gpa, std::span<std::byte> out) const {
  if (!contains(gpa, out.size())) {
    return guest_range_error(gpa, out.size());
  }
  copy_from_guest(out.data(), reinterpret_cast<const std::byte*>(gpa), out.size());
  return ok();
}

Result<void> HostDataMemory::write(uint64_t gpa, std::span<const std::byte> data) {
  if (!contains(gpa, data.size())) {
    return guest_range_error(gpa, data.size());
  }
  copy_to_guest(reinterpret_cast<std::byte*>(gpa), data.data(), data.size());
  return ok();
}

bool HostDataMemory::contains(uint64_t gpa, uint64_t length) const {
  const auto low = reinterpret_cast<uintptr_t>(__data_start);
  const auto high = reinterpret_cast<uintptr_t>(_end);
  return gpa >= low && range_within<uint64_t>(gpa - low, length, high - low);
}

Result<std::size_t> HostDataMemory::host_iovecs(uint64_t gpa, uint64_t length,
                                                std::span<iovec> out) {
  if (!contains(gpa, length)) {
    return guest_range_error(gpa, length);
  }
  if (length == 0 || out.empty()) {
    return std::size_t{0};
  }
  out[0] = iovec{.iov_base = reinterpret_cast<void*>(gpa), .iov_len = length};
  return std::size_t{1};
}

void hosted_attach(uint32_t index, devices::BusDevice& device) {
  const std::lock_guard lock(world.mutex);
  world.windows[kHostedSlotBase + index * kHostedSlotSize] = &device;
}

void hosted_attach_port(uint16_t base, uint16_t count, devices::BusDevice& device) {
  const std::lock_guard lock(world.mutex);
  world.ports[base] = HostedWorld::PortRange{count, &device};
}

GuestReport hosted_run(const std::string& program_args) {
  std::string cmdline = program_args;
  {
    const std::lock_guard lock(world.mutex);
    world.console.clear();
    for (const auto& [base, device] : world.windows) {
      cmdline += fmt::format(" virtio_mmio.device=4K@{:#x}:{}", base,
                             5 + (base - kHostedSlotBase) / kHostedSlotSize);
    }
  }
  crc32_init();
  clock_init();
  virtq_pool_reset();
  guest_run(cmdline.c_str());
  const std::lock_guard lock(world.mutex);
  world.windows.clear();
  world.ports.clear();
  return parse_report(world.console);
}

}  // namespace cvm::test::guest

using cvm::test::guest::port_device;
using cvm::test::guest::window_at;
using cvm::test::guest::world;

extern "C" void hosted_port_write_wide(uint16_t port, uint32_t value, unsigned size) {
  uint64_t offset = 0;
  if (cvm::devices::BusDevice* device = port_device(port, size, offset)) {
    std::array<std::byte, 4> bytes{};
    cvm::store_le<uint32_t>(std::span<std::byte, 4>(bytes), value);
    device->write(offset, std::span(bytes).first(size));
  }
}

extern "C" void hosted_port_write(uint16_t port, uint8_t value) {
  uint64_t offset = 0;
  if (cvm::devices::BusDevice* device = port_device(port, 1, offset)) {
    const std::byte byte{value};
    device->write(offset, std::span(&byte, 1));
    return;
  }
  if (port == cvm::test::guest::kCom1) {
    const std::lock_guard lock(world.mutex);
    world.console.push_back(static_cast<char>(value));
  }
}

extern "C" uint8_t hosted_port_read(uint16_t port) {
  uint64_t offset = 0;
  if (cvm::devices::BusDevice* device = port_device(port, 1, offset)) {
    std::byte byte{};
    device->read(offset, std::span(&byte, 1));
    return static_cast<uint8_t>(byte);
  }
  return port == cvm::test::guest::kCom1LineStatus ? cvm::test::guest::kLineStatusThrEmpty : 0xff;
}

extern "C" uint32_t hosted_mmio_read(uintptr_t address, unsigned size) {
  uint64_t offset = 0;
  cvm::devices::BusDevice* device = window_at(address, offset);
  if (device == nullptr) {
    return 0xffffffff;
  }
  std::array<std::byte, 4> bytes{};
  device->read(offset, std::span(bytes).first(size));
  return cvm::load_le<uint32_t>(std::span<const std::byte, 4>(bytes));
}

extern "C" void hosted_mmio_write(uintptr_t address, uint32_t value, unsigned size) {
  uint64_t offset = 0;
  cvm::devices::BusDevice* device = window_at(address, offset);
  if (device != nullptr) {
    std::array<std::byte, 4> bytes{};
    cvm::store_le<uint32_t>(std::span<std::byte, 4>(bytes), value);
    device->write(offset, std::span(bytes).first(size));
  }
}
