// SPDX-License-Identifier: Apache-2.0
// Fuzzes guest register-access sequences against the UART (wired to IOAPIC pin 4), the
// IOAPIC, the i8042 and the ACPI power device, plus host input and EOIs. Each input is a
// sequence of 4-byte operations: [target/op] [offset] [value] [size]. Checks the invariants a
// guest must never be able to break.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "devices/acpi/power_device.h"
#include "devices/ioapic/ioapic.h"
#include "devices/legacy/i8042.h"
#include "devices/serial/uart_16550.h"

namespace {

namespace d = cvm::devices;

class CheckingMsiSink final : public d::MsiSink {
 public:
  void deliver(const d::MsiMessage& message) override {
    // Every IOAPIC message targets the local APIC window.
    if ((message.address_lo() & 0xfff00000u) != 0xfee00000u) {
      __builtin_trap();
    }
  }
};

class NullPowerSink final : public d::PowerRequestSink {
 public:
  void request(d::PowerRequest /*request*/) override {}
};

void check_uart(d::serial::Uart16550& uart) {
  // THRE/TEMT always set (instant transmission); IIR bits 5:4 never set (not a 16750).
  const uint8_t lsr = uart.read_register(5);
  if ((lsr & 0x60) != 0x60) {
    __builtin_trap();
  }
  if ((uart.read_register(2) & 0x30) != 0) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckingMsiSink msis;
  d::ioapic::Ioapic ioapic(msis);
  d::ioapic::IoapicPin pin4(ioapic, 4);
  d::serial::DiscardSerialOutput output;
  d::serial::Uart16550 uart(pin4, output);
  NullPowerSink power;
  d::legacy::I8042 i8042(power);
  d::acpi::PowerDevice acpi(power);

  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint8_t op = data[i];
    const uint8_t offset = data[i + 1];
    const uint8_t value = data[i + 2];
    const size_t width = 1u + (data[i + 3] & 7u);
    std::byte buffer[8];
    for (auto& b : buffer) {
      b = std::byte{value};
    }
    const std::span<std::byte> access(buffer, width);
    const size_t uart_offset = offset % 8;
    const std::span<std::byte> uart_access = access.first(std::min<size_t>(width, 8 - uart_offset));
    switch (op % 10) {
      case 0:
        uart.write(uart_offset, uart_access);
        break;
      case 1:
        uart.read(uart_offset, uart_access);
        break;
      case 2:
        ioapic.write(offset % 0x48, access);
        break;
      case 3:
        ioapic.read(offset % 0x48, access);
        break;
      case 4:
        ioapic.set_irq(offset % 26, (value & 1) != 0);
        break;
      case 5:
        ioapic.on_eoi(value);
        break;
      case 6:
        (void)uart.feed_input(access);
        break;
      case 7:
        i8042.write(offset % 5, access.first(1));
        break;
      case 8:
        acpi.write(offset % 3, access.first(1));
        break;
      default:
        ioapic.write_register(offset, static_cast<uint32_t>(value) * 0x01010101u);
        break;
    }
  }
  check_uart(uart);
  if (ioapic.read_register(1) != 0x00170020u) {
    __builtin_trap();
  }
  return 0;
}
