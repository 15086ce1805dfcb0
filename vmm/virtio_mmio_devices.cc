// SPDX-License-Identifier: Apache-2.0
#include "vmm/virtio_mmio_devices.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "base/event_fd.h"

namespace cvm::vmm {
namespace {

namespace virtio = devices::virtio;

/// epoll token of the stop eventfd; queue tokens are (device index << 16) | queue index.
constexpr uint64_t kStopToken = ~uint64_t{0};

uint64_t queue_token(std::size_t device, uint16_t queue) {
  return (static_cast<uint64_t>(device) << 16) | queue;
}

}  // namespace

Result<std::unique_ptr<IrqfdLine>> IrqfdLine::create(const kvm::Vm& vm, uint32_t gsi) {
  CVM_ASSIGN_OR_RETURN(UniqueFd event, make_eventfd(fmt::format("irqfd of gsi {}", gsi)));
  CVM_TRY(vm.irqfd(event.get(), gsi));
  return std::unique_ptr<IrqfdLine>(new IrqfdLine(std::move(event)));
}

void IrqfdLine::trigger() {
  // The counter saturates only after 2^64-2 unconsumed signals; KVM consumes each at once.
  signal_eventfd(event_.get());
}

void IrqfdLine::set_level(bool asserted) {
  if (asserted) {
    trigger();
  }
}

Result<std::unique_ptr<VirtioMmioDevices>> VirtioMmioDevices::create(
    const kvm::Vm& vm, GuestMemoryView& memory, devices::Bus& mmio_bus,
    std::vector<std::unique_ptr<virtio::VirtioDevice>> devices) {
  if (devices.size() > x86::kVirtioMmioMaxSlots) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} virtio devices requested; this machine has {} virtio-mmio slots",
                      devices.size(), x86::kVirtioMmioMaxSlots);
  }
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) {
    return errno_error(ErrorCode::kIo, "epoll_create1 for virtio notifications", errno);
  }
  CVM_ASSIGN_OR_RETURN(UniqueFd stop, make_eventfd("the virtio notifier stop signal"));
  std::unique_ptr<VirtioMmioDevices> set(new VirtioMmioDevices(std::move(epoll), std::move(stop)));
  CVM_TRY(set->watch(set->stop_event_.get(), kStopToken));
  for (auto& device : devices) {
    CVM_TRY(set->wire(vm, memory, mmio_bus, std::move(device)));
  }
  return set;
}

Result<void> VirtioMmioDevices::wire(const kvm::Vm& vm, GuestMemoryView& memory,
                                     devices::Bus& mmio_bus,
                                     std::unique_ptr<virtio::VirtioDevice> device) {
  const std::size_t index = wired_.size();
  CVM_ASSIGN_OR_RETURN(const x86::VirtioMmioSlot slot,
                       x86::virtio_mmio_slot(static_cast<uint32_t>(index)));
  Wired wired{slot, std::move(device), nullptr, nullptr, {}};
  CVM_ASSIGN_OR_RETURN(wired.irq, IrqfdLine::create(vm, slot.irq));
  wired.transport = std::make_shared<virtio::MmioTransport>(
      *wired.device, memory, *wired.irq, virtio::MmioTransport::Hooks{},
      virtio::MmioTransport::Options{});
  CVM_TRY(mmio_bus.insert(wired.transport, slot.base, slot.size));
  const uint16_t queues = wired.transport->num_queues();
  for (uint16_t queue = 0; queue < queues; ++queue) {
    CVM_ASSIGN_OR_RETURN(UniqueFd event,
                         make_eventfd(fmt::format("virtio-mmio {:#x} queue {}", slot.base, queue)));
    kvm::IoEventFdSpec spec;
    spec.addr = slot.base + virtio::MmioTransport::queue_notify_offset();
    spec.len = 4;
    spec.datamatch = queue;
    spec.event_fd = event.get();
    CVM_TRY(vm.ioeventfd(spec));
    // A device with its own event loop waits on the eventfd itself (one wake-up per guest
    // kick instead of two); otherwise the notifier thread calls process_queue().
    UniqueFd own(::fcntl(event.get(), F_DUPFD_CLOEXEC, 0));
    if (!own.valid()) {
      return errno_error(ErrorCode::kIo, "dup of a virtio notification eventfd", errno);
    }
    if (!wired.device->adopt_queue_notifier(queue, std::move(own))) {
      CVM_TRY(watch(event.get(), queue_token(index, queue)));
    }
    wired.queue_events.push_back(std::move(event));
  }
  wired_.push_back(std::move(wired));
  return ok();
}

Result<void> VirtioMmioDevices::watch(int fd, uint64_t token) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = token;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return errno_error(ErrorCode::kIo, "epoll_ctl for a virtio notification eventfd", errno);
  }
  return ok();
}

Result<void> VirtioMmioDevices::start() {
  if (notifier_.joinable() || wired_.empty()) {
    return ok();
  }
  try {
    notifier_ = std::thread([this] { notifier_main(); });
  } catch (const std::system_error& e) {
    return make_error(ErrorCode::kIo, "starting the virtio notifier thread: {}", e.what());
  }
  ::pthread_setname_np(notifier_.native_handle(), "virtio-notify");
  return ok();
}

void VirtioMmioDevices::notifier_main() noexcept {
  std::array<epoll_event, 16> events{};
  for (;;) {
    const int ready = ::epoll_wait(epoll_.get(), events.data(), events.size(), -1);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::fprintf(stderr, "cvmm: virtio notifier: epoll_wait: %s\n",
                   std::generic_category().message(errno).c_str());
      return;
    }
    for (int i = 0; i < ready; ++i) {
      const uint64_t token = events[i].data.u64;
      if (token == kStopToken) {
        return;
      }
      const std::size_t device = token >> 16;
      const auto queue = static_cast<uint16_t>(token & 0xffff);
      Wired& wired = wired_[device];
      if (drain_eventfd(wired.queue_events[queue].get())) {
        wired.transport->notify_queue(queue);
      }
    }
  }
}

VirtioMmioDevices::~VirtioMmioDevices() {
  if (notifier_.joinable()) {
    signal_eventfd(stop_event_.get());
    notifier_.join();
  }
  // Quiesce every device before its transport, irqfd and the guest memory view go away.
  for (Wired& wired : wired_) {
    wired.device->reset();
  }
}

std::vector<x86::VirtioMmioSlot> VirtioMmioDevices::slots() const {
  std::vector<x86::VirtioMmioSlot> result;
  for (const Wired& wired : wired_) {
    result.push_back(wired.slot);
  }
  return result;
}

}  // namespace cvm::vmm
