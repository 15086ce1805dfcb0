// SPDX-License-Identifier: Apache-2.0
#include "devices/serial/uart_16550.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::serial {
namespace {

using testing::bytes_of;
using testing::RecordingInterruptLine;
using testing::RecordingSerialOutput;

// Register offsets and bits, spelled out from the PC16550D data sheet so the test does not
// reuse the model's own constants.
constexpr uint64_t kRbr = 0, kThr = 0, kDll = 0, kIer = 1, kDlm = 1, kIir = 2, kFcr = 2;
constexpr uint64_t kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

class UartTest : public ::testing::Test {
 protected:
  uint8_t in(uint64_t reg) { return uart_.read_register(reg); }
  void out(uint64_t reg, uint8_t value) { uart_.write_register(reg, value); }

  RecordingInterruptLine line_;
  RecordingSerialOutput output_;
  Uart16550 uart_{line_, output_};
};

TEST_F(UartTest, ResetStateMatchesIdle16550) {
  EXPECT_EQ(in(kIer), 0x00);
  EXPECT_EQ(in(kIir), 0x01);  // no interrupt, FIFOs off
  EXPECT_EQ(in(kLcr), 0x00);
  EXPECT_EQ(in(kMcr), 0x00);
  EXPECT_EQ(in(kLsr), 0x60);  // THRE | TEMT
  EXPECT_EQ(in(kMsr), 0xb0);  // DCD | DSR | CTS, no deltas
  EXPECT_EQ(in(kScr), 0x00);
  EXPECT_TRUE(line_.events.empty());
}

TEST_F(UartTest, DlabSelectsDivisorLatch) {
  out(kIer, 0x05);
  out(kLcr, 0x83);  // DLAB | 8 data bits
  out(kDll, 0x01);
  out(kDlm, 0x02);
  EXPECT_EQ(in(kDll), 0x01);
  EXPECT_EQ(in(kDlm), 0x02);
  EXPECT_TRUE(output_.text.empty());  // the DLL write did not transmit
  out(kLcr, 0x03);
  EXPECT_EQ(in(kIer), 0x05);  // IER untouched by the DLM write
  EXPECT_EQ(in(kLcr), 0x03);
  out(kLcr, 0x80);
  EXPECT_EQ(in(kDll), 0x01);
  EXPECT_EQ(in(kDlm), 0x02);
}

TEST_F(UartTest, TransmitGoesToOutputAndThrStaysEmpty) {
  for (char c : std::string_view("hi\n")) {
    out(kThr, static_cast<uint8_t>(c));
    EXPECT_EQ(in(kLsr) & 0x60, 0x60);
  }
  EXPECT_EQ(output_.text, "hi\n");
}

TEST_F(UartTest, ScratchAndIerHoldWrittenValues) {
  out(kScr, 0xa5);
  EXPECT_EQ(in(kScr), 0xa5);
  out(kIer, 0xff);
  EXPECT_EQ(in(kIer), 0x0f);  // IER bits 7:4 are not implemented on a 16550A
  out(kMcr, 0xff);
  EXPECT_EQ(in(kMcr), 0x1f);
}

TEST_F(UartTest, ReceivedBytesSetDataReadyUntilRead) {
  EXPECT_EQ(uart_.feed_input(bytes_of("ab")), 2u);
  EXPECT_EQ(in(kLsr), 0x61);
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_EQ(in(kLsr), 0x61);
  EXPECT_EQ(in(kRbr), 'b');
  EXPECT_EQ(in(kLsr), 0x60);
  EXPECT_EQ(in(kRbr), 0x00);  // empty RBR
}

TEST_F(UartTest, HostQueueIsBoundedAndRefillsTheFifo) {
  std::vector<std::byte> lots(Uart16550::kInputQueueCapacity + 100, std::byte{'x'});
  EXPECT_EQ(uart_.feed_input(lots), Uart16550::kInputQueueCapacity);
  // FIFOs are off: one byte sits in RBR, the rest waits in the host queue.
  EXPECT_EQ(uart_.input_room(), 1u);
  std::size_t received = 0;
  while ((in(kLsr) & 0x01) != 0) {
    EXPECT_EQ(in(kRbr), 'x');
    ++received;
  }
  EXPECT_EQ(received, Uart16550::kInputQueueCapacity);
  EXPECT_EQ(uart_.input_room(), Uart16550::kInputQueueCapacity);
}

TEST_F(UartTest, RoomNotifierFiresOnceWhenAFullQueueIsHalfDrained) {
  int notified = 0;
  uart_.set_input_room_notifier([&notified] { ++notified; });
  std::vector<std::byte> lots(Uart16550::kInputQueueCapacity + 10, std::byte{'y'});
  ASSERT_EQ(uart_.feed_input(lots), Uart16550::kInputQueueCapacity);
  // RBR holds one byte (FIFOs off); drain until the host queue is at half capacity.
  const std::size_t half = Uart16550::kInputQueueCapacity / 2;
  while (uart_.input_room() < half) {
    EXPECT_EQ(notified, 0);
    in(kRbr);
  }
  EXPECT_EQ(notified, 1);
  in(kRbr);
  EXPECT_EQ(notified, 1);
  // A feed that fits does not arm the notifier again.
  ASSERT_EQ(uart_.feed_input(bytes_of("z")), 1u);
  while ((in(kLsr) & 0x01) != 0) {
    in(kRbr);
  }
  EXPECT_EQ(notified, 1);
}

TEST_F(UartTest, IirReportsSourcesInPriorityOrder) {
  // Loopback with FIFOs off: the second character overruns the one-byte RBR.
  out(kMcr, 0x10);
  out(kThr, 'A');
  out(kThr, 'B');
  out(kIer, 0x0f);
  EXPECT_EQ(in(kIir), 0x06);  // receiver line status (overrun)
  EXPECT_EQ(in(kLsr), 0x63);  // DR | OE | THRE | TEMT; reading clears OE
  EXPECT_EQ(in(kIir), 0x04);  // received data available
  EXPECT_EQ(in(kRbr), 'A');
  EXPECT_EQ(in(kIir), 0x02);  // THRE; reading IIR clears it
  // Entering loopback dropped CTS, DSR and DCD: modem status deltas 0x0b.
  EXPECT_EQ(in(kIir), 0x00);
  EXPECT_EQ(in(kMsr), 0x0b);
  EXPECT_EQ(in(kIir), 0x01);
}

TEST_F(UartTest, FifoModeReportsTimeoutBelowTriggerAndDataAtTrigger) {
  out(kFcr, 0xc7);  // enable + clear both, trigger level 14
  out(kIer, 0x01);
  EXPECT_EQ(in(kIir), 0xc1);
  EXPECT_EQ(uart_.feed_input(bytes_of("abc")), 3u);
  EXPECT_EQ(in(kIir), 0xcc);  // character timeout
  EXPECT_EQ(uart_.feed_input(bytes_of("defghijklmn")), 11u);
  EXPECT_EQ(in(kIir), 0xc4);  // 14 bytes: trigger level reached
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_EQ(in(kIir), 0xcc);
}

TEST_F(UartTest, DisablingFifoClearsReceiveFifo) {
  out(kFcr, 0x01);
  ASSERT_EQ(uart_.feed_input(bytes_of("xyz")), 3u);
  out(kFcr, 0x00);
  // The three bytes had all moved into the FIFO, so nothing is left.
  EXPECT_EQ(in(kLsr) & 0x01, 0x00);
}

TEST_F(UartTest, InterruptLineNeedsOut2AndFollowsPendingState) {
  out(kIer, 0x02);              // THRE pending at once...
  EXPECT_TRUE(line_.events.empty());  // ...but OUT2 is low: the PC gates IRQ with it
  out(kMcr, 0x08);
  EXPECT_EQ(line_.events, (std::vector<std::string>{"1"}));
  EXPECT_EQ(in(kIir), 0x02);    // reading IIR acknowledges THRE
  EXPECT_EQ(line_.events, (std::vector<std::string>{"1", "0"}));
  out(kThr, 'x');               // THR empties at once: THRE pending again
  EXPECT_EQ(line_.events, (std::vector<std::string>{"1", "0", "1"}));
  out(kIer, 0x00);
  EXPECT_EQ(line_.events, (std::vector<std::string>{"1", "0", "1", "0"}));
  EXPECT_FALSE(uart_.interrupt_asserted());
}

TEST_F(UartTest, ReceiveInterruptRaisedByInputAndDroppedByRead) {
  out(kMcr, 0x0b);  // DTR | RTS | OUT2
  out(kIer, 0x01);
  EXPECT_TRUE(line_.events.empty());
  ASSERT_EQ(uart_.feed_input(bytes_of("q")), 1u);
  EXPECT_EQ(line_.events, (std::vector<std::string>{"1"}));
  EXPECT_EQ(in(kRbr), 'q');
  EXPECT_EQ(line_.events, (std::vector<std::string>{"1", "0"}));
}

TEST_F(UartTest, LoopbackEchoesAndKeepsTheLineQuiet) {
  out(kMcr, 0x1b);  // LOOP | OUT2 | RTS | DTR
  out(kIer, 0x03);
  out(kThr, 'z');
  EXPECT_EQ(in(kRbr), 'z');
  EXPECT_TRUE(output_.text.empty());
  EXPECT_TRUE(line_.events.empty());  // loopback disconnects the interrupt output
  EXPECT_EQ(in(kMsr) & 0xf0, 0xb0);     // DTR->DSR, RTS->CTS, OUT2->DCD
}

TEST_F(UartTest, LoopbackReceiveFifoHoldsSixteenBytes) {
  out(kFcr, 0x07);
  out(kMcr, 0x10);
  for (int i = 0; i < 256; ++i) {
    out(kThr, static_cast<uint8_t>(i));
  }
  int count = 0;
  while ((in(kLsr) & 0x01) != 0 && count < 256) {
    EXPECT_EQ(in(kRbr), count);
    ++count;
  }
  EXPECT_EQ(count, 16);
}

TEST_F(UartTest, HostInputWaitsWhileInLoopback) {
  out(kMcr, 0x10);
  ASSERT_EQ(uart_.feed_input(bytes_of("k")), 1u);
  EXPECT_EQ(in(kLsr) & 0x01, 0x00);
  out(kMcr, 0x00);
  EXPECT_EQ(in(kLsr) & 0x01, 0x01);
  EXPECT_EQ(in(kRbr), 'k');
}

TEST_F(UartTest, MultiByteAccessTouchesConsecutiveRegisters) {
  out(kMcr, 0x03);
  std::byte data[2] = {};
  uart_.read(kMcr, data);
  EXPECT_EQ(data[0], std::byte{0x03});  // MCR
  EXPECT_EQ(data[1], std::byte{0x60});  // LSR
}

TEST_F(UartTest, ModemStatusDeltasInLoopback) {
  out(kMcr, 0x10);
  EXPECT_EQ(in(kMsr), 0x0b);  // CTS, DSR, DCD dropped on entering loopback
  out(kMcr, 0x14);            // OUT1 -> RI rises: no delta (TERI is the trailing edge)
  EXPECT_EQ(in(kMsr), 0x40);
  out(kMcr, 0x10);            // RI falls: TERI
  EXPECT_EQ(in(kMsr), 0x04);
  out(kMcr, 0x11);            // DTR -> DSR: DDSR
  EXPECT_EQ(in(kMsr), 0x22);
  EXPECT_EQ(in(kMsr), 0x20);
}

}  // namespace
}  // namespace cvm::devices::serial
