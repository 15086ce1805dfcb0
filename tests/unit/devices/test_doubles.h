// SPDX-License-Identifier: Apache-2.0
// Recording test doubles for the device-model interfaces (interrupt lines, MSI sink, power
// requests, serial output) and byte-span helpers. Test-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/byte_reader.h"
#include "devices/bus.h"
#include "devices/interrupt.h"
#include "devices/power_request.h"
#include "devices/serial/serial_output.h"

namespace cvm::devices::testing {

/// Records every set_level/trigger call in order ("1", "0", "T").
class RecordingInterruptLine final : public InterruptLine {
 public:
  void trigger() override { events.push_back("T"); }
  void set_level(bool asserted) override {
    level = asserted;
    events.push_back(asserted ? "1" : "0");
  }
  bool level = false;
  std::vector<std::string> events;
};

class RecordingMsiSink final : public MsiSink {
 public:
  void deliver(const MsiMessage& message) override { messages.push_back(message); }
  std::vector<MsiMessage> messages;
};

class RecordingPowerSink final : public PowerRequestSink {
 public:
  void request(PowerRequest request) override { requests.push_back(request); }
  std::vector<PowerRequest> requests;
};

class RecordingSerialOutput final : public serial::SerialOutput {
 public:
  void write(std::span<const std::byte> bytes) override {
    for (std::byte b : bytes) {
      text.push_back(static_cast<char>(b));
    }
  }
  std::string text;
};

/// Reads `size` bytes (1..8) at `offset` of `device`, little-endian.
inline uint64_t read_le(BusDevice& device, uint64_t offset, std::size_t size) {
  std::byte buffer[8] = {};
  device.read(offset, std::span<std::byte>(buffer, size));
  uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) {
    value |= static_cast<uint64_t>(buffer[i]) << (8 * i);
  }
  return value;
}

/// Writes the low `size` bytes (1..8) of `value` at `offset` of `device`, little-endian.
inline void write_le(BusDevice& device, uint64_t offset, uint64_t value, std::size_t size) {
  std::byte buffer[8] = {};
  for (std::size_t i = 0; i < size; ++i) {
    buffer[i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
  }
  device.write(offset, std::span<const std::byte>(buffer, size));
}

inline std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> out;
  for (char c : text) {
    out.push_back(static_cast<std::byte>(c));
  }
  return out;
}

}  // namespace cvm::devices::testing
