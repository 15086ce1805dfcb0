// SPDX-License-Identifier: Apache-2.0
#include "devices/firmware_rom/firmware_rom.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace cvm::devices::firmware_rom {

void log_info_to_stderr(std::string_view line) { fmt::print(stderr, "cvmm: info: {}\n", line); }

FirmwareRom::FirmwareRom(std::shared_ptr<const void> owner, std::span<const std::byte> contents,
                         uint64_t size, std::string description, InfoLog log)
    : owner_(std::move(owner)),
      // A caller's contents longer than the window are cut to it, so reads stay inside both.
      contents_(contents.first(std::min<uint64_t>(contents.size(), size))),
      size_(size),
      description_(std::move(description)),
      log_(std::move(log)) {}

void FirmwareRom::read(uint64_t offset, std::span<std::byte> data) {
  std::fill(data.begin(), data.end(), std::byte{0});
  // Bounds: the Bus keeps [offset, offset + data.size()) inside the window; the checks below
  // hold even without it, as offset may be anything a caller passes.
  if (offset >= contents_.size()) {
    return;
  }
  const std::size_t available = contents_.size() - static_cast<std::size_t>(offset);
  const std::size_t count = std::min(available, data.size());
  std::copy_n(contents_.begin() + static_cast<std::ptrdiff_t>(offset), count, data.begin());
}

void FirmwareRom::write(uint64_t, std::span<const std::byte>) {
  discarded_writes_.fetch_add(1, std::memory_order_relaxed);
  if (logged_.exchange(true, std::memory_order_relaxed)) {
    return;
  }
  if (log_) {
    log_(fmt::format("{} is read-only: guest writes are discarded, so UEFI variable writes "
                     "are not persisted under a TEE",
                     description_));
  }
}

}  // namespace cvm::devices::firmware_rom
