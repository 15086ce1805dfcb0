// SPDX-License-Identifier: Apache-2.0
#include "vmm/console_input.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "base/event_fd.h"

namespace cvm::vmm {
namespace {

}  // namespace

ConsoleEscape::Output ConsoleEscape::feed(std::span<const std::byte> input) {
  Output out;
  for (const std::byte byte : input) {
    if (!escape_pending_) {
      if (byte == kConsoleEscape) {
        escape_pending_ = true;
      } else {
        out.to_guest.push_back(byte);
      }
      continue;
    }
    escape_pending_ = false;
    if (byte == kConsoleQuit) {
      out.quit = true;
      return out;
    }
    out.to_guest.push_back(kConsoleEscape);
    if (byte != kConsoleEscape) {
      out.to_guest.push_back(byte);
    }
  }
  return out;
}

Result<std::unique_ptr<RawTerminal>> RawTerminal::enter(int fd) {
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) {
    return errno_error(ErrorCode::kIo, "tcgetattr on the console", errno);
  }
  termios raw = saved;
  ::cfmakeraw(&raw);
  // cfmakeraw clears OPOST; keep output processing so the guest's "\n" still returns the
  // cursor when cvmm itself prints to the same terminal (stderr shares it).
  raw.c_oflag |= OPOST;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(fd, TCSANOW, &raw) != 0) {
    return errno_error(ErrorCode::kIo, "tcsetattr (raw mode) on the console", errno);
  }
  return std::unique_ptr<RawTerminal>(new RawTerminal(fd, saved));
}

RawTerminal::~RawTerminal() { ::tcsetattr(fd_, TCSANOW, &saved_); }

ConsoleInput::ConsoleInput(int fd, devices::serial::Uart16550& uart, std::function<void()> on_quit,
                           std::unique_ptr<RawTerminal> raw, UniqueFd stop, UniqueFd room) noexcept
    : fd_(fd),
      uart_(uart),
      on_quit_(std::move(on_quit)),
      raw_(std::move(raw)),
      stop_(std::move(stop)),
      room_(std::move(room)) {}

Result<std::unique_ptr<ConsoleInput>> ConsoleInput::start(int fd,
                                                          devices::serial::Uart16550& uart,
                                                          std::function<void()> on_quit,
                                                          std::unique_ptr<RawTerminal> raw) {
  CVM_ASSIGN_OR_RETURN(UniqueFd stop, make_eventfd("the console input thread"));
  CVM_ASSIGN_OR_RETURN(UniqueFd room, make_eventfd("the console input thread"));
  std::unique_ptr<ConsoleInput> input(new ConsoleInput(fd, uart, std::move(on_quit),
                                                       std::move(raw), std::move(stop),
                                                       std::move(room)));
  const int room_fd = input->room_.get();
  uart.set_input_room_notifier([room_fd] { signal_eventfd(room_fd); });
  try {
    input->thread_ = std::thread([raw_input = input.get()] { raw_input->thread_main(); });
  } catch (const std::system_error& e) {
    uart.set_input_room_notifier(nullptr);
    return make_error(ErrorCode::kIo, "starting the console input thread: {}", e.what());
  }
  ::pthread_setname_np(input->thread_.native_handle(), "console-in");
  return input;
}

ConsoleInput::~ConsoleInput() {
  signal_eventfd(stop_.get());
  if (thread_.joinable()) {
    thread_.join();
  }
  uart_.set_input_room_notifier(nullptr);
}

bool ConsoleInput::deliver_pending() {
  const std::size_t taken = uart_.feed_input(pending_);
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
  return pending_.empty();
}

void ConsoleInput::thread_main() noexcept {
  bool input_open = true;
  std::array<std::byte, 256> buffer{};
  for (;;) {
    // Read the terminal only while the UART can take what we read: back-pressure instead of
    // an unbounded host buffer.
    const bool want_input = input_open && pending_.empty();
    std::array<pollfd, 3> fds{{{stop_.get(), POLLIN, 0},
                               {room_.get(), POLLIN, 0},
                               {want_input ? fd_ : -1, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[0].revents != 0) {
      return;
    }
    if (fds[1].revents != 0) {
      drain_eventfd(room_.get());
      deliver_pending();
    }
    if (fds[2].revents == 0) {
      continue;
    }
    const ssize_t got = ::read(fd_, buffer.data(), buffer.size());
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (got <= 0) {
      input_open = false;  // end of input (or a dead terminal): the guest keeps running
      continue;
    }
    ConsoleEscape::Output out = escape_.feed(std::span(buffer).first(static_cast<std::size_t>(got)));
    pending_.insert(pending_.end(), out.to_guest.begin(), out.to_guest.end());
    deliver_pending();
    if (out.quit) {
      on_quit_();
      input_open = false;
    }
  }
}

}  // namespace cvm::vmm
