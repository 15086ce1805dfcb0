// SPDX-License-Identifier: Apache-2.0
// Console input: the Ctrl-A escape state machine, and the console thread forwarding a pipe
// (standing in for the terminal) into a real 16550 model with back-pressure.
#include "vmm/console_input.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::vmm {
namespace {

std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> out;
  for (char c : text) {
    out.push_back(static_cast<std::byte>(c));
  }
  return out;
}

std::string text_of(const std::vector<std::byte>& bytes) {
  std::string out;
  for (std::byte b : bytes) {
    out.push_back(static_cast<char>(b));
  }
  return out;
}

TEST(ConsoleEscapeTest, PlainBytesPassThrough) {
  ConsoleEscape escape;
  const auto out = escape.feed(bytes_of("ls -l\r\x03"));
  EXPECT_EQ(text_of(out.to_guest), "ls -l\r\x03");  // Ctrl-C belongs to the guest
  EXPECT_FALSE(out.quit);
}

TEST(ConsoleEscapeTest, CtrlAXQuitsAndDropsWhatFollows) {
  ConsoleEscape escape;
  const auto out = escape.feed(bytes_of("ab\x01xcd"));
  EXPECT_EQ(text_of(out.to_guest), "ab");
  EXPECT_TRUE(out.quit);
}

TEST(ConsoleEscapeTest, DoubleCtrlASendsOneAndOtherKeysSendBoth) {
  ConsoleEscape escape;
  EXPECT_EQ(text_of(escape.feed(bytes_of("\x01\x01")).to_guest), "\x01");
  EXPECT_EQ(text_of(escape.feed(bytes_of("\x01y")).to_guest), "\x01y");
}

TEST(ConsoleEscapeTest, EscapeSplitAcrossChunks) {
  ConsoleEscape escape;
  auto first = escape.feed(bytes_of("q\x01"));
  EXPECT_EQ(text_of(first.to_guest), "q");
  EXPECT_FALSE(first.quit);
  EXPECT_TRUE(escape.feed(bytes_of("x")).quit);
}

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    ::close(read_end);
    if (write_end >= 0) {
      ::close(write_end);
    }
  }
  void write(std::string_view text) const {
    ASSERT_EQ(::write(write_end, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
};

/// Reads the UART as a polling guest driver would (LSR.DR, then RBR) until `count` bytes
/// arrived or 10 s passed.
std::string guest_reads(devices::serial::Uart16550& uart, std::size_t count) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
    if ((uart.read_register(5) & 0x01) != 0) {
      got.push_back(static_cast<char>(uart.read_register(0)));
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  return got;
}

struct UartFixture {
  devices::testing::RecordingInterruptLine irq;
  devices::testing::RecordingSerialOutput output;
  devices::serial::Uart16550 uart{irq, output};
};

TEST(ConsoleInputTest, KeysReachTheGuestThroughTheReceiveFifo) {
  UartFixture f;
  Pipe pipe;
  std::atomic<int> quits{0};
  auto input = ConsoleInput::start(pipe.read_end, f.uart, [&] { ++quits; }, nullptr);
  ASSERT_TRUE(input.has_value()) << input.error().message();
  pipe.write("echo hi\r");
  EXPECT_EQ(guest_reads(f.uart, 8), "echo hi\r");
  EXPECT_EQ(quits.load(), 0);
}

TEST(ConsoleInputTest, MoreInputThanTheUartHoldsArrivesCompleteAndInOrder) {
  UartFixture f;
  Pipe pipe;
  auto input = ConsoleInput::start(pipe.read_end, f.uart, [] {}, nullptr);
  ASSERT_TRUE(input.has_value());
  std::string sent;
  for (int i = 0; sent.size() < 3 * devices::serial::Uart16550::kInputQueueCapacity; ++i) {
    sent += std::to_string(i) + ",";
  }
  // Writing more than the pipe holds would block: write from another thread.
  std::thread writer([&] { pipe.write(sent); });
  const std::string got = guest_reads(f.uart, sent.size());
  writer.join();
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

TEST(ConsoleInputTest, CtrlAXCallsQuitOnceAndEndOfInputIsHarmless) {
  UartFixture f;
  Pipe pipe;
  std::atomic<int> quits{0};
  auto input = ConsoleInput::start(pipe.read_end, f.uart, [&] { ++quits; }, nullptr);
  ASSERT_TRUE(input.has_value());
  pipe.write("ok\x01x");
  EXPECT_EQ(guest_reads(f.uart, 2), "ok");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (quits.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(quits.load(), 1);
  ::close(pipe.write_end);
  pipe.write_end = -1;
  input->reset();  // joins the thread
}

TEST(RawTerminalTest, RawModeIsLeftAsItWasFound) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(terminal, 0);
  termios before{};
  ASSERT_EQ(::tcgetattr(terminal, &before), 0);
  ASSERT_NE(before.c_lflag & ICANON, 0u);
  {
    auto raw = RawTerminal::enter(terminal);
    ASSERT_TRUE(raw.has_value()) << raw.error().message();
    termios during{};
    ASSERT_EQ(::tcgetattr(terminal, &during), 0);
    EXPECT_EQ(during.c_lflag & (ICANON | ECHO | ISIG), 0u);  // Ctrl-C goes to the guest
    EXPECT_NE(during.c_oflag & OPOST, 0u);
  }
  termios after{};
  ASSERT_EQ(::tcgetattr(terminal, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  ::close(terminal);
  ::close(master);
}

TEST(RawTerminalTest, NotATerminalIsAClearError) {
  Pipe pipe;
  auto raw = RawTerminal::enter(pipe.read_end);
  ASSERT_FALSE(raw.has_value());
  EXPECT_EQ(raw.error().message(), "tcgetattr on the console: Inappropriate ioctl for device");
}

}  // namespace
}  // namespace cvm::vmm
