// SPDX-License-Identifier: Apache-2.0
#include "devices/serial/uart_16550.h"

#include <algorithm>

#include "base/rate_limited_log.h"

namespace cvm::devices::serial {
namespace {

// Register offsets (PC16550D Table II). Offsets 0 and 1 are the divisor latch when LCR.DLAB.
constexpr uint64_t kRbrThrDll = 0;
constexpr uint64_t kIerDlm = 1;
constexpr uint64_t kIirFcr = 2;
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

// IER bits.
constexpr uint8_t kIerRxAvailable = 0x01;   // ERBFI
constexpr uint8_t kIerThrEmpty = 0x02;      // ETBEI
constexpr uint8_t kIerLineStatus = 0x04;    // ELSI
constexpr uint8_t kIerModemStatus = 0x08;   // EDSSI
constexpr uint8_t kIerImplemented = 0x0f;   // bits 7:4 read as 0 (Linux's UUE probe needs it)

// IIR interrupt identification, bits 3:0, in priority order; bits 7:6 = 11 with FIFOs on.
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirRxAvailable = 0x04;
constexpr uint8_t kIirCharTimeout = 0x0c;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirFifoEnabled = 0xc0;

// FCR bits. Bit 5 (64-byte FIFO of the 16750) is ignored: this is a 16550A.
constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kFcrTriggerShift = 6;

constexpr uint8_t kLcrDlab = 0x80;

// MCR bits.
constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrImplemented = 0x1f;

// LSR bits.
constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTransmitterEmpty = 0x40;

// MSR bits: 7:4 line state, 3:0 deltas (bit 2 is "trailing edge of RI").
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
constexpr uint8_t kMsrTrailingEdgeRi = 0x04;
constexpr uint8_t kMsrConnected = kMsrDcd | kMsrDsr | kMsrCts;

// Receive trigger levels selected by FCR bits 7:6 (PC16550D, FCR description).
constexpr std::size_t kTriggerLevels[4] = {1, 4, 8, 14};

}  // namespace

void Uart16550::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = std::byte{read_locked(offset + i)};
  }
  update_interrupt();
}

void Uart16550::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    write_locked(offset + i, static_cast<uint8_t>(data[i]));
  }
  update_interrupt();
}

uint8_t Uart16550::read_register(uint64_t offset) {
  std::lock_guard lock(mutex_);
  const uint8_t value = read_locked(offset);
  update_interrupt();
  return value;
}

void Uart16550::write_register(uint64_t offset, uint8_t value) {
  std::lock_guard lock(mutex_);
  write_locked(offset, value);
  update_interrupt();
}

std::size_t Uart16550::feed_input(std::span<const std::byte> bytes) {
  std::lock_guard lock(mutex_);
  const std::size_t accepted =
      std::min(bytes.size(), kInputQueueCapacity - host_input_.size());
  for (std::size_t i = 0; i < accepted; ++i) {
    host_input_.push_back(static_cast<uint8_t>(bytes[i]));
  }
  if (accepted < bytes.size()) {
    input_blocked_ = true;
  }
  refill_receive_fifo();
  update_interrupt();
  return accepted;
}

std::size_t Uart16550::input_room() const {
  std::lock_guard lock(mutex_);
  return kInputQueueCapacity - host_input_.size();
}

void Uart16550::set_input_room_notifier(std::function<void()> notifier) {
  std::lock_guard lock(mutex_);
  input_room_notifier_ = std::move(notifier);
}

bool Uart16550::interrupt_asserted() const {
  std::lock_guard lock(mutex_);
  return interrupt_asserted_;
}

uint8_t Uart16550::read_locked(uint64_t offset) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kRbrThrDll:
      return dlab ? static_cast<uint8_t>(divisor_ & 0xff) : receive();
    case kIerDlm:
      return dlab ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
    case kIirFcr:
      return read_iir();
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      return read_lsr();
    case kMsr:
      return read_msr();
    case kScr:
      return scr_;
    default:
      CVM_LOG_RATE_LIMITED(5, "uart: read of offset {:#x} outside the register window", offset);
      return 0xff;
  }
}

void Uart16550::write_locked(uint64_t offset, uint8_t value) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kRbrThrDll:
      if (dlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xff00) | value);
      } else {
        transmit(value);
      }
      return;
    case kIerDlm:
      if (dlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0x00ff) | (value << 8));
      } else {
        write_ier(value);
      }
      return;
    case kIirFcr:
      write_fcr(value);
      return;
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      write_mcr(value);
      return;
    case kLsr:
      // LSR is read-only (writes are a factory-test feature); MSR likewise.
    case kMsr:
      return;
    case kScr:
      scr_ = value;
      return;
    default:
      CVM_LOG_RATE_LIMITED(5, "uart: write of {:#04x} to offset {:#x} outside the window", value,
                           offset);
      return;
  }
}

void Uart16550::write_ier(uint8_t value) {
  const uint8_t old = ier_;
  ier_ = value & kIerImplemented;
  // The transmitter is always idle here, so enabling ETBEI raises a THRE interrupt at once;
  // Linux's UART_BUG_THRE and UART_BUG_TXEN startup tests rely on that.
  if ((ier_ & kIerThrEmpty) != 0 && (old & kIerThrEmpty) == 0) {
    thr_interrupt_pending_ = true;
  }
}

void Uart16550::write_fcr(uint8_t value) {
  // Toggling the FIFO enable bit clears both FIFOs (PC16550D, FCR bit 0).
  if (((value ^ fcr_) & kFcrEnable) != 0 || (value & kFcrClearRx) != 0) {
    receive_fifo_.clear();
  }
  // The transmit FIFO is always empty (instant transmission), so "clear XMIT" has no effect.
  fcr_ = value & static_cast<uint8_t>(kFcrEnable | 0xc0);
  refill_receive_fifo();
}

void Uart16550::write_mcr(uint8_t value) {
  mcr_ = value & kMcrImplemented;
  const uint8_t inputs = modem_status_inputs();
  const uint8_t changed = inputs ^ msr_inputs_;
  // Delta bits 0, 1, 3 flag any change of CTS, DSR, DCD; bit 2 only RI going inactive.
  msr_deltas_ |= static_cast<uint8_t>((changed & (kMsrCts | kMsrDsr | kMsrDcd)) >> 4);
  if ((changed & kMsrRi) != 0 && (inputs & kMsrRi) == 0) {
    msr_deltas_ |= kMsrTrailingEdgeRi;
  }
  msr_inputs_ = inputs;
  refill_receive_fifo();
}

void Uart16550::transmit(uint8_t value) {
  if (loopback()) {
    if (receive_fifo_.size() < receive_capacity()) {
      receive_fifo_.push_back(value);
    } else {
      lsr_errors_ |= kLsrOverrun;
    }
  } else {
    const std::byte byte{value};
    output_.write(std::span<const std::byte>(&byte, 1));
  }
  // The character left THR at once: THR is empty again.
  thr_interrupt_pending_ = true;
}

uint8_t Uart16550::receive() {
  if (receive_fifo_.empty()) {
    return 0;
  }
  const uint8_t value = receive_fifo_.front();
  receive_fifo_.pop_front();
  refill_receive_fifo();
  return value;
}

uint8_t Uart16550::read_iir() {
  const uint8_t id = pending_interrupt_id();
  // Reading IIR while it reports THRE clears that source (PC16550D Table IV).
  if (id == kIirThrEmpty) {
    thr_interrupt_pending_ = false;
  }
  return static_cast<uint8_t>(id | (fifo_enabled() ? kIirFifoEnabled : 0));
}

uint8_t Uart16550::read_lsr() {
  uint8_t value = kLsrThrEmpty | kLsrTransmitterEmpty | lsr_errors_;
  if (!receive_fifo_.empty()) {
    value |= kLsrDataReady;
  }
  lsr_errors_ = 0;
  return value;
}

uint8_t Uart16550::read_msr() {
  const uint8_t value = static_cast<uint8_t>(msr_inputs_ | msr_deltas_);
  msr_deltas_ = 0;
  return value;
}

uint8_t Uart16550::modem_status_inputs() const {
  if (!loopback()) {
    return kMsrConnected;
  }
  // Loopback wiring (PC16550D, MCR bit 4): RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
  uint8_t inputs = 0;
  inputs |= (mcr_ & kMcrRts) != 0 ? kMsrCts : 0;
  inputs |= (mcr_ & kMcrDtr) != 0 ? kMsrDsr : 0;
  inputs |= (mcr_ & kMcrOut1) != 0 ? kMsrRi : 0;
  inputs |= (mcr_ & kMcrOut2) != 0 ? kMsrDcd : 0;
  return inputs;
}

uint8_t Uart16550::pending_interrupt_id() const {
  if ((ier_ & kIerLineStatus) != 0 && lsr_errors_ != 0) {
    return kIirLineStatus;
  }
  if ((ier_ & kIerRxAvailable) != 0 && !receive_fifo_.empty()) {
    const bool below_trigger = fifo_enabled() && receive_fifo_.size() < trigger_level();
    return below_trigger ? kIirCharTimeout : kIirRxAvailable;
  }
  if ((ier_ & kIerThrEmpty) != 0 && thr_interrupt_pending_) {
    return kIirThrEmpty;
  }
  if ((ier_ & kIerModemStatus) != 0 && msr_deltas_ != 0) {
    return kIirModemStatus;
  }
  return kIirNoInterrupt;
}

bool Uart16550::fifo_enabled() const { return (fcr_ & kFcrEnable) != 0; }

std::size_t Uart16550::receive_capacity() const { return fifo_enabled() ? kFifoSize : 1; }

std::size_t Uart16550::trigger_level() const { return kTriggerLevels[fcr_ >> kFcrTriggerShift]; }

bool Uart16550::loopback() const { return (mcr_ & kMcrLoop) != 0; }

void Uart16550::refill_receive_fifo() {
  if (loopback()) {
    return;
  }
  while (!host_input_.empty() && receive_fifo_.size() < receive_capacity()) {
    receive_fifo_.push_back(host_input_.front());
    host_input_.pop_front();
  }
  if (input_blocked_ && host_input_.size() <= kInputQueueCapacity / 2) {
    input_blocked_ = false;
    if (input_room_notifier_) {
      input_room_notifier_();
    }
  }
}

void Uart16550::update_interrupt() {
  const bool gate_open = (mcr_ & kMcrOut2) != 0 && !loopback();
  const bool asserted = gate_open && pending_interrupt_id() != kIirNoInterrupt;
  if (asserted == interrupt_asserted_) {
    return;
  }
  interrupt_asserted_ = asserted;
  interrupt_.set_level(asserted);
}

}  // namespace cvm::devices::serial
