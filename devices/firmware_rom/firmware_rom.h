// SPDX-License-Identifier: Apache-2.0
// The firmware image of a confidential guest as a read-only device on the MMIO bus.
//
// Under SEV-ES and SEV-SNP, OVMF's QemuFlashDetected() (OvmfPkg/QemuFlashFvbServicesRuntimeDxe/
// QemuFlash.c) skips its CFI probe and reports the image as flash ("SEV-ES enabled, assuming FD
// behaves as FLASH"); QemuFlashPtrWrite() (QemuFlashDxe.c) then sends every CFI command and data
// byte of a UEFI variable write as a one-byte VMGEXIT MMIO write (SVM_EXIT_MMIO_WRITE) to the
// image's guest-physical address, which KVM hands to the VMM as KVM_EXIT_MMIO. The guest's own
// reads of the image come from its (private) memory and never reach this device.
//
// What cvmm does with them is what QEMU does with `-bios`, the only firmware form it offers for
// SNP: the image is ROM, writes are dropped, so variables are not persisted. A host-kept
// variable store would be untrusted input to the guest anyway. vmm/x86/FIRMWARE-PLATFORM.md
// item 9 has the details. Included by vmm/ and tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "devices/bus.h"

namespace cvm::devices::firmware_rom {

/// Receives the one informational line a FirmwareRom logs (on the vCPU thread of the first
/// write). The default writes it to stderr as "cvmm: info: <line>".
using InfoLog = std::function<void(std::string_view line)>;

/// The default InfoLog.
void log_info_to_stderr(std::string_view line);

/// A window of `size` bytes that reads as `contents` followed by zeros and ignores writes.
///
/// Reads: offset i < contents.size() returns contents[i]; anything else reads 0 (the zero fill
/// of a launch-plan range). Writes: dropped and counted; the first one logs a single line
/// saying UEFI variable writes are not persisted under a TEE.
/// Thread-safety: the contents are immutable and the counters atomic, so vCPU threads call
/// read()/write() concurrently without a lock. `owner` keeps `contents` alive (the machine's
/// shared, read-only firmware bytes); it may be null when the caller guarantees the lifetime.
class FirmwareRom final : public BusDevice {
 public:
  FirmwareRom(std::shared_ptr<const void> owner, std::span<const std::byte> contents,
              uint64_t size, std::string description, InfoLog log = log_info_to_stderr);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  uint64_t size() const noexcept { return size_; }
  /// Guest writes dropped so far (one per access, whatever its width).
  uint64_t discarded_writes() const noexcept { return discarded_writes_.load(); }

 private:
  const std::shared_ptr<const void> owner_;
  const std::span<const std::byte> contents_;
  const uint64_t size_;
  const std::string description_;  // names the window in the log line, e.g. its GPA range
  const InfoLog log_;
  std::atomic<uint64_t> discarded_writes_{0};
  std::atomic<bool> logged_{false};
};

}  // namespace cvm::devices::firmware_rom
