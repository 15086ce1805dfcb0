// SPDX-License-Identifier: Apache-2.0
// Fuzzes the fw_cfg device's guest interface (devices/fw_cfg/fw_cfg_device.h): selector and
// data ports, DMA register writes of every width and offset, and DMA access structures the
// input places in guest memory (any control bits, lengths up to 4 GiB, addresses anywhere).
// Also feeds the input to the table-loader parser. Each operation is 12 bytes:
//   op u8, width u8, offset u16 (LE), value u64 (LE)
//   op % 5: 0 port write, 1 port read, 2 place `value` at RAM offset `offset`, 3 DMA
//   register write (high/low/64-bit), 4 DMA register read.
// Invariants: the guest can never change an item (all are read-only); data reads past an
// item's end are zero; memory is only reached through the view, inside RAM.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "devices/fw_cfg/table_loader.h"

namespace {

namespace fw = cvm::devices::fw_cfg;

constexpr uint64_t kRamBase = 0x1000;
constexpr std::size_t kRamBytes = 0x10000;

/// RAM that traps if the device ever asks for a range the view would not accept and then
/// gets bytes anyway (it cannot, by construction; this keeps it so).
class CheckedMemory final : public cvm::GuestMemoryView {
 public:
  cvm::Result<void> read(uint64_t gpa, std::span<std::byte> out) const override {
    return ram.read(gpa, out);
  }
  cvm::Result<void> write(uint64_t gpa, std::span<const std::byte> data) override {
    auto result = ram.write(gpa, data);
    if (result.has_value() && !ram.contains(gpa, data.size())) {
      __builtin_trap();
    }
    return result;
  }
  bool contains(uint64_t gpa, uint64_t length) const override { return ram.contains(gpa, length); }
  cvm::Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                       std::span<iovec> out) override {
    return ram.host_iovecs(gpa, length, out);
  }
  cvm::BufferGuestMemory ram{kRamBase, kRamBytes};
};

std::vector<std::byte> pattern(std::size_t size, uint8_t seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::byte>((i * 13 + seed) & 0xff);
  }
  return bytes;
}

fw::FwCfgStore make_store() {
  fw::FwCfgStoreBuilder builder;
  (void)builder.add_file("etc/small", fw::FwCfgBytes(pattern(100, 1)));
  (void)builder.add_file("etc/large", fw::FwCfgBytes(pattern(700, 2)));
  (void)builder.add_file("opt/empty", fw::FwCfgBytes(std::vector<std::byte>{}));
  (void)builder.add_item(fw::kKeyNbCpus, fw::le16_item(2));
  auto shared = std::make_shared<const std::vector<std::byte>>(pattern(900, 3));
  (void)builder.add_item(fw::kKeySetupData, *fw::FwCfgBytes::slice(shared, 0, 300));
  (void)builder.add_item(fw::kKeyKernelData, *fw::FwCfgBytes::slice(shared, 300, 600));
  return *std::move(builder).build();
}

/// Reads item `key` through the ports and checks it against the store, plus zeros after it.
void check_item(fw::FwCfgDevice& device, uint16_t key) {
  const fw::FwCfgBytes* item = device.store().find(key);
  std::array<std::byte, 2> select{};
  cvm::store_le<uint16_t>(select, key);
  device.write(0, select);
  const std::size_t size = item ? item->size() : 0;
  for (std::size_t at = 0; at < size + 8; at += 8) {  // 8-byte data reads: string-preserving
    std::array<std::byte, 8> got{};
    got.fill(std::byte{0x5a});
    device.read(1, got);
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::byte expected = at + i < size ? item->span()[at + i] : std::byte{0};
      if (got[i] != expected) {
        __builtin_trap();
      }
    }
  }
}

void run_op(fw::FwCfgDevice& device, CheckedMemory& memory, const uint8_t* op) {
  const uint8_t kind = op[0] % 5;
  const std::size_t width = std::size_t{1} << (op[1] % 4);  // 1, 2, 4, 8
  const uint16_t offset = static_cast<uint16_t>(op[2] | (op[3] << 8));
  std::array<std::byte, 8> value{};
  for (std::size_t i = 0; i < 8; ++i) {
    value[i] = static_cast<std::byte>(op[4 + i]);
  }
  const uint64_t port = offset % fw::kFwCfgPortCount;
  const std::size_t access = std::min<std::size_t>(width, fw::kFwCfgPortCount - port);
  switch (kind) {
    case 0:
      device.write(port, std::span(value).first(access));
      break;
    case 1:
      device.read(port, std::span(value).first(access));
      break;
    case 2:
      (void)memory.ram.write(kRamBase + offset % (kRamBytes - 8), value);
      break;
    case 3:
      device.write(4 + (offset % 2) * 4, std::span(value).first(offset & 4 ? 8 : 4));
      break;
    default:
      device.read(4 + offset % 8, std::span(value).first(1));
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fw::parse_table_loader(std::as_bytes(std::span(data, size)));
  CheckedMemory memory;
  fw::FwCfgDevice device(make_store(), memory);
  for (size_t i = 0; i + 12 <= size; i += 12) {
    run_op(device, memory, data + i);
  }
  for (uint16_t key : device.store().keys()) {
    check_item(device, key);
  }
  check_item(device, 0x3fff);  // unknown: reads zero
  const auto stats = device.dma_stats();
  if (stats.errors > stats.transfers) {
    __builtin_trap();
  }
  return 0;
}
