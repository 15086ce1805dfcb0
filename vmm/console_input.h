// SPDX-License-Identifier: Apache-2.0
// Console input for `--serial tty`: when stdin is a terminal, cvmm puts it in raw mode and
// forwards every key to COM1's receive path, as QEMU's -nographic does. Because Ctrl-C then
// belongs to the guest, the QEMU escape convention applies: Ctrl-A x ends the VM (exit status
// 0), Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A followed by anything else sends both bytes.
//
// ConsoleEscape is the pure escape state machine; RawTerminal restores the terminal's previous
// settings on destruction (also when the VM stops on a signal, since SIGINT/SIGTERM are
// handled through a signalfd and unwind normally); ConsoleInput is the "console-in" thread.
#pragma once

#include <termios.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "devices/serial/uart_16550.h"

namespace cvm::vmm {

/// Byte that starts an escape sequence (Ctrl-A, as in QEMU and screen).
inline constexpr std::byte kConsoleEscape{0x01};
/// After the escape byte: quit.
inline constexpr std::byte kConsoleQuit{'x'};

class ConsoleEscape {
 public:
  struct Output {
    std::vector<std::byte> to_guest;
    bool quit = false;  // Ctrl-A x seen; bytes after it are dropped
  };
  /// Filters one chunk of terminal input. An escape byte at the end of a chunk is held until
  /// the next chunk decides what it means.
  Output feed(std::span<const std::byte> input);

 private:
  bool escape_pending_ = false;
};

/// A terminal in raw mode (no echo, no line editing, no signals, 8-bit clean) until destroyed.
class RawTerminal final {
 public:
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal();

  /// Switches `fd` (a terminal) to raw mode. Errors: kIo naming tcgetattr/tcsetattr.
  [[nodiscard]] static Result<std::unique_ptr<RawTerminal>> enter(int fd);

 private:
  RawTerminal(int fd, const termios& saved) noexcept : fd_(fd), saved_(saved) {}
  int fd_;
  termios saved_;
};

class ConsoleInput final {
 public:
  ConsoleInput(const ConsoleInput&) = delete;
  ConsoleInput& operator=(const ConsoleInput&) = delete;
  /// Stops and joins the thread (input not yet delivered is dropped), then restores the
  /// terminal.
  ~ConsoleInput();

  /// Starts forwarding `fd` to `uart`. `raw` (may be null, e.g. in tests on a pipe) is kept
  /// until destruction. `on_quit` runs on the console thread after Ctrl-A x. `uart` must
  /// outlive the result. Errors: kIo for the eventfds or the thread.
  [[nodiscard]] static Result<std::unique_ptr<ConsoleInput>> start(
      int fd, devices::serial::Uart16550& uart, std::function<void()> on_quit,
      std::unique_ptr<RawTerminal> raw);

 private:
  ConsoleInput(int fd, devices::serial::Uart16550& uart, std::function<void()> on_quit,
               std::unique_ptr<RawTerminal> raw, UniqueFd stop, UniqueFd room) noexcept;
  void thread_main() noexcept;
  /// Offers pending_ to the UART; true when all of it was taken.
  bool deliver_pending();

  int fd_;
  devices::serial::Uart16550& uart_;
  std::function<void()> on_quit_;
  std::unique_ptr<RawTerminal> raw_;
  UniqueFd stop_;  // eventfd: destruction
  UniqueFd room_;  // eventfd: the UART's host queue has room again
  ConsoleEscape escape_;
  std::vector<std::byte> pending_;  // filtered input the UART could not take yet
  std::thread thread_;
};

}  // namespace cvm::vmm
