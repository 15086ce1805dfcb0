// SPDX-License-Identifier: Apache-2.0
// Replays the register sequences of Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c:
// autoconfig(), autoconfig_16550a(), size_fifo(), serial8250_do_startup()) against the model
// and applies the driver's decisions, so a regression that would make Linux mis-detect the
// port (or fall back to its THRE/TXEN bug workarounds) fails here. The sequences are written
// from the driver's documented behaviour; nothing is copied.
#include <gtest/gtest.h>

#include <string>

#include "devices/ioapic/ioapic.h"
#include "devices/serial/uart_16550.h"
#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::serial {
namespace {

using testing::RecordingInterruptLine;
using testing::RecordingMsiSink;
using testing::RecordingSerialOutput;

constexpr uint64_t kRx = 0, kTx = 0, kIer = 1, kIir = 2, kFcr = 2, kEfr = 2, kLcr = 3;
constexpr uint64_t kMcr = 4, kLsr = 5, kMsr = 6;
constexpr uint8_t kLcrConfModeA = 0x80, kLcrConfModeB = 0xbf;
constexpr uint8_t kFcrEnable = 0x01, kFcr64Byte = 0x20, kMcrLoop = 0x10, kIerUue = 0x40;

/// A driver-side view of a port: Linux's serial_in/serial_out on top of the model.
class Driver {
 public:
  explicit Driver(Uart16550& uart) : uart_(uart) {}
  uint8_t in(uint64_t reg) { return uart_.read_register(reg); }
  void out(uint64_t reg, uint8_t value) { uart_.write_register(reg, value); }

  /// size_fifo(): counts the bytes a loopback burst of 256 leaves in the receive FIFO.
  int size_fifo() {
    const uint8_t old_lcr = in(kLcr);
    out(kLcr, 0);
    const uint8_t old_fcr = in(kFcr);  // reads IIR, as the driver does
    const uint8_t old_mcr = in(kMcr);
    out(kFcr, kFcrEnable | 0x02 | 0x04);
    out(kMcr, kMcrLoop);
    out(kLcr, kLcrConfModeA);
    const uint16_t old_dl = static_cast<uint16_t>(in(0) | (in(1) << 8));
    out(0, 1);
    out(1, 0);
    out(kLcr, 0x03);
    for (int i = 0; i < 256; ++i) {
      out(kTx, static_cast<uint8_t>(i));
    }
    int count = 0;
    for (; (in(kLsr) & 0x01) != 0 && count < 256; ++count) {
      in(kRx);
    }
    out(kFcr, old_fcr);
    out(kMcr, old_mcr);
    out(kLcr, kLcrConfModeA);
    out(0, static_cast<uint8_t>(old_dl));
    out(1, static_cast<uint8_t>(old_dl >> 8));
    out(kLcr, old_lcr);
    return count;
  }

  /// autoconfig_16550a() for a port without UPF_EXAR_EFR; returns the detected type.
  std::string autoconfig_16550a() {
    out(kLcr, kLcrConfModeA);
    if (in(kEfr) == 0) {
      return "ST16650 or FSL64";  // EFRv1 / Motorola paths: wrong for us
    }
    out(kLcr, kLcrConfModeB);
    if (in(kEfr) == 0) {
      return "EFRv2";
    }
    // National Semiconductor SuperIO: EXCR1 (LCR=0xE0, offset 2) mirrors MCR.LOOP?
    out(kLcr, 0);
    const uint8_t mcr = in(kMcr);
    out(kLcr, 0xe0);
    uint8_t excr1 = in(0x02);
    if (((excr1 ^ mcr) & kMcrLoop) == 0) {
      out(kLcr, 0);
      out(kMcr, mcr ^ kMcrLoop);
      out(kLcr, 0xe0);
      excr1 = in(0x02);
      out(kLcr, 0);
      out(kMcr, mcr);
      if (((excr1 ^ mcr) & kMcrLoop) != 0) {
        return "NS16550A";
      }
    }
    // TI16750: IIR bit 5 with the 64-byte FIFO bit, only under DLAB.
    out(kLcr, 0);
    out(kFcr, kFcrEnable | kFcr64Byte);
    const int status1 = in(kIir) >> 5;
    out(kFcr, kFcrEnable);
    out(kLcr, kLcrConfModeA);
    out(kFcr, kFcrEnable | kFcr64Byte);
    const int status2 = in(kIir) >> 5;
    out(kFcr, kFcrEnable);
    out(kLcr, 0);
    if (status1 == 6 && status2 == 7) {
      return "TI16750";
    }
    // XScale: IER bit 6 (UUE) writable?
    const uint8_t iersave = in(kIer);
    out(kIer, iersave & ~kIerUue);
    if ((in(kIer) & kIerUue) == 0) {
      out(kIer, iersave | kIerUue);
      if ((in(kIer) & kIerUue) != 0) {
        return "XScale";
      }
    }
    out(kIer, iersave);
    if (size_fifo() == 64) {
      return "U6_16550A";
    }
    return "16550A";
  }

  /// autoconfig() without UPF_SKIP_TEST (so the loopback test runs) and without
  /// UPF_BUGGY_UART; returns the detected type or the failed test.
  std::string autoconfig() {
    const uint8_t scratch = in(kIer);
    out(kIer, 0);
    const uint8_t scratch2 = in(kIer) & 0x0f;
    out(kIer, 0x0f);
    const uint8_t scratch3 = in(kIer) & 0x0f;
    out(kIer, scratch);
    if (scratch2 != 0 || scratch3 != 0x0f) {
      return "IER test failed";
    }
    const uint8_t save_mcr = in(kMcr);
    const uint8_t save_lcr = in(kLcr);
    out(kMcr, kMcrLoop | 0x0a);
    const uint8_t status1 = in(kMsr) & 0xf0;
    out(kMcr, save_mcr);
    if (status1 != 0x90) {
      return "LOOP test failed";
    }
    out(kLcr, kLcrConfModeB);
    out(kEfr, 0);
    out(kLcr, 0);
    out(kFcr, kFcrEnable);
    std::string type;
    switch (in(kIir) >> 6) {
      case 0:
        type = "8250/16450";
        break;
      case 1:
        type = "unknown";
        break;
      case 2:
        type = "16550";
        break;
      default:
        type = autoconfig_16550a();
        break;
    }
    out(kLcr, save_lcr);
    // Reset the UART as the driver does after detection.
    out(kMcr, save_mcr);
    out(kFcr, kFcrEnable);
    out(kFcr, kFcrEnable | 0x02 | 0x04);
    out(kFcr, 0);
    in(kRx);
    out(kIer, 0);
    return type;
  }

  /// The two interrupt tests of serial8250_do_startup(); returns the bugs Linux would flag.
  std::string startup_bugs() {
    out(kFcr, kFcrEnable);
    out(kFcr, kFcrEnable | 0x02 | 0x04);
    out(kFcr, 0);
    in(kLsr);
    in(kRx);
    in(kIir);
    in(kMsr);
    if (in(kLsr) == 0xff) {
      return "LSR safety check";
    }
    std::string bugs;
    // UART_BUG_THRE: THRE must be re-asserted each time ETBEI is enabled while idle.
    while ((in(kLsr) & 0x20) == 0) {
    }
    out(kIer, 0x02);
    const uint8_t iir1 = in(kIir);
    out(kIer, 0);
    out(kIer, 0x02);
    const uint8_t iir = in(kIir);
    out(kIer, 0);
    if ((iir1 & 0x01) == 0 && (iir & 0x01) != 0) {
      bugs += "THRE ";
    }
    out(kLcr, 0x03);
    out(kMcr, 0x0b);  // DTR | RTS | OUT2 (the port has an IRQ)
    // UART_BUG_TXEN: enabling ETBEI must show a THRE interrupt in IIR.
    out(kIer, 0x02);
    const uint8_t lsr = in(kLsr);
    const uint8_t iir2 = in(kIir);
    out(kIer, 0);
    if ((lsr & 0x40) != 0 && (iir2 & 0x01) != 0) {
      bugs += "TXEN ";
    }
    in(kLsr);
    in(kRx);
    in(kIir);
    in(kMsr);
    return bugs;
  }

 private:
  Uart16550& uart_;
};

TEST(UartLinuxProbeTest, AutoconfigDetects16550A) {
  RecordingInterruptLine line;
  RecordingSerialOutput output;
  Uart16550 uart(line, output);
  Driver driver(uart);
  EXPECT_EQ(driver.autoconfig(), "16550A");
  EXPECT_EQ(driver.size_fifo(), 16);
  EXPECT_TRUE(output.text.empty());  // loopback traffic never reaches the host
}

TEST(UartLinuxProbeTest, StartupFlagsNoBugs) {
  RecordingInterruptLine line;
  RecordingSerialOutput output;
  Uart16550 uart(line, output);
  Driver driver(uart);
  ASSERT_EQ(driver.autoconfig(), "16550A");
  EXPECT_EQ(driver.startup_bugs(), "");
}

TEST(UartLinuxProbeTest, ProbeLeavesPortIdleAndQuiet) {
  RecordingInterruptLine line;
  RecordingSerialOutput output;
  Uart16550 uart(line, output);
  Driver driver(uart);
  ASSERT_EQ(driver.autoconfig(), "16550A");
  // OUT2 stayed low throughout autoconfig: no interrupt reached the interrupt controller.
  EXPECT_TRUE(line.events.empty());
  EXPECT_EQ(driver.in(kIer), 0x00);
  EXPECT_EQ(driver.in(kLcr), 0x00);
  EXPECT_EQ(driver.in(kIir), 0x01);
  EXPECT_EQ(driver.in(kLsr), 0x60);
}

/// The driver's interrupt-driven transmit over an edge-triggered IOAPIC pin: every refill of
/// THR after the ISR read IIR must produce a fresh edge, i.e. a fresh MSI.
TEST(UartLinuxProbeTest, InterruptDrivenTransmitProducesAnMsiPerRefill) {
  RecordingMsiSink msis;
  ioapic::Ioapic ioapic(msis);
  ioapic::IoapicPin pin4(ioapic, kCom1Irq);
  RecordingSerialOutput output;
  Uart16550 uart(pin4, output);
  Driver driver(uart);
  ioapic.write_register(0x10 + 2 * kCom1Irq + 1, 0);     // destination APIC 0
  ioapic.write_register(0x10 + 2 * kCom1Irq, 0x24);      // edge, fixed, vector 0x24, unmasked

  driver.out(kLcr, 0x03);
  driver.out(kMcr, 0x0b);
  driver.out(kFcr, 0xc7);
  driver.out(kIer, 0x02);  // start_tx: THRE interrupt
  ASSERT_EQ(msis.messages.size(), 1u);
  EXPECT_EQ(msis.messages[0].data, 0x24u);

  const std::string text = "0123456789abcdef0123";  // 20 bytes: two ISR rounds of <= 16
  std::size_t sent = 0;
  for (int round = 0; round < 4 && sent < text.size(); ++round) {
    ASSERT_EQ(driver.in(kIir), 0xc2);  // ISR: THRE
    for (int i = 0; i < 16 && sent < text.size(); ++i) {
      driver.out(kTx, static_cast<uint8_t>(text[sent++]));
    }
  }
  EXPECT_EQ(driver.in(kIir), 0xc2);
  driver.out(kIer, 0x00);  // stop_tx
  EXPECT_EQ(output.text, text);
  EXPECT_EQ(msis.messages.size(), 3u);  // initial enable + one edge per refill round
}

}  // namespace
}  // namespace cvm::devices::serial
