// SPDX-License-Identifier: Apache-2.0
#include "devices/legacy/i8042.h"

#include "base/rate_limited_log.h"

namespace cvm::devices::legacy {
namespace {

constexpr uint64_t kDataOffset = 0;           // port 0x60
constexpr uint64_t kPortBOffset = 1;          // port 0x61
constexpr uint64_t kStatusCommandOffset = 4;  // port 0x64

constexpr uint8_t kCtrSystemFlag = 0x04;
constexpr uint8_t kCtrKbdDisabled = 0x10;
constexpr uint8_t kCtrAuxDisabled = 0x20;
constexpr uint8_t kOutputPortReset = 0x01;  // active low: 0 holds the CPU in reset

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
constexpr uint8_t kPulseCommandFirst = 0xf0;

}  // namespace

void I8042::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = std::byte{read_port(offset + i)};
  }
}

void I8042::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    write_port(offset + i, static_cast<uint8_t>(data[i]));
  }
}

uint8_t I8042::read_port(uint64_t offset) {
  switch (offset) {
    case kDataOffset:
      output_full_ = false;
      return output_buffer_;
    case kStatusCommandOffset: {
      uint8_t status = kI8042StatusUnlocked;
      status |= output_full_ ? kI8042StatusOutputFull : 0;
      status |= (ctr_ & kCtrSystemFlag) != 0 ? kI8042StatusSystemFlag : 0;
      status |= last_write_was_command_ ? kI8042StatusCommand : 0;
      return status;
    }
    case kPortBOffset:
    default:
      return 0;
  }
}

void I8042::write_port(uint64_t offset, uint8_t value) {
  switch (offset) {
    case kDataOffset:
      last_write_was_command_ = false;
      write_data(value);
      return;
    case kStatusCommandOffset:
      last_write_was_command_ = true;
      write_command(value);
      return;
    case kPortBOffset:
    default:
      return;
  }
}

void I8042::write_command(uint8_t command) {
  pending_command_ = 0;
  switch (command) {
    case kI8042CmdReadCtr:
      respond(ctr_);
      return;
    case kI8042CmdWriteCtr:
    case kI8042CmdWriteOutputPort:
      pending_command_ = command;
      return;
    case kI8042CmdAuxDisable:
      ctr_ |= kCtrAuxDisabled;
      return;
    case kI8042CmdAuxEnable:
      ctr_ = static_cast<uint8_t>(ctr_ & ~kCtrAuxDisabled);
      return;
    case kI8042CmdAuxTest:
    case kI8042CmdKbdTest:
      respond(kInterfaceTestPassed);
      return;
    case kI8042CmdSelfTest:
      ctr_ |= kCtrSystemFlag;
      respond(kSelfTestPassed);
      return;
    case kI8042CmdKbdDisable:
      ctr_ |= kCtrKbdDisabled;
      return;
    case kI8042CmdKbdEnable:
      ctr_ = static_cast<uint8_t>(ctr_ & ~kCtrKbdDisabled);
      return;
    case kI8042CmdReadOutputPort:
      respond(output_port_);
      return;
    default:
      break;
  }
  // 0xF0-0xFF pulse the output-port bits whose command bit is 0; bit 0 is the reset line.
  if (command >= kPulseCommandFirst) {
    if ((command & kOutputPortReset) == 0) {
      sink_.request(PowerRequest::kReset);
    }
    return;
  }
  CVM_LOG_RATE_LIMITED(5, "i8042: ignoring unsupported command {:#04x}", command);
}

void I8042::write_data(uint8_t value) {
  const uint8_t command = pending_command_;
  pending_command_ = 0;
  switch (command) {
    case kI8042CmdWriteCtr:
      ctr_ = value;
      return;
    case kI8042CmdWriteOutputPort:
      output_port_ = value;
      if ((value & kOutputPortReset) == 0) {
        sink_.request(PowerRequest::kReset);
      }
      return;
    default:
      // A byte for the keyboard itself: no keyboard is attached.
      return;
  }
}

void I8042::respond(uint8_t value) {
  output_buffer_ = value;
  output_full_ = true;
}

}  // namespace cvm::devices::legacy
