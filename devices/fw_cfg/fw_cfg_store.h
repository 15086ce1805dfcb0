// SPDX-License-Identifier: Apache-2.0
// The items a QEMU-compatible fw_cfg device serves (QEMU docs/specs/fw_cfg.rst; key numbers
// from QEMU include/standard-headers/linux/qemu_fw_cfg.h). Firmware (OVMF, SeaBIOS) and Linux's
// qemu_fw_cfg driver read them; cvmm builds one immutable store per machine before the vCPUs
// run. Every item is read-only: the guest cannot change anything here. Pure; included by
// devices/fw_cfg, vmm/ and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cvm::devices::fw_cfg {

// ---- Selector keys (qemu_fw_cfg.h). Bit 15 marks architecture-specific items; bit 14 was
// the pre-2.4 "write" flag and is ignored when selecting (as QEMU's fw_cfg_select does).
inline constexpr uint16_t kKeySignature = 0x00;     // "QEMU"
inline constexpr uint16_t kKeyId = 0x01;            // LE u32 feature bitmap
inline constexpr uint16_t kKeyUuid = 0x02;
inline constexpr uint16_t kKeyRamSize = 0x03;       // LE u64
inline constexpr uint16_t kKeyNoGraphic = 0x04;
inline constexpr uint16_t kKeyNbCpus = 0x05;        // LE u16: boot CPUs (OVMF PlatformInitLib)
inline constexpr uint16_t kKeyMachineId = 0x06;
inline constexpr uint16_t kKeyKernelAddr = 0x07;
inline constexpr uint16_t kKeyKernelSize = 0x08;    // LE u32 (QemuKernelLoaderFsDxe)
inline constexpr uint16_t kKeyKernelCmdline = 0x09;
inline constexpr uint16_t kKeyInitrdAddr = 0x0a;
inline constexpr uint16_t kKeyInitrdSize = 0x0b;    // LE u32
inline constexpr uint16_t kKeyBootDevice = 0x0c;
inline constexpr uint16_t kKeyNuma = 0x0d;
inline constexpr uint16_t kKeyBootMenu = 0x0e;
inline constexpr uint16_t kKeyMaxCpus = 0x0f;       // LE u16
inline constexpr uint16_t kKeyKernelEntry = 0x10;
inline constexpr uint16_t kKeyKernelData = 0x11;
inline constexpr uint16_t kKeyInitrdData = 0x12;
inline constexpr uint16_t kKeyCmdlineAddr = 0x13;
inline constexpr uint16_t kKeyCmdlineSize = 0x14;   // LE u32, includes the NUL
inline constexpr uint16_t kKeyCmdlineData = 0x15;
inline constexpr uint16_t kKeySetupAddr = 0x16;
inline constexpr uint16_t kKeySetupSize = 0x17;     // LE u32
inline constexpr uint16_t kKeySetupData = 0x18;
inline constexpr uint16_t kKeyFileDir = 0x19;       // the file directory, below
inline constexpr uint16_t kKeyFileFirst = 0x20;     // first key of a named file
inline constexpr uint16_t kKeyArchLocal = 0x8000;
inline constexpr uint16_t kKeyWriteFlag = 0x4000;
inline constexpr uint16_t kKeyEntryMask = 0x3fff;

/// FW_CFG_ID bits (fw_cfg.rst "Revision / feature bitmap").
inline constexpr uint32_t kIdTraditional = 0x1;
inline constexpr uint32_t kIdDma = 0x2;

/// File directory (key 0x19): BE u32 count, then `count` entries of 64 bytes:
///   size BE u32 @0, select BE u16 @4, reserved u16 @6, name[56] @8 (NUL-terminated ASCII).
inline constexpr std::size_t kFileDirEntrySize = 64;
inline constexpr std::size_t kFileNameSize = 56;
inline constexpr std::size_t kMaxFileNameLength = kFileNameSize - 1;
inline constexpr std::size_t kMaxFiles = kKeyEntryMask + 1 - kKeyFileFirst;

/// Read-only bytes of one item. Large items (kernel, initrd) share their owner's buffer, so
/// serving a kernel split into setup and payload copies nothing.
class FwCfgBytes final {
 public:
  FwCfgBytes() = default;
  /// Takes ownership of `bytes`.
  explicit FwCfgBytes(std::vector<std::byte> bytes);
  /// [offset, offset + size) of `owner`. Errors: kInvalidArgument if the range is not inside.
  [[nodiscard]] static Result<FwCfgBytes> slice(std::shared_ptr<const std::vector<std::byte>> owner,
                                                std::size_t offset, std::size_t size);

  std::span<const std::byte> span() const noexcept;
  std::size_t size() const noexcept { return size_; }

 private:
  std::shared_ptr<const std::vector<std::byte>> owner_;
  std::size_t offset_ = 0;
  std::size_t size_ = 0;
};

/// The immutable item set: numbered items, the signature, the ID and the file directory.
class FwCfgStore final {
 public:
  /// The bytes of the item `key` selects (bit 14 ignored), or nullptr for an unknown key.
  const FwCfgBytes* find(uint16_t key) const noexcept;
  /// Whether the ID item advertises the DMA interface.
  bool dma_enabled() const noexcept { return dma_; }
  /// Every key, ascending (tests and diagnostics).
  std::vector<uint16_t> keys() const;

 private:
  friend class FwCfgStoreBuilder;
  std::map<uint16_t, FwCfgBytes> items_;
  bool dma_ = true;
};

/// Collects items and files and lays them out as QEMU does: files sorted by name (strcmp
/// order, QEMU's fw_cfg_add_file_callback for non-legacy machine types), keys assigned from
/// 0x20 in that order, the directory at 0x19.
class FwCfgStoreBuilder final {
 public:
  /// A numbered item. Errors: kInvalidArgument for the signature, ID or directory keys, a key
  /// at or above 0x20 without bit 15 (those are files), or a key added twice.
  [[nodiscard]] Result<void> add_item(uint16_t key, FwCfgBytes bytes);
  /// A named file. Errors: kInvalidArgument when the name is empty, longer than 55 bytes,
  /// contains a NUL, or was added before; or the item is 4 GiB or larger (the directory holds
  /// a u32 size).
  [[nodiscard]] Result<void> add_file(std::string_view name, FwCfgBytes bytes);
  /// The store; `dma` sets ID bit 1. Errors: kInvalidArgument with more than kMaxFiles files.
  [[nodiscard]] Result<FwCfgStore> build(bool dma = true) &&;

 private:
  std::map<uint16_t, FwCfgBytes> items_;
  std::map<std::string, FwCfgBytes, std::less<>> files_;  // std::string compares like strcmp
};

/// Little-endian encodings of the fixed-size numbered items.
FwCfgBytes le16_item(uint16_t value);
FwCfgBytes le32_item(uint32_t value);
FwCfgBytes le64_item(uint64_t value);

}  // namespace cvm::devices::fw_cfg
